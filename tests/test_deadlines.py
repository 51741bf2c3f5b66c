"""Which coroutine functions run under a deadline (flake8_cancel/deadlines.py).

Driven as the engine drives it: a ``ModuleContext`` with a call index, filled by the one site
walker (``collect_sites``), then ``context.timed_functions``. Functions are named by their
qualified name in the module (``Client.fetch``) so each test compares an exact set.
"""

from __future__ import annotations

import textwrap
from typing import Dict, FrozenSet, List, Sequence

import libcst as cst
import pytest

from flake8_cancel.deadlines import header_expressions
from flake8_cancel.settings import Settings
from flake8_cancel.sites import ModuleContext, collect_sites
from flake8_cancel.syntax import Statement, blocks, statements

EMPTY = cst.Module(body=[])


def _function_names(module: cst.Module) -> Dict[int, str]:
    names: Dict[int, str] = {}

    def visit(block: Sequence[Statement], prefix: str) -> None:
        for statement in block:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                name = prefix + statement.name.value
                if isinstance(statement, cst.FunctionDef):
                    names[id(statement)] = name
                visit(statements(statement.body), name + ".")
            else:
                for found in blocks(statement):
                    visit(statements(found.suite), prefix)

    visit(module.body, "")
    return names


def timed(
    source: str, settings: Settings = Settings(), index_calls: bool = True
) -> FrozenSet[str]:
    source = textwrap.dedent(source)
    module = cst.parse_module(source)
    context = ModuleContext(module, source, settings, (3, 11), index_calls=index_calls)
    collect_sites(context)
    names = _function_names(module)
    return frozenset(names[function] for function in context.timed_functions)


# -- asyncio.wait_for ----------------------------------------------------------------------------


def test_wait_for_seeds_the_module_level_coroutine_it_runs():
    source = """\
        import asyncio

        async def f():
            pass

        async def g():
            pass

        async def main():
            await asyncio.wait_for(f(), 1)
            await g()
    """
    assert timed(source) == {"f"}


def test_wait_for_imported_from_asyncio_seeds_the_coroutine():
    source = """\
        from asyncio import wait_for

        async def f():
            pass

        async def main():
            await wait_for(f(), timeout=1)
    """
    assert timed(source) == {"f"}


def test_wait_for_at_module_level_seeds_the_coroutine():
    source = """\
        import asyncio

        async def f():
            pass

        asyncio.run(asyncio.wait_for(f(), 1))
    """
    assert timed(source) == {"f"}


def test_a_wait_for_of_another_module_seeds_nothing():
    source = """\
        from mylib import wait_for

        async def f():
            pass

        async def main():
            await wait_for(f(), 1)
    """
    assert timed(source) == frozenset()


def test_wait_for_of_a_task_rather_than_a_call_seeds_nothing():
    source = """\
        import asyncio

        async def f():
            pass

        async def main():
            task = asyncio.create_task(f())
            await asyncio.wait_for(task, 1)
    """
    assert timed(source) == frozenset()


def test_wait_for_of_a_method_of_another_object_seeds_nothing():
    source = """\
        import asyncio

        async def f():
            pass

        async def main(client):
            await asyncio.wait_for(client.f(), 1)
    """
    assert timed(source) == frozenset()


def test_wait_for_of_self_method_seeds_the_method_of_that_class_only():
    source = """\
        import asyncio

        async def fetch():
            pass

        class Client:
            async def fetch(self):
                pass

            async def run(self):
                await asyncio.wait_for(self.fetch(), 1)

        class Other:
            async def fetch(self):
                pass
    """
    assert timed(source) == {"Client.fetch"}


def test_wait_for_of_cls_method_seeds_the_method_of_that_class():
    source = """\
        import asyncio

        class Client:
            @classmethod
            async def fetch(cls):
                pass

            @classmethod
            async def run(cls):
                await asyncio.wait_for(cls.fetch(), 1)
    """
    assert timed(source) == {"Client.fetch"}


def test_wait_for_of_self_method_in_a_function_nested_in_a_method_seeds_the_method():
    source = """\
        import asyncio

        class Client:
            async def fetch(self):
                pass

            async def run(self):
                async def attempt():
                    await asyncio.wait_for(self.fetch(), 1)
                await attempt()
    """
    assert timed(source) == {"Client.fetch"}


def test_wait_for_of_self_method_outside_a_class_seeds_nothing():
    source = """\
        import asyncio

        async def fetch():
            pass

        async def run(self):
            await asyncio.wait_for(self.fetch(), 1)
    """
    assert timed(source) == frozenset()


