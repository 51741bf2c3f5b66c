"""Paths through an ``except`` handler (flake8_cancel/flow.py).

Each test states one clause of the path semantics, as flow.py's module docstring gives them (the
ways out of a handler, what a raise re-raises, sanctioned paths, and how ``if``, ``match``, loops,
nested ``try`` and ``with`` are followed) and as the rule docs rest on them: the CAN101 doc, *What
it does* (every path swallows) and *Not reported* (deliberate suppression: ``uncancel()``, the
``cancelling()`` guard), and the CAN102 doc, *What it does* (some paths re-raise, others
swallow).

Most tests give a handler body, which ``handler`` places under ``except asyncio.CancelledError as
exc:`` in an ``async def`` (optionally inside a ``for`` loop), and compare the exact set of
``(exit, sanctioned)`` pairs of its path ends.
"""

from __future__ import annotations

import textwrap
from typing import Optional, Set, Tuple, Union

import libcst as cst
import pytest

from flake8_cancel.flow import Exit, HandlerPaths, analyze_handler, function_never_returns
from flake8_cancel.names import Vocabulary, collect_module_bindings, never_returning_functions

FALLTHROUGH = Exit.FALLTHROUGH
RETURN = Exit.RETURN
BREAK = Exit.BREAK
CONTINUE = Exit.CONTINUE
RERAISE = Exit.RERAISE
NEVER_RETURNS = Exit.NEVER_RETURNS
NEW_CANCELLED = Exit.RAISE_NEW_CANCELLED
OTHER = Exit.RAISE_OTHER

PRELUDE = '''\
import asyncio
import contextlib
import os
import sys
import typing
from asyncio import CancelledError
from contextlib import suppress
from typing import NoReturn


def fail() -> NoReturn:
    raise RuntimeError("fatal")


'''


# -- helpers ---------------------------------------------------------------------------------------
class _FirstTry(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: Optional[Union[cst.Try, cst.TryStar]] = None

    def visit_Try(self, node: cst.Try) -> Optional[bool]:
        if self.found is None:
            self.found = node
        return self.found is None

    def visit_TryStar(self, node: cst.TryStar) -> Optional[bool]:
        if self.found is None:
            self.found = node
        return self.found is None


def exits_of(paths: HandlerPaths) -> Set[Exit]:
    return {end.exit for end in paths.ends}


def paths_of(source: str, **vocabulary_options: object) -> HandlerPaths:
    """The paths of the first handler of the first ``try`` in ``source``."""
    module = cst.parse_module(textwrap.dedent(source))
    bindings = collect_module_bindings(module)
    vocabulary = Vocabulary(
        bindings,
        local_never_returning=never_returning_functions(module, bindings),
        **vocabulary_options,  # type: ignore[arg-type]
    )
    finder = _FirstTry()
    module.visit(finder)
    assert finder.found is not None, "no try statement in the source"
    return analyze_handler(finder.found.handlers[0], vocabulary)


def pairs(paths: HandlerPaths) -> Set[Tuple[Exit, bool]]:
    return {(end.exit, end.sanctioned) for end in paths.ends}


def handler(body: str, *, loop: bool = False, catch: str = "asyncio.CancelledError as exc") -> str:
    """A module whose first ``try`` has a handler with ``body``; in a ``for`` loop if ``loop``."""
    code = "try:\n    await work()\nexcept {}:\n{}\n".format(
        catch, textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    )
    if loop:
        code = "for item in items:\n" + textwrap.indent(code, "    ")
    signature = "async def handle(task, items, flag, other, lock, path):\n"
    return PRELUDE + signature + textwrap.indent(code, "    ")


def ends(body: str, **options: object) -> Set[Tuple[Exit, bool]]:
    return pairs(paths_of(handler(body, **options)))  # type: ignore[arg-type]


def exits(body: str, **options: object) -> Set[Exit]:
    """The exits, for tests where every path is unsanctioned (checked here)."""
    found = ends(body, **options)
    assert all(not sanctioned for _, sanctioned in found), found
    return {exit for exit, _ in found}


# -- Re-raise on a path: what a raise means --------------------------------------------------------
@pytest.mark.parametrize(
    "body, expected",
    [
        ("raise", RERAISE),
        ("raise exc", RERAISE),
        ("raise exc from None", RERAISE),
        ("raise other", OTHER),
        ("raise ValueError()", OTHER),
        ("raise ValueError", OTHER),
        ("raise RuntimeError('stopped') from exc", OTHER),
        ("raise asyncio.CancelledError()", NEW_CANCELLED),
        ("raise asyncio.CancelledError", NEW_CANCELLED),
        ("raise CancelledError", NEW_CANCELLED),
        ("raise CancelledError('why') from exc", NEW_CANCELLED),
        ("raise asyncio.exceptions.CancelledError()", NEW_CANCELLED),
    ],
)
def test_what_a_raise_means(body, expected):
    assert ends(body) == {(expected, False)}


def test_raise_of_the_name_is_other_when_the_handler_binds_no_name():
    assert exits("raise exc", catch="asyncio.CancelledError") == {OTHER}


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import asyncio as aio\n", NEW_CANCELLED),
        ("from asyncio import CancelledError as Stop\n", NEW_CANCELLED),
        ("import concurrent.futures as aio\n", OTHER),  # a different class since 3.8
        ("", OTHER),  # `aio` is not bound by an import: not guessed from the last attribute
    ],
)
def test_cancelled_error_is_resolved_from_the_imports(source, expected):
    raised = "Stop()" if "Stop" in source else "aio.CancelledError()"
    module = source + f"""
try:
    pass
except BaseException:
    raise {raised}
"""
    assert pairs(paths_of(module)) == {(expected, False)}


