"""Where the reported nodes are: their line and column, found cheaply.

libcst's PositionProvider regenerates the code of the whole module and records a range for every
node: it cost more than the analysis itself on a file with findings. CPython's ``ast`` already
knows where every statement, ``except`` clause and ``with`` item begins, and flake8 hands its
tree to plugins for free (the CLI parses one anyway, to screen files before libcst). Every node a
rule reports is one of those three kinds, so a reported libcst node is matched with the ``ast``
node of the same kind and the same rank in source order: both trees list statements in the
order of the text, and are walked here the same way, statements only.

A tree that cannot be matched (no ``ast`` for newer syntax than this Python's, or two walks that
disagree on a node's type) falls back to PositionProvider, so a position is never guessed.
"""

from __future__ import annotations

import ast
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type

import libcst as cst

from flake8_cancel.syntax import BlockKind, blocks, physical_lines, small_statements, statements

Position = Tuple[int, int]  # line (from 1), column (from 0, in characters)

STATEMENT, HANDLER, WITH_ITEM = "statement", "handler", "with item"

# The ast type a reported libcst statement must meet at its rank (by the libcst class's name):
# a check that the two walks really are in step (the rules report no other statement).
_AST_TYPE_OF: Dict[str, Type[ast.AST]] = {
    "Raise": ast.Raise,
    "Return": ast.Return,
    "Break": ast.Break,
    "Continue": ast.Continue,
}

_AST_TRY = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
_AST_MATCH = (ast.Match,) if hasattr(ast, "Match") else ()


def positions(
    module: cst.Module,
    source: str,
    nodes: Sequence[cst.CSTNode],
    python_tree: Optional[ast.AST] = None,
    file_line: Optional[Callable[[int], int]] = None,
) -> Dict[int, Position]:
    """``id(node)`` -> (line, column) of where each node starts in ``source``, as
    PositionProvider says. ``module`` may be a region of ``source`` (regions.py): then
    ``python_tree`` is its ``ast`` and ``file_line`` maps a line of its text to the file's."""
    if python_tree is None:
        python_tree = _parse(source)
    if python_tree is not None:
        found = _from_python_tree(module, source, nodes, python_tree)
        if found is not None:
            return found
    from libcst.metadata import MetadataWrapper, PositionProvider

    resolved = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    line_of = file_line or (lambda line: line)
    return {
        id(node): (line_of(resolved[node].start.line), resolved[node].start.column)
        for node in nodes
    }


def _parse(source: str) -> Optional[ast.AST]:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # newer syntax than this Python's: libcst alone knows where things are


def _from_python_tree(
    module: cst.Module, source: str, nodes: Sequence[cst.CSTNode], tree: ast.AST
) -> Optional[Dict[int, Position]]:
    wanted = {id(node) for node in nodes}
    ranks: Dict[int, Tuple[str, int, cst.CSTNode]] = {}
    counters = {STATEMENT: 0, HANDLER: 0, WITH_ITEM: 0}
    for kind, node in _cst_order(module):
        if id(node) in wanted:
            ranks[id(node)] = (kind, counters[kind], node)
            if len(ranks) == len(wanted):
                break
        counters[kind] += 1
    if len(ranks) != len(wanted):
        return None
    needed = {kind: {rank for k, rank, _ in ranks.values() if k == kind} for kind in counters}
    located: Dict[Tuple[str, int], ast.AST] = {}
    counters = {STATEMENT: 0, HANDLER: 0, WITH_ITEM: 0}
    remaining = len(ranks)
    for kind, python_node in _ast_order(tree):
        if counters[kind] in needed[kind]:
            located[kind, counters[kind]] = python_node
            remaining -= 1
            if not remaining:
                break
        counters[kind] += 1
    lines: Optional[List[str]] = None
    result: Dict[int, Position] = {}
    for key, (kind, rank, node) in ranks.items():
        python_node = located.get((kind, rank))
        if python_node is None or not _same_kind(node, python_node):
            return None
        if isinstance(python_node, ast.withitem):
            python_node = python_node.context_expr
        line, byte_column = python_node.lineno, python_node.col_offset  # type: ignore[attr-defined]
        if lines is None:
            lines = physical_lines(source)
        if not 0 < line <= len(lines):
            return None
        text = lines[line - 1]
        # ast counts the column in UTF-8 bytes, flake8 and libcst in characters.
        column = byte_column if text.isascii() else len(
            text.encode("utf-8")[:byte_column].decode("utf-8", errors="replace")
        )
        result[key] = (line, column)
    return result


def _same_kind(node: cst.CSTNode, python_node: ast.AST) -> bool:
    if isinstance(node, (cst.ExceptHandler, cst.ExceptStarHandler)):
        return isinstance(python_node, ast.ExceptHandler)
    if isinstance(node, cst.WithItem):
        return isinstance(python_node, ast.withitem)
    expected = _AST_TYPE_OF.get(type(node).__name__)
    return expected is not None and isinstance(python_node, expected)


def _cst_order(module: cst.Module) -> Iterator[Tuple[str, cst.CSTNode]]:
    """Statements, ``except`` clauses and ``with`` items of the module, in source order."""
    stack: List[Iterator[cst.CSTNode]] = [iter(module.body)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
        elif isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in small_statements(node):
                yield STATEMENT, small
        elif isinstance(node, (cst.ExceptHandler, cst.ExceptStarHandler)):
            yield HANDLER, node
            stack.append(iter(statements(node.body)))
        elif isinstance(node, cst.WithItem):
            yield WITH_ITEM, node
        else:
            yield STATEMENT, node
            stack.append(iter(_cst_parts(node)))


def _cst_parts(statement: cst.CSTNode) -> List[cst.CSTNode]:
    """What a compound statement holds after its keyword, in source order and shaped as in
    ``ast``: ``with`` items, then the statements of its blocks, ``except`` clauses among them;
    an ``elif`` is a statement of its own, holding the rest of the chain."""
    parts: List[cst.CSTNode] = list(statement.items) if isinstance(statement, cst.With) else []
    for block_kind, suite, owner in blocks(statement):
        if block_kind is BlockKind.HANDLER:
            parts.append(owner)
        elif block_kind is BlockKind.ALTERNATIVE and isinstance(owner, cst.If):
            parts.append(owner)
            break
        else:
            parts.extend(statements(suite))
    return parts


def _ast_order(tree: ast.AST) -> Iterator[Tuple[str, ast.AST]]:
    """The same walk over CPython's tree."""
    stack: List[Iterator[ast.AST]] = [iter(getattr(tree, "body", ()))]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
        elif isinstance(node, ast.ExceptHandler):
            yield HANDLER, node
            stack.append(iter(node.body))
        elif isinstance(node, ast.withitem):
            yield WITH_ITEM, node
        else:
            yield STATEMENT, node
            stack.append(iter(_ast_parts(node)))


def _ast_parts(statement: ast.AST) -> List[ast.AST]:
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return [*statement.items, *statement.body]
    if isinstance(statement, _AST_TRY):
        return [*statement.body, *statement.handlers, *statement.orelse, *statement.finalbody]
    if isinstance(statement, _AST_MATCH):
        return [node for case in statement.cases for node in case.body]  # type: ignore[attr-defined]
    return [*getattr(statement, "body", ()), *getattr(statement, "orelse", ())]
