"""Small helpers over libcst trees and source lines (flake8_cancel/syntax.py)."""

from __future__ import annotations

import textwrap
from typing import List

import libcst as cst
import pytest

from flake8_cancel.syntax import (
    BlockKind,
    blocks,
    bound_name,
    calls_method,
    descendants,
    dotted_name,
    has_cancellation_point,
    holders,
    method_receiver,
    path_to,
    physical_lines,
    small_statements,
    statements,
)

EMPTY = cst.Module(body=[])
BODY, ALTERNATIVE, HANDLER = BlockKind.BODY, BlockKind.ALTERNATIVE, BlockKind.HANDLER
ELSE, FINALLY, CASE = BlockKind.ELSE, BlockKind.FINALLY, BlockKind.CASE


def code(node: cst.CSTNode) -> str:
    return EMPTY.code_for_node(node)


def statement(source: str) -> cst.BaseStatement:
    module = cst.parse_module(textwrap.dedent(source))
    assert len(module.body) == 1
    return module.body[0]


def coroutine_body(source: str) -> cst.BaseSuite:
    """The body of ``async def f():`` holding ``source``."""
    function = statement("async def f():\n" + textwrap.indent(textwrap.dedent(source), "    "))
    assert isinstance(function, cst.FunctionDef)
    return function.body


def handler(source: str):
    try_statement = statement(source)
    assert isinstance(try_statement, (cst.Try, cst.TryStar))
    return try_statement.handlers[0]


def names_in(nodes) -> List[str]:
    return [node.value for node in nodes if isinstance(node, cst.Name)]


def block_kinds(node: cst.CSTNode) -> List[BlockKind]:
    return [block.kind for block in blocks(node)]


def block_suites(node: cst.CSTNode) -> List[str]:
    return [code(block.suite).strip() for block in blocks(node)]


# -- physical_lines ------------------------------------------------------------------------------


def test_physical_lines_split_at_newline():
    assert physical_lines("a\nb\n") == ["a", "b"]


def test_physical_lines_split_at_crlf_once():
    assert physical_lines("a\r\nb\r\n") == ["a", "b"]


def test_physical_lines_split_at_a_lone_carriage_return():
    assert physical_lines("a\rb\rc") == ["a", "b", "c"]


def test_physical_lines_split_at_mixed_line_ends():
    assert physical_lines("a\r\nb\rc\nd") == ["a", "b", "c", "d"]


def test_physical_lines_keep_the_last_line_without_a_line_end():
    assert physical_lines("a\nb") == ["a", "b"]


def test_physical_lines_keep_empty_lines():
    assert physical_lines("a\n\n\nb\n") == ["a", "", "", "b"]


def test_physical_lines_of_an_empty_source_are_none():
    assert physical_lines("") == []


def test_a_form_feed_does_not_end_a_physical_line():
    assert physical_lines("a\fb\n\fc\n") == ["a\fb", "\fc"]


def test_other_unicode_line_separators_do_not_end_a_physical_line():
    assert physical_lines("a\x1cb\u2028c\x85d\n") == ["a\x1cb\u2028c\x85d"]


def test_physical_lines_with_keepends_keep_each_line_end():
    assert physical_lines("a\r\nb\rc\nd", keepends=True) == ["a\r\n", "b\r", "c\n", "d"]


def test_physical_lines_with_keepends_join_back_to_the_source():
    source = "x = 1\r\n\fy = 2\r# noqa\nz"
    assert "".join(physical_lines(source, keepends=True)) == source


# -- dotted_name ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("asyncio", "asyncio"),
        ("asyncio.exceptions.CancelledError", "asyncio.exceptions.CancelledError"),
        ("self.task", "self.task"),
        ("f().task", None),
        ("tasks[0].result", None),
        ("'asyncio'", None),
        ("(a or b).c", None),
    ],
)
def test_dotted_name(expression, expected):
    assert dotted_name(cst.parse_expression(expression)) == expected


def test_dotted_name_of_a_parenthesized_chain_ignores_the_parentheses():
    assert dotted_name(cst.parse_expression("(a.b).c")) == "a.b.c"


# -- statements and small_statements -------------------------------------------------------------


def test_statements_of_an_indented_block_are_its_statements():
    if_statement = statement(
        """\
        if x:
            a = 1
            if y:
                pass
        """
    )
    found = statements(if_statement.body)
    assert [type(s).__name__ for s in found] == ["SimpleStatementLine", "If"]


def test_statements_of_a_one_line_suite_is_the_suite_itself():
    if_statement = statement("if x: a = 1; b()\n")
    found = statements(if_statement.body)
    assert len(found) == 1 and found[0] is if_statement.body