@pytest.mark.parametrize(
    "body",
    ["sys.exit()", "sys.exit(1)", "os._exit(1)", "fail()", "x = 1; fail()"],
)
def test_a_call_that_never_returns_ends_the_path(body):
    assert exits(body) == {NEVER_RETURNS}


@pytest.mark.parametrize(
    "annotation", ["NoReturn", "typing.NoReturn", "typing.Never", '"NoReturn"', '"typing.Never"']
)
def test_module_level_function_annotated_never_returning(annotation):
    source = f"""
import typing
from typing import NoReturn

def stop() -> {annotation}:
    raise SystemExit

try:
    pass
except BaseException:
    stop()
"""
    assert pairs(paths_of(source)) == {(NEVER_RETURNS, False)}


@pytest.mark.parametrize("annotation", ["None", "int", '"Returns"'])
def test_module_level_function_with_another_annotation_returns(annotation):
    source = f"""
def stop() -> {annotation}:
    pass

try:
    pass
except BaseException:
    stop()
"""
    assert pairs(paths_of(source)) == {(FALLTHROUGH, False)}


def test_from_sys_import_exit_never_returns():
    source = """
from sys import exit

try:
    pass
except BaseException:
    exit(1)
"""
    assert pairs(paths_of(source)) == {(NEVER_RETURNS, False)}


def test_same_named_method_is_not_the_module_level_function():
    source = PRELUDE + """
class Worker:
    def fail(self) -> NoReturn:
        raise RuntimeError

    async def run(self):
        try:
            await work()
        except asyncio.CancelledError:
            self.fail()
"""
    assert pairs(paths_of(source)) == {(FALLTHROUGH, False)}


def test_configured_never_returning_function():
    source = handler("myapp.abort()").replace("import os\n", "import os\nimport myapp\n")
    assert pairs(paths_of(source)) == {(FALLTHROUGH, False)}
    configured = paths_of(source, never_returning=frozenset({"myapp.abort"}))
    assert pairs(configured) == {(NEVER_RETURNS, False)}


# -- Swallowing paths ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, expected",
    [
        ("pass", FALLTHROUGH),
        ("...", FALLTHROUGH),
        ("log(exc)", FALLTHROUGH),
        ("return", RETURN),
        ("return None", RETURN),
        ("return await other()", RETURN),
    ],
)
def test_completing_paths(body, expected):
    assert exits(body) == {expected}


@pytest.mark.parametrize("body, expected", [("break", BREAK), ("continue", CONTINUE)])
def test_break_and_continue_leave_a_handler_inside_a_loop(body, expected):
    assert exits(body, loop=True) == {expected}


@pytest.mark.parametrize(
    "body",
    [
        "for x in items:\n    break\nraise",
        "for x in items:\n    continue\nraise",
        "while flag:\n    break\nraise",
        "while True:\n    break\nraise",
        "async for x in items:\n    break\nraise",
    ],
)
def test_break_and_continue_of_a_loop_inside_the_handler_do_not_leave_it(body):
    assert exits(body, loop=True) == {RERAISE}