def test_wait_for_of_a_self_method_the_class_does_not_define_seeds_nothing():
    source = """\
        import asyncio

        class Client:
            async def run(self):
                await asyncio.wait_for(self.fetch(), 1)

        class Other:
            async def fetch(self):
                pass
    """
    assert timed(source) == frozenset()


# -- timeout blocks ------------------------------------------------------------------------------


def test_an_await_inside_a_timeout_block_seeds_the_awaited_coroutine():
    source = """\
        import asyncio

        async def f():
            pass

        async def main():
            async with asyncio.timeout(1):
                await f()
    """
    assert timed(source) == {"f"}


def test_an_await_nested_in_blocks_inside_a_timeout_block_seeds_the_coroutine():
    source = """\
        import asyncio

        async def f():
            pass

        async def main(items):
            async with asyncio.timeout(1):
                for item in items:
                    try:
                        pass
                    except ValueError:
                        if item:
                            result = await f()
    """
    assert timed(source) == {"f"}


def test_an_await_of_self_method_inside_a_timeout_block_seeds_the_method():
    source = """\
        import asyncio

        class Client:
            async def fetch(self):
                pass

            async def run(self):
                async with asyncio.timeout(1):
                    await self.fetch()
    """
    assert timed(source) == {"Client.fetch"}


@pytest.mark.parametrize(
    "imports, manager",
    [
        ("import asyncio", "asyncio.timeout_at(deadline)"),
        ("from asyncio import timeout", "timeout(1)"),
        ("import async_timeout", "async_timeout.timeout(1)"),
    ],
)
def test_every_timeout_manager_opens_a_timeout_block(imports, manager):
    source = f"""\
{imports}

async def f():
    pass

async def main(deadline):
    async with {manager}:
        await f()
"""
    assert timed(source) == {"f"}


def test_a_configured_timeout_manager_opens_a_timeout_block():
    source = """\
        import anyio

        async def f():
            pass

        async def main():
            async with anyio.fail_after(1):
                await f()
    """
    settings = Settings(extra_timeout_managers=("anyio.fail_after",))
    assert timed(source, settings) == {"f"}


def test_an_async_with_of_another_manager_is_no_timeout_block():
    source = """\
        import asyncio

        async def f():
            pass

        async def main(lock):
            async with lock:
                await f()
    """
    assert timed(source) == frozenset()


def test_an_await_after_the_timeout_block_seeds_nothing():
    source = """\
        import asyncio

        async def f():
            pass

        async def main():
            async with asyncio.timeout(1):
                pass
            await f()
    """
    assert timed(source) == frozenset()


def test_an_await_in_the_header_of_a_timeout_block_is_outside_it():
    source = """\
        import asyncio

        async def delay():
            pass

        async def main():
            async with asyncio.timeout(await delay()):
                pass
    """
    assert timed(source) == frozenset()


def test_an_await_of_a_method_of_another_object_in_a_timeout_block_seeds_nothing():
    source = """\
        import asyncio

        async def f():
            pass

        async def main(client):
            async with asyncio.timeout(1):
                await client.f()
    """
    assert timed(source) == frozenset()


def test_an_await_outside_any_deadline_seeds_nothing():
    source = """\
        import asyncio

        async def f():
            pass

        async def main():
            await f()
            await asyncio.sleep(1)
    """
    assert timed(source) == frozenset()


# -- transitive awaits ---------------------------------------------------------------------------


def test_what_a_timed_function_awaits_is_timed_transitively():
    source = """\
        import asyncio

        async def h():
            pass

        async def g():
            await h()

        async def f():
            await g()

        async def unrelated():
            pass

        async def main():
            await asyncio.wait_for(f(), 1)
            await unrelated()
    """
    assert timed(source) == {"f", "g", "h"}


def test_what_a_function_awaits_from_inside_its_blocks_is_timed():
    source = """\
        import asyncio

        async def g():
            pass

        async def f(flag):
            while flag:
                with open("x") as handle:
                    await g()

        async def main():
            async with asyncio.timeout(1):
                await f(True)
    """
    assert timed(source) == {"f", "g"}


def test_a_timed_method_times_the_methods_it_awaits_through_self():
    source = """\
        import asyncio

        class Client:
            async def connect(self):
                pass

            async def fetch(self):
                await self.connect()

            async def run(self):
                await asyncio.wait_for(self.fetch(), 1)
    """
    assert timed(source) == {"Client.fetch", "Client.connect"}


def test_awaits_that_call_each_other_are_followed_once():
    source = """\
        import asyncio

        async def ping():
            await pong()

        async def pong():
            await ping()

        async def main():
            await asyncio.wait_for(ping(), 1)
    """
    assert timed(source) == {"ping", "pong"}