def test_small_statements_of_a_line_are_its_parts():
    line = statement("a = 1; import os; b()\n")
    assert [type(s).__name__ for s in small_statements(line)] == ["Assign", "Import", "Expr"]


def test_small_statements_of_a_one_line_suite_are_its_parts():
    if_statement = statement("if x: a = 1; return\n")
    (suite,) = statements(if_statement.body)
    assert [type(s).__name__ for s in small_statements(suite)] == ["Assign", "Return"]


def test_a_compound_statement_has_no_small_statements():
    assert small_statements(statement("if x:\n    a = 1\n")) == ()


# -- descendants ---------------------------------------------------------------------------------


def test_descendants_are_in_source_order():
    function = statement(
        """\
        def f():
            x = g(a, b.c)
            return h(d)
        """
    )
    assert names_in(descendants(function.body)) == ["x", "g", "a", "b", "c", "h", "d"]


def test_descendants_do_not_include_the_node_itself():
    call = cst.parse_expression("f(a)")
    assert all(node is not call for node in descendants(call))
    assert names_in(descendants(call)) == ["f", "a"]


def test_descendants_yield_a_nested_def_without_entering_it():
    function = statement(
        """\
        async def outer():
            before()
            async def inner():
                hidden()
            after()
        """
    )
    found = list(descendants(function.body))
    assert [n.name.value for n in found if isinstance(n, cst.FunctionDef)] == ["inner"]
    assert names_in(found) == ["before", "after"]


def test_descendants_yield_a_nested_class_and_lambda_without_entering_them():
    function = statement(
        """\
        def outer():
            class Inner(Base):
                hidden = 1
            key = lambda item: item.size
        """
    )
    found = list(descendants(function.body))
    assert [type(n).__name__ for n in found if isinstance(n, (cst.ClassDef, cst.Lambda))] == [
        "ClassDef",
        "Lambda",
    ]
    assert names_in(found) == ["key"]


def test_descendants_enter_nested_scopes_when_asked():
    function = statement(
        """\
        def outer():
            def inner():
                hidden()
            key = lambda item: item
        """
    )
    assert names_in(descendants(function.body, enter_nested_scopes=True)) == [
        "inner",
        "hidden",
        "key",
        "item",
        "item",
    ]


# -- has_cancellation_point ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "await g()",
        "x = 1 + await g()",
        "async for item in stream:\n    pass\n",
        "async with lock:\n    pass\n",
        "items = [item async for item in stream]",
        "items = {item async for item in stream}",
        "items = {key: value async for key, value in stream}",
        "items = [await item for item in pending]",
        "if ready:\n    pass\nelse:\n    await g()\n",
        "try:\n    pass\nexcept ValueError:\n    await g()\n",
        "return await g()",
        # A generator expression's first iterable is evaluated at once, where it stands.
        "total = sum(row for row in await client.rows())",
        "rows = (row async for row in await client.stream())",
    ],
)
def test_an_await_async_for_async_with_or_async_comprehension_is_a_cancellation_point(source):
    assert has_cancellation_point(coroutine_body(source)) is True


@pytest.mark.parametrize(
    "source",
    [
        "g()",
        "for item in items:\n    pass\n",
        "with lock:\n    pass\n",
        "items = [item for item in stream]",
        "async def inner():\n    await g()\n",
        "def inner():\n    async def deeper():\n        await g()\n",
        "class Inner:\n    async def method(self):\n        await g()\n",
        "items = (await item for item in pending)",
        "items = (item async for item in stream)",
        "items = (item for item in stream)",
    ],
)
def test_code_that_does_not_suspend_the_task_is_no_cancellation_point(source):
    assert has_cancellation_point(coroutine_body(source)) is False


def test_a_try_statement_has_a_cancellation_point_in_its_handler():
    try_statement = coroutine_body("try:\n    pass\nexcept ValueError:\n    await g()\n").body[0]
    assert has_cancellation_point(try_statement.body) is False
    assert has_cancellation_point(try_statement) is True


# -- method_receiver and calls_method ------------------------------------------------------------


def test_method_receiver_is_the_object_of_a_method_call():
    receiver = method_receiver(cst.parse_expression("task.cancel()"), ("cancel",))
    assert receiver is not None and code(receiver) == "task"


def test_method_receiver_is_a_whole_attribute_chain():
    receiver = method_receiver(cst.parse_expression("self.tasks[0].cancel()"), {"cancel"})
    assert receiver is not None and code(receiver) == "self.tasks[0]"


