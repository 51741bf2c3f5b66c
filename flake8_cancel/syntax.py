"""Small helpers over libcst trees (and the lines of a source text), shared by the analyses.

``descendants`` walks dataclass fields directly instead of ``CSTNode.children`` (which runs a
visitor per node); it is only used on the small subtrees the rules inspect, never a whole module.
"""

from __future__ import annotations

import dataclasses
import re
import enum
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Type, Union

import libcst as cst

# Aliases for annotations are strings: libcst is loaded on first use (lazy.py).
Statement = Union["cst.BaseStatement", "cst.SimpleStatementSuite"]

_CHILD_FIELDS: Dict[Type[cst.CSTNode], Tuple[str, ...]] = {}
# Whitespace, comments and tokens never hold an expression the rules look for.
_SKIPPED_FIELD_PREFIXES = ("whitespace", "leading_lines", "lines_after", "lpar", "rpar", "comma")


# Python ends a line at \r\n, \r or \n only; str.splitlines also splits at a form feed, \x1c
# or \u2028, which would put a `# noqa` on the wrong line.
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def physical_lines(source: str, keepends: bool = False) -> List[str]:
    """The lines of a module as Python counts them (line N is ``[N - 1]``)."""
    lines = _PHYSICAL_LINE.findall(source)
    return lines if keepends else [line.rstrip("\r\n") for line in lines]


def dotted_name(node: cst.CSTNode) -> Optional[str]:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def reference_key(node: cst.CSTNode) -> Optional[str]:
    """A name, an attribute chain, or a subscript of one by a plain index (``t``,
    ``self.task``, ``app[key]``, ``self.tasks["a"]``), as text; None for anything else. Two
    mentions with the same key refer to the same object, as far as the rules care."""
    if isinstance(node, (cst.Name, cst.Attribute)):
        return dotted_name(node)
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        index = node.slice[0].slice
        base = reference_key(node.value)
        if base is None or not isinstance(index, cst.Index):
            return None
        value = index.value
        if isinstance(value, (cst.Integer, cst.SimpleString)):
            return f"{base}[{value.value}]"
        inner = dotted_name(value)
        return None if inner is None else f"{base}[{inner}]"
    return None


def statements(suite: cst.BaseSuite) -> Sequence[Statement]:
    """The statements of an indented block; a one-line suite (``if x: pass``) is one statement."""
    if isinstance(suite, cst.IndentedBlock):
        return suite.body
    return [suite]  # type: ignore[list-item]


def small_statements(statement: Statement) -> Sequence[cst.BaseSmallStatement]:
    if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return statement.body
    return ()


def _child_fields(node_type: Type[cst.CSTNode]) -> Tuple[str, ...]:
    fields = _CHILD_FIELDS.get(node_type)
    if fields is None:
        fields = tuple(
            field.name
            for field in dataclasses.fields(node_type)
            if not field.name.startswith(_SKIPPED_FIELD_PREFIXES)
        )
        _CHILD_FIELDS[node_type] = fields
    return fields


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def descendants(node: cst.CSTNode, enter_nested_scopes: bool = False) -> Iterator[cst.CSTNode]:
    """Every node below ``node`` (not ``node`` itself), depth first.

    Unless asked, a nested ``def``, ``lambda`` or ``class`` is yielded but not entered: what is
    inside it runs in another scope, at another time.
    """
    stack: List[cst.CSTNode] = list(children(node))
    stack.reverse()
    while stack:
        current = stack.pop()
        yield current
        if not enter_nested_scopes and is_nested_scope(current):
            continue
        grandchildren = list(children(current))
        grandchildren.reverse()
        stack.extend(grandchildren)


def is_nested_scope(node: cst.CSTNode) -> bool:
    """A nested ``def``, ``lambda`` or ``class``: its body runs in another scope, at another
    time."""
    return isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda))


def children_run_here(node: cst.CSTNode) -> Iterable[cst.CSTNode]:
    """The children of ``node`` whose code runs when ``node`` runs, in the same scope: none for
    a nested ``def``, ``lambda`` or ``class`` (their bodies run later, elsewhere), and only the
    first iterable of a generator expression, which Python evaluates at once; the rest of it
    runs when the generator is iterated. (Default values and decorators of a nested scope also
    run at once; they are passed over, as code that awaits there is rare.)"""
    if is_nested_scope(node):
        return ()
    if isinstance(node, cst.GeneratorExp):
        return (node.for_in.iter,)
    return children(node)


def has_cancellation_point(
    suite: cst.CSTNode, shielded: Optional[Callable[[cst.CSTNode], bool]] = None
) -> bool:
    """Does this code await, outside nested scopes? (``await``, ``async for``, ``async with``)

    An ``await`` inside a generator expression (after its first iterable) only builds an async
    generator; it does not suspend the current task, so it is not a cancellation point here.
    Nor is a statement or an await that ``shielded`` says no outer cancellation reaches.
    """
    stack: List[cst.CSTNode] = list(children(suite))
    while stack:
        current = stack.pop()
        if shielded is not None and shielded(current):
            continue
        # `yield from` suspends a generator-based coroutine (only those are analysed as async).
        if isinstance(current, cst.Await) or is_yield_from(current):
            return True
        # An async comprehension runs in place (a generator expression's does not, see
        # children_run_here).
        if isinstance(current, (cst.For, cst.With, cst.CompFor)) and current.asynchronous:
            return True
        stack.extend(children_run_here(current))
    return False


