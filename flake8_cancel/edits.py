"""Edit primitives and the fix builders that several rules share.

A rule's fix builder returns a :class:`Fix`: edits keyed by an original node, each a function
that rebuilds that node from its *updated* version (``updated.with_changes(...)``), plus any
module to import. Builders never edit the tree; the fixer (fixer.py) applies what they return.
"""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Optional, Sequence, Tuple

import libcst as cst

from flake8_cancel.fix_safety import doubts, inert
from flake8_cancel.flow import Exit
from flake8_cancel.names import Bindings, Vocabulary
from flake8_cancel.sites import HandlerSite
from flake8_cancel.syntax import descendants, statements

JUMPS = frozenset({Exit.RETURN, Exit.BREAK, Exit.CONTINUE})

Rebuild = Callable[["cst.CSTNode"], "cst.CSTNode"]  # strings: libcst is loaded on first use


class Fix(NamedTuple):
    edits: Tuple[Tuple[cst.CSTNode, Rebuild], ...]
    imports: Tuple[str, ...] = ()  # modules the edits need imported, e.g. "asyncio"
    # Safe: it changes nothing but letting the task's own cancellation go on, after the work the
    # code did before. Anything less certain needs --unsafe-fixes.
    safe: bool = True
    # Imports the edits may leave unused, removed if they do: (module, name, as-name or None).
    unused_imports: Tuple[Tuple[str, Optional[str], Optional[str]], ...] = ()


# -- primitives used by the rules' fix builders ----------------------------------------------------
def qualified_reference(bindings: Bindings, qualified: str) -> Tuple[cst.BaseExpression, Tuple[str, ...]]:
    """An expression for ``qualified`` (e.g. ``asyncio.CancelledError``) in the module's own words:
    an imported alias of it, else its module's alias plus the attribute, else the full dotted
    name with the import it needs."""
    module, _, attribute = qualified.rpartition(".")
    visible = list(bindings.visible_names())
    for name, meanings in visible:
        if qualified in meanings:
            return cst.Name(name), ()
    for name, meanings in visible:
        if module in meanings:
            return cst.Attribute(cst.Name(name), cst.Name(attribute)), ()
    return cst.parse_expression(qualified), (module,)


def cancellation_reference(
    vocabulary: Vocabulary,
) -> Optional[Tuple[cst.BaseExpression, Tuple[str, ...]]]:
    """The cancellation class in the words of the module's library (names.Vocabulary.library):
    ``asyncio.CancelledError``, ``trio.Cancelled``, or anyio's ``get_cancelled_exc_class()``
    (right on either backend); None where the library is ambiguous, or where naming it would
    import the library into its own package."""
    library = vocabulary.library
    bindings = vocabulary.bindings
    if library is None:
        return None
    if library == "asyncio":
        return qualified_reference(bindings, "asyncio.CancelledError")
    if library == "trio":
        candidates = ("trio.Cancelled", "trio._core.Cancelled")
    else:
        candidates = (
            "anyio.get_cancelled_exc_class", "anyio._core._eventloop.get_cancelled_exc_class"
        )
    for candidate in candidates:
        reference, imports = qualified_reference(bindings, candidate)
        if not imports:
            break
    if imports and bindings.project == library:
        return None  # the library's own modules import themselves relatively
    if library == "anyio":
        reference = cst.Call(func=reference)
    return reference, imports


def append_statement(body: cst.BaseSuite, statement: cst.BaseStatement) -> cst.BaseSuite:
    """Put ``statement`` at the end of a block, replacing a lone ``pass`` or ``...``. The
    placeholder's comment (``pass  # ignore``) stays, on the new statement's line (or above it,
    for a compound one). A one-line block (``except X: pass``) stays on one line when it can."""
    simple = isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
    if isinstance(body, cst.SimpleStatementSuite):
        comment = body.trailing_whitespace.comment
        if simple and (comment is None or is_placeholder(body.body)):
            small = statement.body[0]  # type: ignore[attr-defined]
            if is_placeholder(body.body):
                return body.with_changes(body=[small])
            last = body.body[-1].with_changes(
                semicolon=cst.Semicolon(whitespace_after=cst.SimpleWhitespace(" "))
            )
            return body.with_changes(body=[*body.body[:-1], last, small])
        if is_placeholder(body.body):
            return cst.IndentedBlock(body=[_with_comment_above(statement, comment)])
        kept = cst.SimpleStatementLine(
            body=list(body.body), trailing_whitespace=body.trailing_whitespace
        )
        return cst.IndentedBlock(body=[kept, statement])
    assert isinstance(body, cst.IndentedBlock)
    if len(body.body) == 1 and isinstance(body.body[0], cst.SimpleStatementLine):
        only = body.body[0]
        if is_placeholder(only.body):
            if simple:
                return body.with_changes(body=[only.with_changes(body=statement.body)])  # type: ignore[attr-defined]
            replacement = _with_comment_above(statement, only.trailing_whitespace.comment)
            return body.with_changes(
                body=[replacement.with_changes(leading_lines=[*only.leading_lines, *replacement.leading_lines])]
            )
    return body.with_changes(body=[*body.body, statement])