def test_method_receiver_matches_any_of_the_methods():
    call = cst.parse_expression("f.set_exception(e)")
    receiver = method_receiver(call, ("set_result", "set_exception"))
    assert receiver is not None and code(receiver) == "f"


@pytest.mark.parametrize("expression", ["task.close()", "cancel(task)", "task.cancel", "task"])
def test_method_receiver_of_anything_else_is_none(expression):
    assert method_receiver(cst.parse_expression(expression), ("cancel",)) is None


def test_calls_method_finds_the_call_in_the_node_itself():
    assert calls_method(cst.parse_expression("task.cancel()"), "cancel") is True


def test_calls_method_finds_a_call_below_the_node():
    function = statement("def f():\n    if x:\n        log(task.cancel())\n")
    assert calls_method(function.body, "cancel") is True


def test_calls_method_ignores_a_call_in_a_nested_scope():
    function = statement("def f():\n    def later():\n        task.cancel()\n")
    assert calls_method(function.body, "cancel") is False


def test_calls_method_ignores_a_plain_function_call():
    function = statement("def f():\n    cancel(task)\n")
    assert calls_method(function.body, "cancel") is False


def test_calls_method_ignores_other_methods():
    function = statement("def f():\n    task.cancelled()\n")
    assert calls_method(function.body, "cancel") is False


# -- bound_name ----------------------------------------------------------------------------------


def test_bound_name_is_the_name_after_as():
    clause = handler("try:\n    pass\nexcept ValueError as error:\n    pass\n")
    assert bound_name(clause) == "error"


def test_bound_name_of_a_clause_without_as_is_none():
    assert bound_name(handler("try:\n    pass\nexcept ValueError:\n    pass\n")) is None


def test_bound_name_of_a_bare_except_is_none():
    assert bound_name(handler("try:\n    pass\nexcept:\n    pass\n")) is None


def test_bound_name_of_an_except_star_clause_is_the_name_after_as():
    clause = handler("try:\n    pass\nexcept* OSError as group:\n    pass\n")
    assert isinstance(clause, cst.ExceptStarHandler)
    assert bound_name(clause) == "group"


# -- blocks --------------------------------------------------------------------------------------


def test_an_if_has_one_body_block_owned_by_itself():
    node = statement("if a:\n    x()\n")
    assert [(block.kind, block.owner) for block in blocks(node)] == [(BODY, node)]


def test_if_elif_else_blocks_are_the_body_then_one_alternative_per_branch():
    node = statement(
        """\
        if a:
            x()
        elif b:
            y()
        else:
            z()
        """
    )
    assert block_kinds(node) == [BODY, ALTERNATIVE, ALTERNATIVE]
    assert block_suites(node) == ["x()", "y()", "z()"]


def test_an_elif_block_is_owned_by_its_if_node_and_an_else_block_by_the_else():
    node = statement("if a:\n    x()\nelif b:\n    y()\nelse:\n    z()\n")
    owners = [block.owner for block in blocks(node)]
    assert owners[0] is node
    assert owners[1] is node.orelse
    assert owners[2] is node.orelse.orelse
    assert isinstance(owners[2], cst.Else)


def test_a_chain_of_two_thousand_elifs_is_followed_without_recursion():
    # Built directly (no parser), innermost branch first; 2,000 levels exceed the default
    # recursion limit, so a recursive walk would fail here.
    count = 2000
    branch: cst.BaseStatement = cst.Else(body=cst.SimpleStatementSuite([cst.Pass()]))
    for index in range(count, 0, -1):
        branch = cst.If(
            test=cst.Name(f"c{index}"),
            body=cst.SimpleStatementSuite([cst.Pass()]),
            orelse=branch,
        )
    node = cst.If(test=cst.Name("c0"), body=cst.SimpleStatementSuite([cst.Pass()]), orelse=branch)
    kinds = block_kinds(node)
    assert kinds == [BODY] + [ALTERNATIVE] * (count + 1)


def test_try_blocks_are_the_body_each_handler_else_and_finally_in_order():
    node = statement(
        """\
        try:
            a()
        except ValueError:
            b()
        except KeyError:
            c()
        else:
            d()
        finally:
            e()
        """
    )
    assert block_kinds(node) == [BODY, HANDLER, HANDLER, ELSE, FINALLY]
    assert block_suites(node) == ["a()", "b()", "c()", "d()", "e()"]