@pytest.mark.parametrize("jump, expected", [("break", BREAK), ("continue", CONTINUE)])
def test_jump_in_the_else_of_a_nested_loop_leaves_the_handler(jump, expected):
    body = f"for x in items:\n    pass\nelse:\n    {jump}"
    assert exits(body, loop=True) == {expected}


def test_each_return_is_its_own_path_end():
    paths = paths_of(handler("if flag:\n    return 1\nreturn 2"))
    assert pairs(paths) == {(RETURN, False)}
    assert len(paths.ends) == 2
    assert all(isinstance(end.node, cst.Return) for end in paths.ends)


def test_falling_off_the_end_has_no_node():
    (end,) = paths_of(handler("log(exc)")).ends
    assert end.exit is FALLTHROUGH and end.node is None


# -- HandlerPaths questions ------------------------------------------------------------------------
def test_partial_reraise():
    paths = paths_of(handler("if flag:\n    return\nraise"))
    assert exits_of(paths) == {RETURN, RERAISE}
    assert [end.exit for end in paths.swallowing] == [RETURN]
    assert paths.reraises
    assert not paths.every_path_reraises
    assert OTHER not in exits_of(paths)


def test_every_path_reraises_counts_new_cancelled_and_never_returning():
    body = "if flag:\n    sys.exit()\nelif other:\n    raise\nraise CancelledError"
    paths = paths_of(handler(body))
    assert exits_of(paths) == {NEVER_RETURNS, RERAISE, NEW_CANCELLED}
    assert paths.every_path_reraises
    assert paths.swallowing == []


def test_raising_another_exception_is_neither_reraise_nor_swallowing():
    paths = paths_of(handler("raise RuntimeError('cancelled') from exc"))
    assert OTHER in exits_of(paths)
    assert not paths.reraises
    assert not paths.every_path_reraises
    assert paths.swallowing == []


# -- Paths: if / elif / else -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, expected",
    [
        ("if flag:\n    raise\nelse:\n    raise", {RERAISE}),
        ("if flag: raise\nelse: raise", {RERAISE}),
        ("if flag:\n    raise", {RERAISE, FALLTHROUGH}),
        ("if flag:\n    return\nraise", {RETURN, RERAISE}),
        ("if flag:\n    raise\nelif other:\n    raise\nelse:\n    return", {RERAISE, RETURN}),
        ("if flag:\n    raise\nelif other:\n    raise", {RERAISE, FALLTHROUGH}),
        ("if flag:\n    raise\nelif other:\n    pass\nelse:\n    raise", {RERAISE, FALLTHROUGH}),
        ("if flag:\n    if other: raise\n    else: raise\nelse:\n    raise", {RERAISE}),
    ],
)
def test_if_elif_else_is_exact(body, expected):
    assert exits(body) == expected


# -- Paths: match ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cases, expected",
    [
        ("case 1:\n    return\ncase _:\n    raise", {RETURN, RERAISE}),
        ("case 1:\n    raise\ncase value:\n    raise", {RERAISE}),  # a capture is irrefutable
        ("case 1:\n    raise\ncase 2 | _:\n    raise", {RERAISE}),
        ("case 1:\n    raise\ncase 2:\n    raise", {RERAISE, FALLTHROUGH}),
        ("case 1:\n    raise\ncase _ if other:\n    raise", {RERAISE, FALLTHROUGH}),
        ("case 1:\n    pass\ncase _:\n    raise", {RERAISE, FALLTHROUGH}),
    ],
)
def test_match_is_exhaustive_only_with_an_unguarded_wildcard(cases, expected):
    body = "match flag:\n" + textwrap.indent(cases, "    ")
    assert exits(body) == expected


# -- Paths: loops ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, expected",
    [
        ("while True:\n    if flag:\n        raise", {RERAISE}),
        ("while 1:\n    if flag:\n        raise", {RERAISE}),
        ("while True:\n    await asyncio.sleep(1)", set()),
        ("while True:\n    if flag:\n        break", {FALLTHROUGH}),
        ("while True:\n    if flag:\n        break\nraise", {RERAISE}),
        ("while True:\n    if flag:\n        raise\nelse:\n    return", {RERAISE}),
    ],
)
def test_while_true_falls_through_only_by_break(body, expected):
    assert exits(body) == expected


