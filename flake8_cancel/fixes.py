"""Edit primitives and the fix loop: apply, re-lint, repeat until nothing more is fixable.

A rule's fix builder returns a :class:`Fix`: edits keyed by an original node, each a function
that rebuilds that node from its *updated* version (``updated.with_changes(...)``), plus any
module to import. The loop applies the fixes of the findings the linter reports (never one
marked ``# noqa``), re-parses and re-lints, and stops when nothing fixable is left or after
``MAX_ROUNDS``. The result must parse with libcst and compile with this Python (when the
original did); otherwise the file is left as it was and the reason is given.

Everything works on bytes: libcst keeps the encoding, BOM, line endings and indentation, and
changes nothing outside the edited nodes.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections import Counter
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from flake8_cancel.engine import (
    Engine,
    Issue,
    UncheckableFile,
    decode_source,
    parse,
    screen_with_python,
)
from flake8_cancel.flow import Exit
from flake8_cancel.names import Bindings
from flake8_cancel.noqa import file_is_exempt, is_silenced
from flake8_cancel.syntax import physical_lines
from flake8_cancel.registry import Finding

MAX_ROUNDS = 8
SAFE = frozenset({"safe", "sometimes"})
JUMPS = frozenset({Exit.RETURN, Exit.BREAK, Exit.CONTINUE})

if TYPE_CHECKING:
    from flake8_cancel.engine import HandlerSite

Rebuild = Callable[[cst.CSTNode], cst.CSTNode]


class Fix(NamedTuple):
    edits: Tuple[Tuple[cst.CSTNode, Rebuild], ...]
    imports: Tuple[str, ...] = ()  # modules the edits need imported, e.g. "asyncio"


class FixResult(NamedTuple):
    data: bytes  # the fixed file, or the original when nothing changed or a check failed
    fixed: Counter  # code -> number of findings fixed
    # What is still reported afterwards (noqa'd findings excluded), each with the fix that
    # remains available ("unsafe" when --unsafe-fixes was not given), if any.
    remaining: List[Tuple[Finding, Optional[str]]]
    problem: Optional[str] = None


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


def append_statement(body: cst.BaseSuite, statement: cst.BaseStatement) -> cst.BaseSuite:
    """Put ``statement`` at the end of a block, replacing a lone ``pass`` or ``...``. A
    placeholder with a comment (``pass  # ignore``) is kept: the comment describes it, not the new
    statement. A one-line block (``except X: pass``) stays on one line when it can."""
    simple = isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
    if isinstance(body, cst.SimpleStatementSuite):
        commented = body.trailing_whitespace.comment is not None
        if simple and not commented:
            small = statement.body[0]  # type: ignore[attr-defined]
            if _is_placeholder(body.body):
                return body.with_changes(body=[small])
            last = body.body[-1].with_changes(
                semicolon=cst.Semicolon(whitespace_after=cst.SimpleWhitespace(" "))
            )
            return body.with_changes(body=[*body.body[:-1], last, small])
        kept = cst.SimpleStatementLine(
            body=list(body.body), trailing_whitespace=body.trailing_whitespace
        )
        lines = [] if _is_placeholder(body.body) and not commented else [kept]
        return cst.IndentedBlock(body=[*lines, statement])
    assert isinstance(body, cst.IndentedBlock)
    if len(body.body) == 1 and isinstance(body.body[0], cst.SimpleStatementLine):
        only = body.body[0]
        if _is_placeholder(only.body) and only.trailing_whitespace.comment is None:
            if simple:
                return body.with_changes(body=[only.with_changes(body=statement.body)])  # type: ignore[attr-defined]
            return body.with_changes(body=[statement])
    return body.with_changes(body=[*body.body, statement])


def _is_placeholder(smalls: Sequence[cst.BaseSmallStatement]) -> bool:
    if len(smalls) != 1:
        return False
    only = smalls[0]
    return isinstance(only, cst.Pass) or (
        isinstance(only, cst.Expr) and isinstance(only.value, cst.Ellipsis)
    )


# -- fix builders shared by several rules -----------------------------------------------------------
def reraise_at_end(
    site: "HandlerSite", exception_type: Optional[cst.BaseExpression] = None
) -> Optional[Fix]:
    """Re-raise at the end of the handler (replacing a lone ``pass``), when every path that
    completes falls off its end. A swallowing ``return``, ``break`` or ``continue``, or a
    deliberately sanctioned path (``uncancel()``, a ``cancelling()`` guard) that falls off the
    end, means where to re-raise is a decision for a person: no fix.

    A clause that catches only cancellation gets a bare ``raise``. One that also catches other
    exceptions must keep swallowing those: with a bound name it gets
    ``if isinstance(exc, asyncio.CancelledError): raise``; without one, no fix.
    ``exception_type`` replaces what the clause catches (then a bare ``raise`` is right)."""
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
    if exception_type is None and not site.catches_only_cancellation:
        bound = site.node.name
        if bound is None or not isinstance(bound.name, cst.Name):
            return None
        reference, imports = qualified_reference(
            site.try_site.scope.vocabulary.bindings, "asyncio.CancelledError"
        )
        reraise = cst.If(
            test=cst.Call(
                func=cst.Name("isinstance"),
                args=[cst.Arg(cst.Name(bound.name.value)), cst.Arg(reference)],
            ),
            body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Raise()])]),
        )

    def rebuild(handler: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(handler, (cst.ExceptHandler, cst.ExceptStarHandler))
        changes = {}
        if falls_through:
            changes["body"] = append_statement(handler.body, reraise)
        if exception_type is not None:
            changes["type"] = exception_type
        return handler.with_changes(**changes)

    return Fix(((site.node, rebuild),), imports)


def rename_in_clause(
    site: "HandlerSite",
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


def insert_cancelled_clause(site: "HandlerSite") -> Fix:
    """Insert ``except asyncio.CancelledError: raise`` (``except*`` in an ``except*`` try) right
    before the clause, in the module's own words for the name. All else stays caught."""
    reference, imports = qualified_reference(
        site.try_site.scope.vocabulary.bindings, "asyncio.CancelledError"
    )
    index = site.index
    clause = cst.ExceptStarHandler if site.is_star else cst.ExceptHandler
    reraise = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Raise()])])

    def rebuild(try_node: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(try_node, (cst.Try, cst.TryStar))
        handlers = list(try_node.handlers)
        handlers.insert(index, clause(body=reraise, type=reference))  # type: ignore[arg-type]
        return try_node.with_changes(handlers=handlers)

    return Fix(((site.try_site.node, rebuild),), imports)


# -- the loop --------------------------------------------------------------------------------------
class _ApplyEdits(cst.CSTTransformer):
    def __init__(self, edits: Dict[int, Rebuild]) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node, updated_node):  # type: ignore[override]
        rebuild = self.edits.get(id(original_node))
        return rebuild(updated_node) if rebuild is not None else updated_node


