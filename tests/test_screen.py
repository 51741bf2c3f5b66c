"""The screen (screen.py) and the regions (regions.py) change what libcst parses, never what is
found: on every fixture, with every rule and with each rule alone, the findings and their fixes'
availability are those of the whole module parsed by libcst; and a region of one candidate finds
there what the whole module finds there."""

from __future__ import annotations

import ast
import textwrap
from typing import List, Optional, Tuple

import pytest

from fixture_tools import FIXTURE_NAMES, engine_for, fixture
from flake8_cancel.engine import Engine, Issue
from flake8_cancel.fixer import fix_availability
from flake8_cancel.modules import imported_definitions_text
from flake8_cancel.regions import region_for
from flake8_cancel.rules import all_rules
from flake8_cancel.screen import Named, Screen, exit_function, handler, raising
from flake8_cancel.settings import Settings
from flake8_cancel.source import parse

Found = List[Tuple[object, Optional[str]]]


def whole(engine: Engine, source: str) -> List[Issue]:
    """The findings of the whole module parsed by libcst, as before the screen."""
    target_version = engine.target_version_if_admitted(source, None)
    if target_version is None:
        return []
    return engine.analyze_module(parse(source), source, target_version, ast.parse(source))


def found(issues: List[Issue]) -> Found:
    return sorted((issue.finding, fix_availability(issue)) for issue in issues)


def test_every_rule_declares_its_candidates():
    assert [rule.code for rule in all_rules() if rule.screen is None] == []


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_the_screen_and_the_regions_find_what_the_whole_module_does(name):
    item = fixture(name)
    engine = engine_for(item.options)
    for alone in [None, *engine.rules]:
        checked = engine if alone is None else Engine(engine.settings, [type(alone)])
        assert found(checked.analyze(item.text)) == found(whole(checked, item.text)), alone


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_a_region_of_one_candidate_finds_what_the_whole_module_finds_there(name):
    item = fixture(name)
    engine = engine_for(item.options)
    target_version = engine.target_version_if_admitted(item.text, None)
    if target_version is None:
        return
    tree = ast.parse(item.text)
    expected = found(whole(engine, item.text))
    screen = engine.rule_set(target_version).screen
    for place, asks_callers in screen.places_with_candidates(tree, item.text).items():
        region = region_for(tree, item.text, {place: asks_callers})
        if region is None:
            continue
        issues = engine.analyze_region(region, item.text, target_version, None)
        if issues is None:
            continue  # the whole module must tell
        node = tree.body[place.statement]
        if place.member is not None:
            node = node.body[place.member]  # type: ignore[attr-defined]
        # Only the candidate's findings are vouched for: the region may keep other units (that
        # call it, or cancel tasks) without what their own analysis would read.
        lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        assert [f for f in found(issues) if f[0].line in lines] == [
            f for f in expected if f[0].line in lines
        ], place


def places(source: str, *declarations) -> List[Tuple[int, Optional[int]]]:
    source = textwrap.dedent(source)
    screen = Screen(declarations or [rule.screen for rule in all_rules()], Settings())
    return [tuple(place) for place in screen.places_with_candidates(ast.parse(source), source)]


def test_names_are_followed_through_imports_and_aliases_anywhere():
    source = """
        import asyncio
        from asyncio import CancelledError as Stop
        ERRORS = (OSError, asyncio.CancelledError)
        Alias = ERRORS

        async def a(c):
            try:
                await c()
            except Stop:
                pass

        async def b(c):
            try:
                await c()
            except Alias:
                pass

        async def c(c):
            try:
                await c()
            except OSError:
                pass
    """
    assert places(source, handler(Named.CANCELLATION)) == [(4, None), (5, None)]


def test_only_sites_of_async_functions_are_candidates_and_classes_by_method():
    source = """
        import asyncio

        def sync(c):
            try:
                c()
            except asyncio.CancelledError:
                pass

        async def nested(c):
            def inner():
                try:
                    c()
                except asyncio.CancelledError:
                    pass
            return inner

        async def never_awaits(c):
            try:
                c()
            except asyncio.CancelledError:
                pass

        class Worker:
            name = "w"

            async def run(self, c):
                try:
                    await c()
                except asyncio.CancelledError:
                    pass
    """
    assert places(source) == [(4, 1)]


def test_a_timeout_handler_is_a_candidate_where_a_deadline_may_reach_it():
    source = """
        import asyncio

        async def timed_by_caller(c):
            try:
                await c()
            except TimeoutError:
                pass

        async def caller(c):
            await asyncio.wait_for(timed_by_caller(c), 1)

        async def never_timed(c):
            try:
                await c()
            except TimeoutError:
                pass

        async def timed_here(c):
            async with asyncio.timeout(1):
                try:
                    await c()
                except TimeoutError:
                    pass
    """
    screen = Screen([handler(Named.TIMEOUT, timed=True)], Settings())
    source = textwrap.dedent(source)
    found_places = screen.places_with_candidates(ast.parse(source), source)
    assert {tuple(place): asks for place, asks in found_places.items()} == {
        (1, None): True, (4, None): False,
    }