@pytest.mark.parametrize(
    "body, expected",
    [
        ("while flag:\n    raise", {RERAISE, FALLTHROUGH}),
        ("for x in items:\n    raise", {RERAISE, FALLTHROUGH}),
        ("async for x in items:\n    raise", {RERAISE, FALLTHROUGH}),
        ("for x in items:\n    return", {RETURN, FALLTHROUGH}),
    ],
)
def test_other_loops_may_run_zero_times(body, expected):
    assert exits(body) == expected


@pytest.mark.parametrize(
    "body, expected",
    [
        ("for x in items:\n    raise\nelse:\n    raise", {RERAISE}),
        ("for x in items:\n    raise\nelse:\n    return", {RERAISE, RETURN}),
        ("for x in items:\n    if x:\n        break\nelse:\n    raise", {FALLTHROUGH, RERAISE}),
        ("while flag:\n    pass\nelse:\n    raise", {RERAISE}),
    ],
)
def test_loop_else_runs_when_the_loop_ends_without_break(body, expected):
    assert exits(body) == expected


def test_sanction_inside_a_loop_body_is_not_certain():
    body = "for x in items:\n    task.uncancel()"
    assert ends(body) == {(FALLTHROUGH, False), (FALLTHROUGH, True)}


def test_sanction_carried_out_of_a_loop_by_break():
    body = "while True:\n    task.uncancel()\n    break"
    assert ends(body) == {(FALLTHROUGH, True)}


# -- Paths: nested try -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "try:\n    raise ValueError()\nexcept Exception:\n    pass",
        "try:\n    raise ValueError()\nexcept ValueError:\n    pass",
        "try:\n    raise ValueError()\nexcept (KeyError, ValueError):\n    pass",
        "try:\n    raise\nexcept BaseException:\n    pass",
        "try:\n    raise\nexcept:\n    pass",
        "try:\n    raise exc\nexcept asyncio.CancelledError:\n    pass",
        "try:\n    raise\nexcept CancelledError:\n    pass",
        "try:\n    raise asyncio.CancelledError()\nexcept asyncio.CancelledError:\n    pass",
        "try:\n    sys.exit()\nexcept BaseException:\n    pass",
    ],
)
def test_a_raise_caught_by_an_inner_handler_does_not_propagate(body):
    assert exits(body) == {FALLTHROUGH}


@pytest.mark.parametrize(
    "body, expected",
    [
        # CancelledError is a BaseException: `except Exception` does not catch the re-raise.
        ("try:\n    await cleanup()\n    raise\nexcept Exception:\n    log()",
         {RERAISE, FALLTHROUGH}),
        ("try:\n    await cleanup()\n    raise\nexcept ValueError:\n    log()",
         {RERAISE, FALLTHROUGH}),
        ("try:\n    await cleanup()\n    sys.exit()\nexcept Exception:\n    log()",
         {NEVER_RETURNS, FALLTHROUGH}),
        ("try:\n    raise ValueError()\nexcept CancelledError:\n    pass", {OTHER, FALLTHROUGH}),
    ],
)
def test_a_raise_the_inner_handlers_do_not_catch_propagates(body, expected):
    assert exits(body) == expected


@pytest.mark.parametrize(
    "inner, expected",
    [
        ("except ValueError:\n    raise", OTHER),  # re-raises the ValueError, not ours
        ("except ValueError as err:\n    raise err", OTHER),
        ("except ValueError as exc:\n    raise exc", OTHER),  # the inner name shadows ours
        ("except ValueError:\n    raise exc", RERAISE),  # our exception, by its name
        ("except asyncio.CancelledError:\n    raise", RERAISE),
        ("except BaseException:\n    raise", RERAISE),
        ("except:\n    raise", RERAISE),
    ],
)
def test_bare_raise_in_an_inner_handler_re_raises_the_inner_exception(inner, expected):
    body = "try:\n    await cleanup()\n" + inner + "\nreturn"
    assert exits(body) == {expected, RETURN}


def test_try_else_runs_when_the_try_body_completes():
    body = "try:\n    await cleanup()\nexcept ValueError:\n    raise exc\nelse:\n    return"
    assert exits(body) == {RERAISE, RETURN}


@pytest.mark.parametrize(
    "body",
    [
        "try:\n    return\nfinally:\n    raise",
        "try:\n    pass\nfinally:\n    raise",
        "try:\n    await cleanup()\nexcept ValueError:\n    return\nfinally:\n    raise",
        "try:\n    raise ValueError()\nfinally:\n    raise exc",
    ],
)
def test_a_finally_that_raises_replaces_every_path(body):
    assert exits(body) == {RERAISE}