def is_yield_from(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Yield) and isinstance(node.value, cst.From)


def may_hold_generator_coroutines(source: str) -> bool:
    """Can a generator of this module be a generator-based coroutine? Only where it says
    ``yield from``: sites.py looks for them, the screen counts generators as coroutines, and the
    regions parse the module whole."""
    return "yield from" in source


def is_generator(function: cst.FunctionDef) -> bool:
    """Does the function's own body ``yield`` (not a nested function's)?"""
    return any(isinstance(node, cst.Yield) for node in descendants(function.body))


def method_receiver(node: cst.CSTNode, methods: Iterable[str]) -> Optional[cst.BaseExpression]:
    """For a call ``<receiver>.<method>(...)`` with ``method`` one of ``methods``, the receiver;
    else None. (``methods`` is a set or tuple of names; a single string is not accepted.)"""
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in methods
    ):
        return node.func.value
    return None


def calls_method(node: cst.CSTNode, method: str) -> bool:
    """Does ``node`` contain a call ``<anything>.method(...)`` outside nested scopes?"""
    methods = (method,)
    return any(
        method_receiver(current, methods) is not None for current in (node, *descendants(node))
    )


def isinstance_classes(test: cst.BaseExpression, name: str) -> Optional[cst.BaseExpression]:
    """For ``isinstance(name, CLASSES)``, the ``CLASSES`` expression; else None."""
    if (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Name)
        and test.func.value == "isinstance"
        and len(test.args) == 2
        and isinstance(test.args[0].value, cst.Name)
        and test.args[0].value.value == name
    ):
        return test.args[1].value
    return None


Handler = Union["cst.ExceptHandler", "cst.ExceptStarHandler"]


def bound_name(handler: Handler) -> Optional[str]:
    """The plain name an ``except ... as name`` clause binds, or None."""
    if handler.name is not None and isinstance(handler.name.name, cst.Name):
        return handler.name.name.value
    return None


class BlockKind(enum.Enum):
    """The part a block plays in its compound statement."""

    BODY = "body"  # of if, for, while, with, try, def, class; a loop's body runs repeatedly
    ALTERNATIVE = "alternative"  # an elif or else branch of an if
    HANDLER = "handler"  # an except clause of a try
    ELSE = "else"  # of a try or a loop: runs after the body completed
    FINALLY = "finally"
    CASE = "case"  # of a match


class Block(NamedTuple):
    kind: BlockKind
    suite: cst.BaseSuite
    # The node that owns the block: the statement itself, or its except clause, elif or case.
    owner: cst.CSTNode


def blocks(statement: cst.CSTNode) -> Iterator[Block]:
    """The blocks of a compound statement, in source order: the one walker over them.

    An ``elif`` chain is followed in a loop (it can be thousands long) and each of its branches
    is an ALTERNATIVE block owned by its ``If`` node. A simple statement has no block.
    """
    if isinstance(statement, cst.If):
        yield Block(BlockKind.BODY, statement.body, statement)
        branch = statement.orelse
        while isinstance(branch, cst.If):
            yield Block(BlockKind.ALTERNATIVE, branch.body, branch)
            branch = branch.orelse
        if branch is not None:
            yield Block(BlockKind.ALTERNATIVE, branch.body, branch)
    elif isinstance(statement, (cst.Try, cst.TryStar)):
        yield Block(BlockKind.BODY, statement.body, statement)
        for handler in statement.handlers:
            yield Block(BlockKind.HANDLER, handler.body, handler)
        if statement.orelse is not None:
            yield Block(BlockKind.ELSE, statement.orelse.body, statement.orelse)
        if statement.finalbody is not None:
            yield Block(BlockKind.FINALLY, statement.finalbody.body, statement.finalbody)
    elif isinstance(statement, (cst.For, cst.While)):
        yield Block(BlockKind.BODY, statement.body, statement)
        if statement.orelse is not None:
            yield Block(BlockKind.ELSE, statement.orelse.body, statement.orelse)
    elif isinstance(statement, (cst.With, cst.FunctionDef, cst.ClassDef)):
        yield Block(BlockKind.BODY, statement.body, statement)
    elif isinstance(statement, cst.Match):
        for case in statement.cases:
            yield Block(BlockKind.CASE, case.body, case)


class Enclosure(NamedTuple):
    """One level between a statement and a block around it."""

    block: Sequence[Statement]  # the block at this level
    index: int  # the statement of ``block`` that holds the target (or is it)
    kind: Optional[BlockKind]  # what ``block`` is to the statement holding it; None outermost


def path_to(block: Sequence[Statement], target: cst.CSTNode) -> Optional[List[Enclosure]]:
    """The levels from the statement ``target`` out to ``block``, innermost first; None if it
    is not inside. Nested ``def`` and ``class`` bodies are not entered (another scope)."""
    for index, statement in enumerate(block):
        if statement is target:
            return [Enclosure(block, index, None)]
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue
        for found in blocks(statement):
            inner = path_to(statements(found.suite), target)
            if inner is not None:
                *deeper, level = inner
                return [*deeper, level._replace(kind=found.kind), Enclosure(block, index, None)]
    return None


def holders(path: Sequence[Enclosure]) -> List[Tuple[cst.CSTNode, BlockKind]]:
    """The compound statements around the target of ``path``, innermost first, each with the
    kind of its block that the target is in."""
    return [
        (outer.block[outer.index], inner.kind)  # type: ignore[misc]
        for inner, outer in zip(path, path[1:])
    ]
