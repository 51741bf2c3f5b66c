"""Positions from CPython's ast must be exactly what libcst's PositionProvider says."""

import ast
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from flake8_cancel import positions as positions_module
from flake8_cancel.positions import positions

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted((ROOT / "fixtures").glob("*.py"))

REPORTABLE = (
    cst.ExceptHandler,
    cst.ExceptStarHandler,
    cst.WithItem,
    cst.Raise,
    cst.Return,
    cst.Break,
    cst.Continue,
)

SHAPES = {
    "non_ascii_before": 'async def f():\n    try:\n        x = "é→"; await g()\n    except E:\n        y = "ü"; raise\n',
    "one_liners": "async def f():\n    try: await g()\n    except E: return\n    for x in y:\n        if x: break\n        else: continue\n",
    "elif_and_else_if": (
        "def f():\n    if a:\n        return 1\n    elif b:\n        return 2\n    else:\n"
        "        if c:\n            return 3\n        raise X\n"
    ),
    "decorated_and_nested": (
        "@dec\nclass C:\n    @staticmethod\n    async def f():\n        def g():\n            return 1\n"
        "        try:\n            pass\n        except (A, B) as e:\n            raise\n"
    ),
    "with_items": (
        "async def f():\n    with suppress(E), open(p) as h:\n        pass\n"
        "    async with (\n        a() as x,\n        b() as y,\n    ):\n        return\n"
        "    with (c()):\n        return\n"
    ),
    "match": (
        "def f(x):\n    match x:\n        case 1:\n            return 1\n"
        "        case _:\n            try:\n                pass\n            except E:\n                raise\n"
    ),
    "try_star": "async def f():\n    try:\n        await g()\n    except* E:\n        raise\n    finally:\n        return\n",
    "loops_with_else": (
        "def f():\n    for x in y:\n        continue\n    else:\n        return\n"
        "    while z:\n        break\n    else:\n        raise E\n"
    ),
    "crlf_and_tabs": "async def f():\r\n\ttry:\r\n\t\tawait g()\r\n\texcept E:\r\n\t\treturn\r\n",
    "comments_and_blank_lines": (
        "async def f():\n    try:\n        # a comment\n\n        await g()\n    # before except\n"
        "    except E:  # trailing\n\n        # inside\n        raise  # done\n"
    ),
    "continuation_lines": (
        "async def f():\n    try:\n        await g(\n            1,\n        )\n    except \\\n        E:\n"
        "        return \\\n            1\n"
    ),
}


def reportable_nodes(module: cst.Module):
    return [node for _, node in positions_module._cst_order(module) if isinstance(node, REPORTABLE)]


def provider_positions(module: cst.Module, nodes):
    resolved = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {id(node): (resolved[node].start.line, resolved[node].start.column) for node in nodes}


def assert_same_as_provider(source: str) -> int:
    module = cst.parse_module(source)
    nodes = reportable_nodes(module)
    try:
        tree = ast.parse(source)
    except SyntaxError:  # newer syntax than this Python's (match on 3.9): libcst places them
        assert positions(module, source, nodes) == provider_positions(module, nodes)
        return len(nodes)
    from_ast = positions_module._from_python_tree(module, source, nodes, tree)
    assert from_ast is not None, "the two walks should agree on every file Python parses"
    assert from_ast == provider_positions(module, nodes)
    return len(nodes)


@pytest.mark.parametrize("path", FIXTURES, ids=[path.name for path in FIXTURES])
def test_every_reportable_node_of_every_fixture_is_where_libcst_says(path):
    assert_same_as_provider(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shapes_that_could_put_the_walks_out_of_step(name):
    assert assert_same_as_provider(SHAPES[name]) > 0


def test_newer_syntax_than_this_python_falls_back_to_libcst():
    source = "async def f():\n    try:\n        await g()\n    except E:\n        return\n"
    module = cst.parse_module(source)
    nodes = reportable_nodes(module)
    # A tree of other code stands for "ast cannot match": the walks disagree on kinds.
    unrelated = ast.parse("x = 1\ny = 2\nz = 3\n")
    assert positions(module, source, nodes, unrelated) == provider_positions(module, nodes)


def test_without_a_tree_the_source_is_parsed_by_python():
    source = "async def f():\n    try:\n        await g()\n    except E:\n        raise\n"
    module = cst.parse_module(source)
    nodes = reportable_nodes(module)
    assert positions(module, source, nodes) == {id(nodes[0]): (4, 4), id(nodes[1]): (5, 8)}