MODULE = '''\
import asyncio

LIMIT = 3


def helper(c):
    return c


def unrelated(c):
    return [x for x in c]


class Worker:
    """A worker."""

    retries = LIMIT

    async def run(self, c):
        try:
            await c()
        except asyncio.CancelledError:
            self.stop()

    def stop(self):
        return helper(self)

    def unused(self):
        return unrelated(self)
'''


def test_a_region_keeps_what_the_analysis_reads_and_places_findings_in_the_file():
    tree = ast.parse(MODULE)
    engine = Engine(Settings(target_version=(3, 11)))
    candidates = engine.rule_set((3, 11)).screen.places_with_candidates(tree, MODULE)
    region = region_for(tree, MODULE, candidates)
    assert region is not None
    assert "def helper" in region.text and "def stop" in region.text
    assert "retries = LIMIT" in region.text and '"""A worker."""' in region.text
    assert "unrelated" not in region.text and "def unused" not in region.text
    codes = [(finding.line, finding.code) for finding in engine.check(MODULE)]
    assert codes == [(22, "CAN101")]


def test_a_module_that_calls_a_runner_is_parsed_whole():
    source = MODULE + "\n\nasyncio.run(Worker().run(print))\n"
    tree = ast.parse(source)
    engine = Engine(Settings(target_version=(3, 11)))
    candidates = engine.rule_set((3, 11)).screen.places_with_candidates(tree, source)
    assert region_for(tree, source, candidates) is None  # MODULE alone defines a `run` only


def test_a_position_found_without_the_ast_is_still_the_files():
    """When the ``ast`` cannot be matched with the region, libcst's own positions (lines of the
    region's text) are mapped back to the file's lines."""
    tree = ast.parse(MODULE)
    engine = Engine(Settings(target_version=(3, 11)))
    candidates = engine.rule_set((3, 11)).screen.places_with_candidates(tree, MODULE)
    region = region_for(tree, MODULE, candidates)
    assert region is not None
    module = parse(region.text)
    unmatched = ast.Module(body=[], type_ignores=[])
    issues = engine.analyze_module(
        module, MODULE, (3, 11), unmatched, None, region.file_line
    )
    assert [(issue.finding.line, issue.finding.column) for issue in issues] == [(22, 8)]


# -- what the screen learnt with CAN112, CAN113 and the libraries -------------------------------


def test_a_raise_of_the_cancellation_in_a_coroutine_is_a_candidate():
    source = """
        import asyncio
        from anyio import get_cancelled_exc_class

        async def raises_asyncio(c):
            raise asyncio.CancelledError()

        async def raises_anyio(c):
            raise get_cancelled_exc_class()

        async def raises_another(c):
            raise ValueError()

        def sync(c):
            raise asyncio.CancelledError()
    """
    assert places(source, raising(Named.CANCELLATION)) == [(2, None), (3, None)]


def test_an_exit_is_a_candidate_where_it_raises_and_names_the_cancellation():
    source = """
        import asyncio
        from contextlib import contextmanager

        class Converts:
            def __exit__(self, exc_type, exc, tb):
                if exc_type is asyncio.CancelledError:
                    raise TimeoutError

        class PassesItOn:
            def __exit__(self, exc_type, exc, tb):
                return self.convert(exc_type)

        class NeverNamesIt:
            def __exit__(self, exc_type, exc, tb):
                if exc_type is ValueError:
                    raise KeyError

        @contextmanager
        def converting():
            try:
                yield
            except asyncio.CancelledError:
                raise TimeoutError

        @contextmanager
        def only_traces(trace):
            try:
                yield
            except Exception as ex:
                trace.set_error(ex)
                raise ex
    """
    assert places(source, exit_function()) == [(2, 0), (3, 0), (5, None)]


def test_a_cleanup_handler_is_a_candidate_only_where_every_path_may_propagate():
    source = """
        async def reraises(conn):
            try:
                await conn.send()
            except Exception:
                await conn.aclose()
                raise

        async def returns(flow, conn):
            try:
                await conn.send()
            except Exception:
                conn.close()
                return flow.async_abort(reason="unknown")

        async def falls_through(conn):
            try:
                await conn.send()
            except Exception:
                conn.close()
                result = None

        async def cleanup_word_in_a_name(client):
            try:
                await client.send()
            except Exception:
                client.adb_close()
                raise
    """
    candidate = handler(Named.EXCEPTION, calls=Named.CLEANUP, ends_propagating=True)
    # `return f()` may propagate: f may never return (flow.py's NEVER_RETURNS).
    assert places(source, candidate) == [(0, None), (1, None), (3, None)]