def fix_bytes(
    data: bytes,
    engine: Engine,
    path: Optional[str] = None,
    unsafe: bool = False,
    ignore: Sequence[str] = (),
) -> FixResult:
    """Apply the fixes for ``data`` (a whole file). Raises UncheckableFile like the linter.
    Codes starting with one of ``ignore`` (per-file ignores) are neither fixed nor reported."""
    text = decode_source(data)
    stats = engine.statistics
    stats.counts["files"] += 1
    if file_is_exempt(text):
        return FixResult(data, Counter(), [])
    target_version = engine.target_version_if_admitted(text, path)
    if target_version is None:
        return FixResult(data, Counter(), [])
    python_tree = screen_with_python(text)
    module = parse_bytes(data)
    stats.counts["parsed"] += 1
    # The text and bytes of `module`, kept beside it: libcst's code generation is the costly
    # part of fixing, so it runs once per round that changed something, never to re-read.
    current_text, current_data = text, data
    fixed: Counter = Counter()
    previous: Optional[Counter] = None
    issues: List[Issue] = []
    for _ in range(MAX_ROUNDS):
        issues = _without(
            engine.analyze_module(module, current_text, target_version, python_tree), ignore
        )
        python_tree = None  # it is the tree of the text before this round's fixes
        chosen = _fixes_to_apply(issues, physical_lines(current_text), unsafe)
        pending = Counter(issue.finding.code for issue, _ in chosen)
        if not chosen or pending == previous:
            break  # nothing left, or the last round's fixes did not take: never repeat them
        previous = pending
        issues = []
        edits: Dict[int, Rebuild] = {}
        imports: List[str] = []
        for issue, fix in chosen:
            edits.update((id(node), rebuild) for node, rebuild in fix.edits)
            imports.extend(fix.imports)
            fixed[issue.finding.code] += 1
        try:
            current_data = _apply(module, edits, imports).bytes
        except Exception as error:  # a fix builder's bug must not cost the user their file
            return _unchanged(data, f"fix failed ({type(error).__name__}: {error})")
        try:
            module = parse_bytes(current_data)  # analyse what a fresh parse sees
            current_text = decode_source(current_data)
        except (UncheckableFile, cst.ParserSyntaxError) as problem:
            return _unchanged(data, f"fix produced code that does not parse ({problem})")
    # Code this Python cannot compile (newer syntax) is checked by libcst's parse alone.
    if current_data != data and _compile_error(data, path) is None:
        error = _compile_error(current_data, path)
        if error is not None:
            return _unchanged(data, f"fix produced code that does not compile ({error})")
    if not issues:  # the last round applied fixes: lint what they produced
        issues = _without(engine.analyze_module(module, current_text, target_version), ignore)
    lines = physical_lines(current_text)
    remaining = [
        (issue.finding, fix_availability(issue))
        for issue in issues
        if not is_silenced(issue.finding, lines)
    ]
    return FixResult(current_data, fixed, remaining)