@pytest.mark.parametrize(
    "body, expected",
    [
        ("try:\n    raise\nfinally:\n    await cleanup()", {RERAISE}),
        ("try:\n    return\nfinally:\n    await cleanup()", {RETURN}),
        ("try:\n    await cleanup()\nfinally:\n    log()", {FALLTHROUGH}),
        ("try:\n    raise\nfinally:\n    if flag:\n        return", {RERAISE, RETURN}),
    ],
)
def test_a_finally_that_completes_keeps_the_paths(body, expected):
    assert exits(body) == expected


def test_return_in_finally_replaces_a_reraise():
    assert exits("try:\n    raise\nfinally:\n    return") == {RETURN}


def test_break_in_finally_replaces_a_reraise_inside_a_loop():
    assert exits("try:\n    raise\nfinally:\n    break", loop=True) == {BREAK}


@pytest.mark.parametrize(
    "body, expected",
    [
        ("try:\n    await cleanup()\nfinally:\n    task.uncancel()", {(FALLTHROUGH, True)}),
        ("try:\n    return\nfinally:\n    asyncio.current_task().uncancel()", {(RETURN, True)}),
    ],
)
def test_uncancel_in_finally_sanctions_the_paths_through_the_try(body, expected):
    assert ends(body) == expected


def test_cancelling_guard_in_finally_sanctions_the_fallthrough():
    body = "try:\n    await cleanup()\nfinally:\n    if task.cancelling():\n        raise"
    assert ends(body) == {(RERAISE, False), (FALLTHROUGH, True)}


# -- Paths: with -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "with contextlib.suppress(BaseException):\n    raise",
        "with suppress(asyncio.CancelledError):\n    raise",
        "with suppress(ValueError, CancelledError):\n    raise",
        "with suppress(Exception):\n    raise ValueError()",
        "with suppress(BaseException):\n    sys.exit()",
        "with open(path), suppress(BaseException):\n    raise",
    ],
)
def test_a_suppressing_context_manager_turns_the_raise_into_a_fallthrough(body):
    assert exits(body) == {FALLTHROUGH}


@pytest.mark.parametrize(
    "body, expected",
    [
        ("with suppress(ValueError):\n    raise", {RERAISE}),
        ("with suppress(Exception):\n    raise", {RERAISE}),
        ("with open(path):\n    raise", {RERAISE}),
        ("async with lock:\n    raise", {RERAISE}),
        ("with suppress(BaseException):\n    return", {RETURN}),
    ],
)
def test_other_context_managers_do_not_suppress(body, expected):
    assert exits(body) == expected


def test_an_unknown_exception_may_be_suppressed():
    assert exits("with suppress(ValueError):\n    raise other") == {OTHER, FALLTHROUGH}


def test_suppress_of_the_named_exception_certainly_catches_it():
    assert exits("with suppress(ValueError):\n    raise ValueError()") == {FALLTHROUGH}


def test_configured_suppressor():
    source = handler("with myapp.ignoring(BaseException):\n    raise")
    source = source.replace("import os\n", "import os\nimport myapp\n")
    assert pairs(paths_of(source)) == {(RERAISE, False)}
    configured = paths_of(source, suppressors=frozenset({"myapp.ignoring"}))
    assert pairs(configured) == {(FALLTHROUGH, False)}


def test_suppressed_raise_keeps_its_sanction():
    body = "with suppress(BaseException):\n    task.uncancel()\n    raise"
    assert ends(body) == {(FALLTHROUGH, True)}


# -- Sanctioned suppression: uncancel() ------------------------------------------------------------
def test_uncancel_before_falling_through_is_sanctioned():
    paths = paths_of(handler("asyncio.current_task().uncancel()"))
    assert pairs(paths) == {(FALLTHROUGH, True)}
    assert paths.swallowing == []


@pytest.mark.parametrize(
    "body, expected",
    [
        ("task.uncancel()\nreturn", {(RETURN, True)}),
        ("remaining = task.uncancel()", {(FALLTHROUGH, True)}),
        ("if task.uncancel() == 0:\n    return", {(RETURN, True), (FALLTHROUGH, True)}),
        ("log(); task.uncancel()", {(FALLTHROUGH, True)}),
        ("task.uncancel()\nraise", {(RERAISE, True)}),
    ],
)
def test_uncancel_sanctions_the_rest_of_the_path(body, expected):
    assert ends(body) == expected