def test_a_caller_of_a_timed_function_is_not_timed():
    source = """\
        import asyncio

        async def g():
            pass

        async def f():
            await g()

        async def main():
            await asyncio.wait_for(g(), 1)
            await f()
    """
    assert timed(source) == {"g"}


# -- what is never timed -------------------------------------------------------------------------


def test_a_sync_def_is_never_timed():
    source = """\
        import asyncio

        def make():
            return asyncio.sleep(1)

        async def main():
            await asyncio.wait_for(make(), 1)
            async with asyncio.timeout(1):
                await make()
    """
    assert timed(source) == frozenset()


def test_a_nested_defs_await_is_its_own_not_its_enclosing_functions():
    source = """\
        import asyncio

        async def g():
            pass

        async def f():
            async def later():
                await g()
            return later

        async def main():
            await asyncio.wait_for(f(), 1)
    """
    assert timed(source) == {"f"}


def test_a_def_nested_in_a_timeout_block_does_not_run_under_it():
    source = """\
        import asyncio

        async def g():
            pass

        async def main():
            async with asyncio.timeout(1):
                async def later():
                    await g()
    """
    assert timed(source) == frozenset()


def test_a_lambda_in_a_timeout_block_is_not_an_await_of_the_block():
    source = """\
        import asyncio

        async def g():
            pass

        async def main(loop):
            async with asyncio.timeout(1):
                loop.call_soon(lambda: g())
    """
    assert timed(source) == frozenset()


def test_without_a_call_index_nothing_is_timed():
    source = """\
        import asyncio

        async def f():
            pass

        async def main():
            await asyncio.wait_for(f(), 1)
    """
    assert timed(source, index_calls=False) == frozenset()


# -- header_expressions --------------------------------------------------------------------------


def codes(nodes: Sequence[cst.CSTNode]) -> List[str]:
    # A small statement's code includes the semicolon that separates it from the next.
    return [EMPTY.code_for_node(node).strip().rstrip(";") for node in nodes]


def header_codes(source: str) -> List[str]:
    module = cst.parse_module(textwrap.dedent(source))
    return codes(header_expressions(module.body[0]))


def test_the_header_of_a_simple_statement_line_is_its_small_statements():
    assert header_codes("x = await f(); await g()\n") == ["x = await f()", "await g()"]


def test_the_header_of_a_one_line_suite_is_its_small_statements():
    module = cst.parse_module("if x: a(); b()\n")
    (suite,) = statements(module.body[0].body)
    assert codes(header_expressions(suite)) == ["a()", "b()"]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("if await ready():\n    body()\nelse:\n    other()\n", ["await ready()"]),
        ("if a():\n    x()\nelif await b():\n    y()\nelif c():\n    z()\n", ["a()", "await b()", "c()"]),
        ("while await more():\n    body()\n", ["await more()"]),
        ("for item in await items():\n    body(item)\n", ["await items()"]),
        ("async for item in stream(x):\n    body(item)\n", ["stream(x)"]),
        ("with open(a) as f, lock:\n    body()\n", ["open(a)", "lock"]),
        ("async with asyncio.timeout(1) as t:\n    body()\n", ["asyncio.timeout(1)"]),
        ("match await command():\n    case _:\n        body()\n", ["await command()"]),
        (
            "match x:\n    case 1 if await one():\n        a()\n    case _:\n        b()\n",
            ["x", "await one()"],
        ),
    ],
)
def test_the_header_of_a_compound_statement_is_what_it_evaluates_itself(source, expected):
    assert header_codes(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "try:\n    await f()\nexcept ValueError:\n    pass\n",
        "try:\n    await f()\nexcept* ValueError:\n    pass\n",
        "async def f():\n    await g()\n",
        "def f(x=g()):\n    pass\n",
        "class C(Base):\n    x = f()\n",
    ],
)
def test_try_def_and_class_have_no_header_expressions(source):
    assert header_codes(source) == []


def test_a_coroutine_awaited_in_an_elif_test_under_a_timeout_block_is_timed():
    source = """\
        import asyncio

        async def fetch():
            pass

        async def main(flag):
            async with asyncio.timeout(1):
                if flag:
                    pass
                elif await fetch():
                    pass
    """
    assert timed(source) == {"fetch"}


def test_a_coroutine_awaited_in_a_case_guard_under_a_timeout_block_is_timed():
    source = """\
        import asyncio

        async def fetch():
            pass

        async def main(command):
            async with asyncio.timeout(1):
                match command:
                    case 1 if await fetch():
                        pass
    """
    assert timed(source) == {"fetch"}