def test_a_swallowing_handler_is_a_candidate_only_where_a_path_may_end_without_raising():
    source = """
        async def reraises(c, log):
            try:
                await c()
            except asyncio.CancelledError:
                log.warning("stopped")
                raise

        async def raises_on_both_branches(c, closing):
            try:
                await c()
            except asyncio.CancelledError:
                if closing:
                    raise
                else:
                    raise RuntimeError

        async def falls_through(c, log):
            try:
                await c()
            except asyncio.CancelledError:
                log.warning("stopped")

        async def returns_before(c, quiet):
            try:
                await c()
            except asyncio.CancelledError:
                if quiet:
                    return
                raise

        async def under_a_suppressor(c):
            try:
                await c()
            except asyncio.CancelledError:
                with contextlib.suppress(asyncio.CancelledError):
                    raise

        async def yields(c):
            try:
                await c()
            except asyncio.CancelledError:
                yield None
                raise

        async def continues(items):
            for item in items:
                try:
                    await item()
                except asyncio.CancelledError:
                    if item.optional:
                        continue
                    raise

        async def ends_in_a_call(c):
            try:
                await c()
            except asyncio.CancelledError:
                sys.exit(1)
    """
    # A call may not return (flow.py's NEVER_RETURNS is no swallowing path, but it may return).
    assert places(source, handler(Named.CANCELLATION, swallows=True)) == [
        (2, None), (3, None), (4, None), (5, None), (6, None), (7, None)
    ]
    assert places(source, handler(Named.CANCELLATION)) == [(i, None) for i in range(8)]


def test_a_converting_handler_is_a_candidate_only_where_it_may_raise_what_it_did_not_catch():
    source = """
        async def reraises(c):
            try:
                await c()
            except asyncio.CancelledError:
                await c.close()
                raise

        async def raises_another(c):
            try:
                await c()
            except asyncio.CancelledError:
                raise ConnectionError("stopped")

        async def reraises_an_inner_one(c):
            try:
                await c()
            except asyncio.CancelledError:
                try:
                    c.close()
                except OSError:
                    raise
                raise

        async def reraises_in_a_finally(c):
            try:
                await c()
            except asyncio.CancelledError:
                try:
                    c.close()
                finally:
                    raise

        async def raises_in_a_nested_function(c):
            try:
                await c()
            except asyncio.CancelledError:
                def fail():
                    raise ConnectionError
                raise
    """
    assert places(source, handler(Named.CANCELLATION, raises=Named.OTHER)) == [(1, None), (2, None)]
    assert places(source, handler(Named.CANCELLATION, raises=Named.ANY)) == [(i, None) for i in range(5)]


def test_generator_coroutines_and_trio_deadlines_are_seen():
    source = """
        import asyncio
        import trio

        @asyncio.coroutine
        def legacy(c):
            try:
                yield from c()
            except asyncio.CancelledError:
                pass

        async def trio_timed(c):
            with trio.fail_after(1):
                try:
                    await c()
                except trio.TooSlowError:
                    pass

        async def trio_untimed(c):
            try:
                await c()
            except trio.TooSlowError:
                pass
    """
    assert places(source, handler(Named.CANCELLATION)) == [(2, None)]
    assert places(source, handler(Named.TIMEOUT, timed=True)) == [(3, None)]


def test_a_name_imported_from_the_project_means_its_definition(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "const.py").write_text(
        "import asyncio\nERRORS = (OSError, asyncio.CancelledError)\nHARMLESS = (OSError,)\n"
    )
    source = textwrap.dedent("""
        from . import const
        from .const import ERRORS, HARMLESS

        async def imported(c):
            try:
                await c()
            except ERRORS:
                pass

        async def dotted(c):
            try:
                await c()
            except const.ERRORS:
                pass

        async def harmless(c):
            try:
                await c()
            except HARMLESS:
                pass
    """)
    path = package / "use.py"
    path.write_text(source)
    screen = Screen([handler(Named.CANCELLATION)], Settings())
    imported = imported_definitions_text(source, str(path))
    found_places = screen.places_with_candidates(ast.parse(source), source, imported)
    assert [tuple(place) for place in found_places] == [(2, None), (3, None)]


def test_a_configured_cleanup_method_counts_by_the_words_the_rule_reads():
    """``--cleanup-methods closeAll``: CAN111 takes ``closeall`` as its word, so
    ``conn.closeall()`` releases; the screen reads the same words (names.cleanup_words)."""
    source = textwrap.dedent("""
        async def send(conn):
            try:
                await conn.send()
            except Exception:
                conn.closeall()
                raise
    """)
    engine = Engine(Settings(target_version=(3, 11), extra_cleanup_methods=("closeAll",)))
    issues = engine.analyze(source)
    assert [issue.finding.code for issue in issues] == ["CAN111"]
    assert found(issues) == found(whole(engine, source))