def test_uncancel_on_one_branch_sanctions_only_that_branch():
    paths = paths_of(handler("if flag:\n    task.uncancel()\n    return"))
    assert pairs(paths) == {(RETURN, True), (FALLTHROUGH, False)}
    assert [end.exit for end in paths.swallowing] == [FALLTHROUGH]


def test_uncancel_after_the_exit_does_not_sanction_it():
    assert ends("if flag:\n    return\ntask.uncancel()") == {(RETURN, False), (FALLTHROUGH, True)}


def test_uncancel_sanctions_a_break_out_of_the_handler():
    assert ends("task.uncancel()\nbreak", loop=True) == {(BREAK, True)}


# -- Sanctioned suppression: the cancelling() guard ------------------------------------------------
@pytest.mark.parametrize(
    "test",
    [
        "asyncio.current_task().cancelling()",
        "task.cancelling()",
        "task.cancelling() > 0",
        "task.cancelling() != 0",
        "task.cancelling() >= 1",
        "(task := asyncio.current_task()) and task.cancelling()",
        "flag or task.cancelling()",
        "not task.cancelling() == 0",
    ],
)
def test_fallthrough_after_a_cancelling_guard_is_sanctioned(test):
    paths = paths_of(handler(f"if {test}:\n    raise"))
    assert pairs(paths) == {(RERAISE, False), (FALLTHROUGH, True)}
    assert paths.swallowing == []


@pytest.mark.parametrize(
    "test",
    [
        "not task.cancelling()",
        "task.cancelling() == 0",
        "task.cancelling() < 1",
        "task.cancelling() <= 0",
        "not (flag or task.cancelling())",
    ],
)
def test_path_taken_when_not_cancelling_is_sanctioned(test):
    assert ends(f"if {test}:\n    return\nraise") == {(RETURN, True), (RERAISE, False)}


def test_else_branch_of_a_cancelling_guard_is_sanctioned():
    body = "if task.cancelling():\n    raise\nelse:\n    return"
    assert ends(body) == {(RERAISE, False), (RETURN, True)}


def test_cancelling_guard_in_an_elif():
    body = "if flag:\n    raise\nelif task.cancelling():\n    raise"
    assert ends(body) == {(RERAISE, False), (FALLTHROUGH, True)}


def test_cancelling_check_that_does_not_exit_sanctions_only_the_other_branch():
    body = "if task.cancelling() == 0:\n    pass"
    assert ends(body) == {(FALLTHROUGH, True), (FALLTHROUGH, False)}


def test_guard_whose_body_completes_leaves_an_unsanctioned_path():
    assert ends("if task.cancelling():\n    log()") == {(FALLTHROUGH, False), (FALLTHROUGH, True)}


@pytest.mark.parametrize(
    "test",
    [
        "flag",
        "other.done()",
        "task.cancelling() > 1",  # false while cancelling() == 1
        "task.cancelled()",
        "task.cancelling() + 1",
    ],
)
def test_unrelated_guard_does_not_sanction(test):
    assert ends(f"if {test}:\n    raise") == {(RERAISE, False), (FALLTHROUGH, False)}


@pytest.mark.parametrize(
    "body, expected",
    [
        ("if flag and task.cancelling():\n    raise", {(RERAISE, False), (FALLTHROUGH, False)}),
        ("if not (flag and task.cancelling()):\n    return\nraise",
         {(RETURN, False), (RERAISE, False)}),
    ],
)
def test_and_with_an_unrelated_condition_is_not_a_guard(body, expected):
    assert ends(body) == expected


# -- unreachable code ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, expected",
    [
        ("return\nraise", {RETURN}),
        ("raise\nreturn", {RERAISE}),
        ("return; raise", {RETURN}),
        ("raise ValueError()\nreturn", {OTHER}),
        ("sys.exit()\nreturn", {NEVER_RETURNS}),
        ("if flag:\n    return\n    raise", {RETURN, FALLTHROUGH}),
        ("if flag:\n    raise\nelse:\n    raise\nreturn", {RERAISE}),
        ("while True:\n    pass\nreturn", set()),
    ],
)
def test_code_after_an_exit_is_unreachable(body, expected):
    assert exits(body) == expected


def test_unreachable_uncancel_does_not_sanction():
    assert ends("return\ntask.uncancel()") == {(RETURN, False)}


def test_code_after_break_is_unreachable():
    assert exits("break\nreturn", loop=True) == {BREAK}