def _with_comment_above(
    statement: cst.BaseStatement, comment: Optional[cst.Comment]
) -> cst.BaseStatement:
    if comment is None:
        return statement
    return statement.with_changes(
        leading_lines=[*statement.leading_lines, cst.EmptyLine(comment=comment)]  # type: ignore[attr-defined]
    )


def is_placeholder(smalls: Sequence[cst.BaseSmallStatement]) -> bool:
    """A lone ``pass`` or ``...``."""
    if len(smalls) != 1:
        return False
    only = smalls[0]
    return isinstance(only, cst.Pass) or (
        isinstance(only, cst.Expr) and isinstance(only.value, cst.Ellipsis)
    )


def _is_bare_placeholder(statement: cst.CSTNode) -> bool:
    """A lone ``pass`` or ``...`` with no comment before or after it."""
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and is_placeholder(statement.body)
        and statement.trailing_whitespace.comment is None
        and not any(line.comment is not None for line in statement.leading_lines)
    )


def prepend_statement(body: cst.BaseSuite, statement: cst.BaseStatement) -> cst.BaseSuite:
    """Put ``statement`` first in a block. A lone ``pass`` or ``...`` without a comment is
    replaced; anything else (a commented placeholder included) stays, after it. A one-line block
    (``except X: pass``) becomes an indented one."""
    if isinstance(body, cst.SimpleStatementSuite):
        kept = cst.SimpleStatementLine(
            body=list(body.body), trailing_whitespace=body.trailing_whitespace
        )
        return cst.IndentedBlock(body=[statement, *([] if _is_bare_placeholder(kept) else [kept])])
    assert isinstance(body, cst.IndentedBlock)
    rest = list(body.body)
    if len(rest) == 1 and _is_bare_placeholder(rest[0]):
        rest = []
    return body.with_changes(body=[statement, *rest])