def _without(issues: List[Issue], ignore: Sequence[str]) -> List[Issue]:
    if not ignore:
        return issues
    return [issue for issue in issues if not issue.finding.code.startswith(tuple(ignore))]


def fix_availability(issue: Issue) -> Optional[str]:
    """"safe" or "unsafe" when a fix would be applied for this finding, else None."""
    safety = issue.rule.fix
    if safety == "none":
        return None
    try:
        fix = issue.rule.build_fix(issue.site, issue.node)
    except Exception:  # a fix builder's bug must not break reporting
        return None
    if fix is None:
        return None
    return "unsafe" if safety == "unsafe" else "safe"


def _apply(module: cst.Module, edits: Dict[int, Rebuild], imports: Sequence[str]) -> cst.Module:
    updated = module.visit(_ApplyEdits(edits))
    if imports:
        context = CodemodContext()
        for name in dict.fromkeys(imports):
            AddImportsVisitor.add_needed_import(context, name)
        updated = AddImportsVisitor(context).transform_module(updated)
    return updated


def _unchanged(data: bytes, reason: str) -> FixResult:
    return FixResult(data, Counter(), [], f"{reason}; file left unchanged")


def _fixes_to_apply(
    issues: Iterable[Issue], lines: Sequence[str], unsafe: bool
) -> List[Tuple[Issue, Fix]]:
    """One fix per edited node this round: overlapping fixes wait for the next round."""
    chosen: List[Tuple[Issue, Fix]] = []
    claimed = set()
    for issue in issues:
        rule = issue.rule
        if rule.fix not in SAFE and not (unsafe and rule.fix == "unsafe"):
            continue
        if is_silenced(issue.finding, lines):
            continue
        fix = rule.build_fix(issue.site, issue.node)
        if fix is None:
            continue
        keys = {id(node) for node, _ in fix.edits}
        if keys & claimed:
            continue
        claimed |= keys
        chosen.append((issue, fix))
    return chosen


def parse_bytes(data: bytes) -> cst.Module:
    try:
        return cst.parse_module(data)
    except cst.ParserSyntaxError:
        parse(decode_source(data))  # raises UncheckableFile with CPython's precise reason
        raise
    except RecursionError:
        raise UncheckableFile("skipped: too deeply nested") from None


def _compile_error(data: bytes, path: Optional[str]) -> Optional[str]:
    try:
        compile(data, path or "<fixed>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return str(error)
    return None


# -- writing ---------------------------------------------------------------------------------------
class FileChanged(Exception):
    """The file changed on disk after it was read; it is not overwritten."""


def write_atomically(path: str, data: bytes, expected: bytes) -> None:
    """Replace ``path`` with ``data`` through a temporary file in the same folder, keeping its
    mode, unless its content is no longer ``expected``."""
    real = os.path.realpath(path)  # write the file a symlink points to, keep the link
    with open(real, "rb") as handle:
        if handle.read() != expected:
            raise FileChanged(f"{path} changed on disk while it was being fixed; not overwritten")
    mode = stat.S_IMODE(os.stat(real).st_mode)
    directory, name = os.path.split(real)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, real)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