# -- nested scopes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "def later():\n    raise",
        "async def later():\n    return\nawait later()",
        "def later():\n    task.uncancel()",
        "class Later:\n    def run(self):\n        raise",
        "callback = lambda: task.uncancel()",
        "callback = lambda: sys.exit()",
    ],
)
def test_nested_scopes_do_not_contribute_paths(body):
    assert ends(body) == {(FALLTHROUGH, False)}


def test_break_inside_a_nested_function_is_not_ours():
    body = "def later():\n    for x in items:\n        break\nreturn"
    assert exits(body, loop=True) == {RETURN}


# -- except* ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, expected", [("raise group", RERAISE), ("pass", FALLTHROUGH)])
def test_except_star_handler(body, expected):
    source = f"""
import asyncio

async def main():
    try:
        await work()
    except* asyncio.CancelledError as group:
        {body}
"""
    assert pairs(paths_of(source)) == {(expected, False)}


# -- spellings of a re-raise, and what `except Exception` does not catch ---------------------------
@pytest.mark.parametrize(
    "body, expected",
    [
        ("raise exc.with_traceback(None)", {(RERAISE, False)}),
        ("return sys.exit(1)", {(NEVER_RETURNS, False)}),
        ("try:\n    raise KeyboardInterrupt()\nexcept Exception:\n    pass",
         {(OTHER, False), (FALLTHROUGH, False)}),
        ("try:\n    raise RuntimeError()\nexcept Exception:\n    pass", {(FALLTHROUGH, False)}),
    ],
)
def test_reraise_spellings_and_base_exceptions(body, expected):
    assert ends(body) == expected


# -- narrowing with isinstance on the bound name -----------------------------------------------------
@pytest.mark.parametrize(
    "body, expected",
    [
        ("if isinstance(exc, asyncio.CancelledError):\n    raise\nlog()",
         {(RERAISE, False), (FALLTHROUGH, True)}),
        ("if isinstance(exc, (ValueError, asyncio.CancelledError)):\n    raise",
         {(RERAISE, False), (FALLTHROUGH, True)}),
        ("if not isinstance(exc, asyncio.CancelledError):\n    return\nraise",
         {(RETURN, True), (RERAISE, False)}),
        ("if isinstance(other, asyncio.CancelledError):\n    raise",
         {(RERAISE, False), (FALLTHROUGH, False)}),
        ("if isinstance(exc, ValueError):\n    raise",
         {(RERAISE, True), (FALLTHROUGH, False)}),
    ],
)
def test_isinstance_narrowing_on_the_bound_name(body, expected):
    assert ends(body) == expected


@pytest.mark.parametrize(
    "body, expected",
    [
        ("if isinstance(exc, Exception):\n    raise ValueError() from exc\nraise",
         {(OTHER, True), (RERAISE, False)}),
        ("if isinstance(exc, (OSError, ValueError)):\n    return\nraise",
         {(RETURN, True), (RERAISE, False)}),
        ("if not isinstance(exc, Exception):\n    raise\nreturn",
         {(RERAISE, False), (RETURN, True)}),
        # A CancelledError is a BaseException, never a KeyboardInterrupt.
        ("if isinstance(exc, KeyboardInterrupt):\n    return\nraise",
         {(RETURN, True), (RERAISE, False)}),
        ("if isinstance(exc, (asyncio.TimeoutError, ProjectError)):\n    return\nraise",
         {(RETURN, True), (RERAISE, False)}),
        # These may be true of a cancellation: no narrowing.
        ("if isinstance(exc, BaseException):\n    return\nraise",
         {(RETURN, False), (RERAISE, False)}),
        ("if isinstance(exc, object):\n    return\nraise",
         {(RETURN, False), (RERAISE, False)}),
        ("if isinstance(exc, (OSError, CancelledError)):\n    return\nraise",
         {(RETURN, False), (RERAISE, True)}),
        ("if isinstance(exc, error_classes()):\n    return\nraise",
         {(RETURN, False), (RERAISE, False)}),
        ("if isinstance(exc, OSError) and flag:\n    return\nraise",
         {(RETURN, True), (RERAISE, False)}),
        ("if flag and not isinstance(exc, asyncio.CancelledError):\n    return\nraise",
         {(RETURN, True), (RERAISE, False)}),
        ("if isinstance(exc, OSError) or flag:\n    return\nraise",
         {(RETURN, False), (RERAISE, False)}),
    ],
)
def test_isinstance_of_a_class_known_not_to_be_a_cancellation_narrows(body, expected):
    assert ends(body) == expected