def test_try_blocks_are_owned_by_the_try_its_clauses_its_else_and_its_finally():
    node = statement("try:\n    a()\nexcept E:\n    b()\nelse:\n    c()\nfinally:\n    d()\n")
    owners = [block.owner for block in blocks(node)]
    assert owners[0] is node
    assert owners[1] is node.handlers[0]
    assert owners[2] is node.orelse
    assert owners[3] is node.finalbody


def test_try_finally_blocks_are_the_body_and_finally():
    assert block_kinds(statement("try:\n    a()\nfinally:\n    b()\n")) == [BODY, FINALLY]


def test_try_star_blocks_are_the_body_each_handler_else_and_finally_in_order():
    node = statement(
        """\
        try:
            a()
        except* ValueError:
            b()
        except* KeyError:
            c()
        else:
            d()
        finally:
            e()
        """
    )
    assert isinstance(node, cst.TryStar)
    assert block_kinds(node) == [BODY, HANDLER, HANDLER, ELSE, FINALLY]
    assert all(
        isinstance(block.owner, cst.ExceptStarHandler)
        for block in blocks(node)
        if block.kind is HANDLER
    )


@pytest.mark.parametrize(
    "source",
    [
        "for x in y:\n    a()\nelse:\n    b()\n",
        "async for x in y:\n    a()\nelse:\n    b()\n",
        "while x:\n    a()\nelse:\n    b()\n",
    ],
)
def test_loop_blocks_are_the_body_and_else(source):
    node = statement(source)
    assert block_kinds(node) == [BODY, ELSE]
    assert block_suites(node) == ["a()", "b()"]


@pytest.mark.parametrize("source", ["for x in y:\n    a()\n", "while x:\n    a()\n"])
def test_a_loop_without_else_has_only_a_body(source):
    assert block_kinds(statement(source)) == [BODY]


@pytest.mark.parametrize(
    "source",
    [
        "with a:\n    b()\n",
        "async with a, b as c:\n    b()\n",
        "def f():\n    b()\n",
        "async def f():\n    b()\n",
        "@decorator\nclass C(Base):\n    b()\n",
    ],
)
def test_with_def_and_class_have_one_body_block_owned_by_themselves(source):
    node = statement(source)
    assert [(block.kind, block.owner) for block in blocks(node)] == [(BODY, node)]
    assert block_suites(node) == ["b()"]


def test_match_blocks_are_one_case_per_case_clause_owned_by_it():
    node = statement(
        """\
        match command:
            case "go":
                a()
            case [x, y]:
                b()
            case _:
                c()
        """
    )
    assert block_kinds(node) == [CASE, CASE, CASE]
    assert block_suites(node) == ["a()", "b()", "c()"]
    assert [block.owner for block in blocks(node)] == list(node.cases)


def test_a_one_line_suite_is_the_block():
    node = statement("if a: x(); y()\n")
    (block,) = blocks(node)
    assert isinstance(block.suite, cst.SimpleStatementSuite)


@pytest.mark.parametrize("source", ["x = 1\n", "import os\n", "return\n", "raise\n"])
def test_a_simple_statement_has_no_blocks(source):
    module = cst.parse_module(source)
    assert list(blocks(module.body[0])) == []


def test_an_expression_has_no_blocks():
    assert list(blocks(cst.parse_expression("f(x)"))) == []


# -- path_to and holders -------------------------------------------------------------------------
def test_path_to_names_each_level_from_the_statement_out():
    module = cst.parse_module(
        "async def f():\n"
        "    for x in xs:\n"
        "        try:\n"
        "            a()\n"
        "        finally:\n"
        "            with lock:\n"
        "                target()\n"
        "    after()\n"
    )
    function = module.body[0]
    loop = function.body.body[0]
    try_statement = loop.body.body[0]
    with_statement = try_statement.finalbody.body.body[0]
    target = with_statement.body.body[0]
    path = path_to(statements(function.body), target)
    assert [(level.index, level.kind) for level in path] == [
        (0, BlockKind.BODY),  # the with's body
        (0, BlockKind.FINALLY),  # the try's finally
        (0, BlockKind.BODY),  # the loop's body
        (0, None),  # the function's body
    ]
    assert holders(path) == [
        (with_statement, BlockKind.BODY),
        (try_statement, BlockKind.FINALLY),
        (loop, BlockKind.BODY),
    ]


def test_path_to_does_not_enter_nested_scopes():
    module = cst.parse_module("def f():\n    def g():\n        target()\n")
    inner = module.body[0].body.body[0]
    target = inner.body.body[0]
    assert path_to(statements(module.body[0].body), target) is None
    assert path_to(statements(inner.body), target)[0].index == 0