# -- fix builders shared by several rules -----------------------------------------------------------
def reraise_at_end(
    site: HandlerSite, exception_type: Optional[cst.BaseExpression] = None
) -> Optional[Fix]:
    """Re-raise at the end of the handler (replacing a lone ``pass``), when every path that
    completes falls off its end. A swallowing ``return``, ``break`` or ``continue``, or a
    deliberately sanctioned path (``uncancel()``, a ``cancelling()`` guard) that falls off the
    end, means where to re-raise is a decision for a person: no fix.

    A clause that catches only cancellation gets a bare ``raise``. One that also catches other
    exceptions must keep swallowing those: it gets
    ``if isinstance(exc, asyncio.CancelledError): raise``, binding a fresh name when the clause
    has none (a bare ``except:`` becomes ``except BaseException as exc:``, the same clause).
    ``exception_type`` replaces what the clause catches (then a bare ``raise`` is right).
    The fix is safe only where fix_safety.doubts finds nothing."""
    ends = site.paths.ends
    if any(end.exit in JUMPS and not end.sanctioned for end in ends):
        return None
    falls_through = [end for end in ends if end.exit is Exit.FALLTHROUGH]
    if not falls_through and exception_type is None:
        return None
    if any(end.sanctioned for end in falls_through):
        return None
    reraise: cst.BaseStatement = cst.SimpleStatementLine(body=[cst.Raise()])
    imports: Tuple[str, ...] = ()
    bind: Optional[str] = None
    if exception_type is None and not site.catches_only_cancellation:
        bound = site.bound_name
        if bound is None:
            if site.node.name is not None or not _can_name_base_exception(site):
                return None  # `except E as (a, b)`, or BaseException shadowed
            bound = bind = fresh_name(site)
        named = cancellation_reference(site.vocabulary)
        if named is None:
            return None
        reference, imports = named
        reraise = cst.If(
            test=cst.Call(
                func=cst.Name("isinstance"),
                args=[cst.Arg(cst.Name(bound)), cst.Arg(reference)],
            ),
            body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Raise()])]),
        )

    def rebuild(handler: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(handler, (cst.ExceptHandler, cst.ExceptStarHandler))
        changes: Dict[str, object] = {}
        if falls_through:
            changes["body"] = append_statement(handler.body, reraise)
        if exception_type is not None:
            changes["type"] = exception_type
        if bind is not None:
            if handler.type is None:
                changes["type"] = cst.Name("BaseException")
                changes["whitespace_after_except"] = cst.SimpleWhitespace(" ")
            changes["name"] = cst.AsName(name=cst.Name(bind))
        return handler.with_changes(**changes)

    return Fix(((site.node, rebuild),), imports, safe=not doubts(site))


def fresh_name(site: HandlerSite) -> str:
    """A name for the caught exception that the function does not use already."""
    function = site.scope.function
    used = {
        node.value
        for node in (descendants(function, enter_nested_scopes=True) if function else ())
        if isinstance(node, cst.Name)
    }
    return next(name for name in ("exc", "error", "cancel_exc", "caught_exc") if name not in used)


def _can_name_base_exception(site: HandlerSite) -> bool:
    return "builtins.BaseException" in site.vocabulary.bindings.resolve(cst.Name("BaseException"))


def does_nothing(site: HandlerSite) -> bool:
    """Does the handler do nothing observable: ``pass``, or leave (``continue``, ``break``, a
    ``return`` of a plain value)? Nothing there needs to run for a cancellation."""
    return all(
        inert(statement, logging=False) is not None for statement in statements(site.node.body)
    )


def let_cancellation_through(site: HandlerSite) -> Optional[Fix]:
    """The fix of a broad clause (bare ``except:``, ``BaseException``): when it does nothing
    observable, a clause ``except asyncio.CancelledError: raise`` inserted before it; when it
    does more (logging included), that work must still run, so the cancellation is re-raised at
    the end of the handler instead. Everything else the clause catches stays caught."""
    if does_nothing(site):
        fix = insert_cancelled_clause(site)
        return fix._replace(safe=not doubts(site)) if fix is not None else None
    return reraise_at_end(site)


def rename_in_clause(
    site: HandlerSite,
    matches: Callable[[cst.BaseExpression], bool],
    reference: cst.BaseExpression,
    imports: Tuple[str, ...],
) -> Optional[Fix]:
    """Replace the exception names of the clause that ``matches`` by ``reference``: the whole
    type, or just those elements of a tuple (the others stay caught)."""
    written = site.node.type
    if isinstance(written, cst.Tuple):
        positions = [i for i, element in enumerate(written.elements) if matches(element.value)]
        if not positions:
            return None

        def rebuild(handler: cst.CSTNode) -> cst.CSTNode:
            current = handler.type  # type: ignore[attr-defined]
            elements = list(current.elements)
            for i in positions:
                elements[i] = elements[i].with_changes(value=reference)
            return handler.with_changes(type=current.with_changes(elements=elements))

    elif written is not None and matches(written):

        def rebuild(handler: cst.CSTNode) -> cst.CSTNode:
            return handler.with_changes(type=reference)

    else:
        return None
    return Fix(((site.node, rebuild),), imports)


def insert_cancelled_clause(site: HandlerSite) -> Optional[Fix]:
    """Insert ``except asyncio.CancelledError: raise`` (``except*`` in an ``except*`` try) right
    before the clause, in the module's own words for its library's name. All else stays
    caught."""
    named = cancellation_reference(site.vocabulary)
    if named is None:
        return None
    reference, imports = named
    index = site.index
    clause = cst.ExceptStarHandler if site.is_star else cst.ExceptHandler
    reraise = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Raise()])])

    def rebuild(try_node: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(try_node, (cst.Try, cst.TryStar))
        handlers = list(try_node.handlers)
        handlers.insert(index, clause(body=reraise, type=reference))  # type: ignore[arg-type]
        return try_node.with_changes(handlers=handlers)

    return Fix(((site.try_site.node, rebuild),), imports)