# -- the caught exception under another name ---------------------------------------------------------
@pytest.mark.parametrize(
    "body, expected",
    [
        ("error = exc\nlog()\nraise error", {(RERAISE, False)}),
        ("self.error = exc\nraise self.error", {(RERAISE, False)}),
        ("error = other\nraise error", {(OTHER, False)}),
    ],
)
def test_raising_an_alias_of_the_caught_exception_re_raises_it(body, expected):
    assert ends(body) == expected


# -- found by the property tests (test_properties.py) ---------------------------------------------
def test_a_finally_that_returns_ends_the_paths_that_raise_before_an_uncancel():
    # `log()` may raise before `uncancel()` runs; the finally's return then ends that path,
    # which never called uncancel().
    body = "try:\n    log()\n    task.uncancel()\nfinally:\n    return"
    assert ends(body) == {(RETURN, False), (RETURN, True)}


@pytest.mark.parametrize("clause", ["except:", "except BaseException:"])
def test_a_clause_after_a_cancelled_clause_never_re_raises_the_cancellation(clause):
    # The earlier clause catches every cancellation: the later one re-raises something else.
    body = f"try:\n    log()\nexcept asyncio.CancelledError:\n    log()\n{clause}\n    raise"
    assert exits(body) == {FALLTHROUGH, OTHER}


# -- names that hold the caught exception ----------------------------------------------------------
def test_a_name_reassigned_after_holding_the_exception_raises_something_else():
    body = "error = exc\nerror = ValueError('closed')\nraise error"
    assert exits_of(paths_of(handler(body))) == {OTHER}


def test_a_name_bound_in_one_branch_is_not_the_exception_in_its_sibling():
    body = "if flag:\n    error = exc\nelse:\n    raise error"
    assert exits_of(paths_of(handler(body))) == {FALLTHROUGH, OTHER}


def test_a_name_every_branch_binds_to_the_exception_stays_it_after_the_branches():
    body = "if flag:\n    error = exc\nelse:\n    error = exc\nraise error"
    assert exits_of(paths_of(handler(body))) == {RERAISE}


def test_a_name_only_some_branches_bind_counts_as_another_exception_after_them():
    """flow.py's documented approximation: meanings are joined where branches meet (exactly,
    the path through the branch re-raises and the other raises NameError)."""
    body = "if flag:\n    error = exc\nraise error"
    assert exits_of(paths_of(handler(body))) == {OTHER}


def test_a_branch_that_leaves_does_not_decide_what_a_name_means_after_it():
    body = "if flag:\n    error = ValueError()\n    raise error\nerror = exc\nraise error"
    assert exits_of(paths_of(handler(body))) == {OTHER, RERAISE}


def test_an_inner_handlers_name_counts_as_unbound_after_it():
    """As above: the path through the inner handler unbinds ``error``, the other keeps it."""
    body = (
        "error = exc\ntry:\n    close()\nexcept OSError as error:\n    log(error)\nraise error"
    )
    assert exits_of(paths_of(handler(body))) == {OTHER}


# -- functions that never return -----------------------------------------------------------------
def never_returns(source: str) -> bool:
    module = cst.parse_module(textwrap.dedent(source))
    function = next(s for s in module.body if isinstance(s, cst.FunctionDef))
    return function_never_returns(function, Vocabulary(collect_module_bindings(module)))


@pytest.mark.parametrize(
    "source, expected",
    [
        ("def f(exc):\n    raise ValueError() from exc\n", True),
        ("def f(exc):\n    if exc:\n        raise ValueError()\n    raise KeyError()\n", True),
        ("import sys\ndef f():\n    sys.exit(1)\n", True),
        ("async def f(exc):\n    raise ValueError() from exc\n", True),
        ("def f(exc):\n    if exc:\n        raise ValueError()\n", False),
        ("def f(exc):\n    return exc\n", False),
        ("def f(exc):\n    try:\n        raise ValueError()\n    except ValueError:\n        pass\n", False),
        ("def f(exc):\n    pass\n", False),
        # Calling a generator function only builds the generator.
        ("def f(exc):\n    yield\n    raise ValueError()\n", False),
        # A while loop may go on forever: that swallows as surely as returning.
        ("def f(exc):\n    while exc:\n        raise ValueError()\n    raise KeyError()\n", False),
    ],
)
def test_a_function_never_returns_when_every_path_raises(source, expected):
    assert never_returns(source) is expected
