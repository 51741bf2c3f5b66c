"""Fixes proven by running them: the code before and after the fixer, driven against probes.

Every fixture function that has a finding and that the fixes changed (``X.fixed.py``; separately,
what ``X.unsafe.fixed.py`` changes beyond that) runs before and after the fix, with a probe for
every object the fixture does not define (execution_probe.py). For each finding whose ``try``
(or ``with``) statement the fix changed, the harness finds the first suspension point the
function reaches in that statement's body, and runs the function three ways, in two modes
(probes truthy; probes falsy, with empty iterations):

(a) the task is cancelled while it waits there (``task.cancel()`` from outside);
(b) a ``ValueError`` is raised there instead;
(c) nothing is injected: the function runs to its end.

A handler's own ``try`` is reached by cancelling the task at the ``try`` it handles first.

A safe fix lets the current task's own cancellation propagate, after the handler's own work, and
changes nothing else. So, one test each:

- ``loses``: before the fix, run (a) does not end with the task's own cancellation in some mode
  (for the rules whose finding is a cancellation lost or replaced: LOSES_THE_CANCELLATION);
- ``propagates``: after the fix, run (a) ends cancelled, with the task's own cancellation (not a
  new ``CancelledError``); in every mode, except on a path the fix left as it was that converts
  the cancellation into another exception (CAN105's, never fixed) or that a finding still
  reported after the fix is about;
- ``handler``: the calls made up to the end of the handler in run (a) are the same before and
  after (the handler's work still runs);
- ``others``: runs (b) and (c) end the same way (the type returned or raised) after the same calls;
- ``after``: no call that the function made after the handler in run (a) is skipped.

The unsafe fixes are checked the same way; they may change behaviour (that is why they are
unsafe), and where they do it is listed in KNOWN_BREAKS like the safe ones.

``X.fixed.py`` is what the fixer writes (test_fixes.py) and the ``# error:`` annotations are the
linter's findings (test_fixtures.py); they are read here, so that this test lints nothing.
Functions the harness cannot drive are in NOT_EXECUTABLE, with the reason. Fixes that break a
property are in KNOWN_BREAKS, expected to fail strictly: when the fixer stops making them, the
test turns red and the entry must go.

Last, generated handlers (hypothesis) around ``await probe.wait()`` are fixed with the safe fixes
and checked the same way.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution_probe import (
    LIBRARY_CANCELLATION,
    Action,
    HarnessError,
    Mode,
    Module,
    RunResult,
    Site,
    execute,
    function_at,
    functions,
    site_of,
)
from fixture_tools import (
    ANNOTATION,
    FIXTURE_NAMES,
    FIXTURES,
    cli_options,
    engine_for,
    expected_findings,
    fixture,
    lint,
)
from flake8_cancel.fixer import fix_bytes

SAFE, UNSAFE = "safe", "unsafe"

# Findings that say the task's cancellation is lost (swallowed, or replaced by a new instance):
# before their fix, run (a) must not end with the task's own cancellation. The other rules' fixes
# make a handler that never saw the cancellation catch it (CAN109's right class, CAN111's
# BaseException, CAN201's CancelledError for a TimeoutError that never comes there) or spell a
# timeout for older Pythons (CAN202): there the cancellation propagated before the fix too.
LOSES_THE_CANCELLATION = frozenset({"CAN101", "CAN102", "CAN103", "CAN104", "CAN106", "CAN110"})

# (fixture, function): why the harness cannot drive it. Reviewed; keep it short.
_YIELD_FROM = (
    "a generator-based coroutine: `yield from` a probe iterates it, so there is no suspension "
    "point for the harness to cancel the task at (probes are awaitables)"
)
NOT_EXECUTABLE: Dict[Tuple[str, str], str] = {
    ("generator_coroutines.py", "poll_types"): _YIELD_FROM,
    ("CAN106.py", "no_await_in_the_try_body"): (
        "the try body has no await (`return fut.result()`): the task cannot be cancelled there"
    ),
    ("CAN110_forms.py", "task_not_future"): (
        "the try body awaits a real asyncio.Task that the function created and cancelled: no "
        "probe suspends there for the harness to cancel the task at"
    ),
}

# What the fixes break, by (safety, fixture, function, property). Expected failures (strict).
_WORK_AFTER = "the re-raise leaves the function: {work} after the handler no longer runs in run (a)"
_CHILD = (
    "the function cancels the child it awaits: in run (c), with no cancellation of the task, "
    "the child's CancelledError that the handler swallowed now ends the function as cancelled"
)
_UNSAFE = "unsafe fix (allowed to change behaviour): "
KNOWN_BREAKS: Dict[Tuple[str, str, str, str], str] = {
    # The handler's own work comes after the cancelling() guard.
    (UNSAFE, "CAN110.py", "handler_with_code", "handler"):
        _UNSAFE + "the cancelling() guard comes first: log.debug() no longer runs on cancellation",
    # Work after the handler: a safe fix refuses it (fix_safety.work_after_the_handler).
    (UNSAFE, "CAN101_kept.py", "close_all_kept_only", "after"):
        _UNSAFE + _WORK_AFTER.format(work="closing the other connections (the loop)"),
    (UNSAFE, "CAN101_kept.py", "checkpoint_after_failure_group_not_raised", "after"):
        _UNSAFE + _WORK_AFTER.format(work="report() of the group"),
    (UNSAFE, "CAN103.py", "loop_continue", "after"):
        _UNSAFE + _WORK_AFTER.format(work="the loop's other client.refresh() calls"),
    (UNSAFE, "CAN110_traps.py", "cancelled_after", "after"):
        _UNSAFE + _WORK_AFTER.format(work="worker.cancel() (the child is left running)"),
    (UNSAFE, "real_code_shapes.py", "Debouncer.cancelled_after_the_handler", "after"):
        _UNSAFE + _WORK_AFTER.format(work="self._task.cancel() (the child is left running)"),
    (UNSAFE, "real_code_shapes.py", "kept_but_never_raised", "after"):
        _UNSAFE + _WORK_AFTER.format(work="calling the other closers (the loop)"),
    (UNSAFE, "CAN110.py", "in_a_loop", "after"):
        _UNSAFE + _WORK_AFTER.format(work="cancelling the other tasks (the loop)"),
    (UNSAFE, "real_code_shapes.py", "stop_all", "after"):
        _UNSAFE + _WORK_AFTER.format(work="cancelling the other tasks (the loop)"),
    (UNSAFE, "CAN112_traps.py", "deferred_until_the_cleanup_is_done", "after"):
        _UNSAFE + _WORK_AFTER.format(work="channel.close() (the cancellation was deferred)"),
    # A child's cancellation: a safe fix refuses it (fix_safety.may_catch_a_childs_cancellation).
    (UNSAFE, "CAN110_traps.py", "awaits_more_than_the_child", "others"): _UNSAFE + _CHILD,
    (UNSAFE, "CAN110_traps.py", "broad_clauses_are_other_rules", "others"): _UNSAFE + _CHILD,
    (UNSAFE, "real_code_shapes.py", "Debouncer.awaits_more_than_the_child", "others"):
        _UNSAFE + _CHILD,
}

PROPERTIES = ("loses", "propagates", "handler", "others", "after")


class PropertyBroken(AssertionError):
    """A fix broke one of the PROPERTIES (what KNOWN_BREAKS expects, and nothing else)."""


# -- running and comparing ------------------------------------------------------------------------
@dataclass(frozen=True)
class FindingSite:
    line: int  # the finding's line in the code before the fix
    codes: Tuple[str, ...]
    before: Site
    after_span: Tuple[int, int]  # the lines of its statement after the fix


@dataclass
class Verdict:
    problems: Dict[str, List[str]] = field(default_factory=lambda: {p: [] for p in PROPERTIES})
    not_executable: Optional[str] = None
    checked: int = 0  # (finding, mode) pairs run before and after
    propagating: int = 0  # findings where the fixed run (a) ends with the task's own cancellation

    def add(self, prop: str, message: str) -> None:
        self.problems[prop].append(message)


PlanItems = Tuple[Tuple[int, Action], ...]


@lru_cache(maxsize=4096)
def _run(module: Module, function: str, mode: Mode, plan: PlanItems) -> RunResult:
    return execute(module, function, mode, dict(plan))


def _first_suspension_in(result: RunResult, site: Site, after: int = 0) -> Optional[int]:
    for number, lines in enumerate(result.suspensions, 1):
        if number > after and site.in_body(lines):
            return number
    return None


def _way_in(
    module: Module, function: str, mode: Mode, site: Site
) -> Optional[Tuple[PlanItems, int]]:
    """How run (a) gets to the first suspension point in the site's body: the points where the
    task must be cancelled first (a handler's own ``try`` is reached by cancelling the task at
    the ``try`` it handles), and that point's number. None if no run gets there."""
    target = _first_suspension_in(_run(module, function, mode, ()), site)
    if target is not None:
        return (), target
    if site.outer is None:
        return None
    outer = _way_in(module, function, mode, site.outer)
    if outer is None:
        return None
    plan = outer[0] + ((outer[1], Action.CANCEL),)
    target = _first_suspension_in(_run(module, function, mode, plan), site, after=outer[1])
    return (plan, target) if target is not None else None


def _describe(result: RunResult) -> str:
    return f"{result.outcome} after {list(result.calls)}"


def _work(calls: Tuple[str, ...]) -> Counter:
    """The calls among the log's entries (a suspension is not work)."""
    return Counter(call for call in calls if not call.startswith(("await ", "async ")))


def _same(before: RunResult, after: RunResult) -> bool:
    return (before.outcome, before.calls) == (after.outcome, after.calls)


def _clause_fails(result: RunResult, site: FindingSite) -> bool:
    """The exception reached the site's clauses and evaluating one of them raised: a name that
    no longer exists on this Python (``asyncio.futures.CancelledError``). The fix repairs that."""
    outcome = result.outcome
    clause_lines = {handler.lineno for handler in getattr(site.before.statement, "handlers", [])}
    return (
        outcome.kind == "raised" and outcome.detail in ("AttributeError", "NameError")
        and outcome.raised_at in clause_lines
    )


Findings = List[Tuple[int, str]]  # (line, code)


def compare(before: Module, after: Module, function: str, sites: List[FindingSite],
            remaining: Callable[[], Findings]) -> Verdict:
    """Run ``function`` before and after the fix, at each site, and say what differs.
    ``remaining()`` is what the linter still reports after the fix."""
    verdict = Verdict()
    try:
        _compare(before, after, function, sites, remaining, verdict)
    except HarnessError as error:
        verdict.not_executable = str(error)
    return verdict


def _still_reported(site: FindingSite, remaining: Callable[[], Findings]) -> bool:
    """Some finding in the site's statement is still reported after the fix (one the unsafe
    fixes or a person must handle)."""
    first, last = site.after_span
    return any(first <= line <= last for line, _ in remaining())


def _compare(before: Module, after: Module, function: str, sites: List[FindingSite],
             remaining: Callable[[], Findings], verdict: Verdict) -> None:
    if not sites:
        raise HarnessError("no finding's statement changed")
    reached = {site.line: 0 for site in sites}
    lost: Dict[int, List[str]] = {site.line: [] for site in sites}
    propagated: Dict[int, List[str]] = {site.line: [] for site in sites}
    for mode in Mode:
        c_before, c_after = _run(before, function, mode, ()), _run(after, function, mode, ())
        if "hung" in (c_before.outcome.kind, c_after.outcome.kind):
            raise HarnessError(f"{mode.value}: run (c) did not end within the time limit")
        if not _same(c_before, c_after):
            verdict.add(
                "others",
                f"{mode.value}, run (c): before {_describe(c_before)}; after {_describe(c_after)}",
            )
        for site in sites:
            way = _way_in(before, function, mode, site.before)
            if way is None:
                continue
            prefix, target = way
            reached[site.line] += 1
            verdict.checked += 1
            where = f"{mode.value}, finding at line {site.line}"
            if prefix:
                first = [number for number, _ in prefix]
                where += f" (reached by cancelling at suspension points {first} first)"
            runs = {
                (action, label): _run(module, function, mode, prefix + ((target, action),))
                for action in (Action.CANCEL, Action.RAISE)
                for label, module in (("before", before), ("after", after))
            }
            if any(result.outcome.kind == "hung" for result in runs.values()):
                raise HarnessError(f"{where}: a run did not end within the time limit")
            a_before, a_after = runs[Action.CANCEL, "before"], runs[Action.CANCEL, "after"]
            b_before, b_after = runs[Action.RAISE, "before"], runs[Action.RAISE, "after"]
            if a_before.target_index is None or a_after.target_index is None:
                raise HarnessError(f"{where}: run (a) did not reach suspension point {target}")
            if not a_before.outcome.propagates_own_cancellation:
                lost[site.line].append(mode.value)
            if a_after.outcome.propagates_own_cancellation:
                propagated[site.line].append(mode.value)
            elif not _same(a_before, a_after):
                verdict.add(
                    "propagates",
                    f"{where}, run (a): after the fix {_describe(a_after)} "
                    f"(before: {_describe(a_before)})",
                )
            elif a_after.outcome.kind == "raised":
                pass  # a path that converts the cancellation, as before: CAN105's, never fixed
            elif not _still_reported(site, remaining):
                verdict.add(
                    "propagates",
                    f"{where}, run (a): the fix leaves this path swallowing the cancellation, and "
                    f"the linter no longer reports it: {_describe(a_after)}",
                )
            # The handler's work: every call up to the last one the handler made before the fix.
            handler_calls = [
                index for index, entry in enumerate(a_before.log)
                if index > a_before.target_index and site.before.in_handler(entry.lines)
            ]
            cut = max([a_before.target_index, *handler_calls]) + 1
            if a_after.calls[:cut] != a_before.calls[:cut]:
                verdict.add(
                    "handler",
                    f"{where}, run (a): up to the handler's end before "
                    f"{list(a_before.calls[:cut])}; after {list(a_after.calls[:cut])}",
                )
            skipped = _work(a_before.calls[cut:]) - _work(a_after.calls[cut:])
            if skipped:
                verdict.add(
                    "after",
                    f"{where}, run (a): the fix skips {sorted(skipped.elements())} "
                    f"(before: {_describe(a_before)}; after: {_describe(a_after)})",
                )
            if not _same(b_before, b_after) and not _clause_fails(b_before, site):
                verdict.add(
                    "others",
                    f"{where}, run (b): before {_describe(b_before)}; after {_describe(b_after)}",
                )
    for line, count in reached.items():
        if not count:
            raise HarnessError(
                f"no run reached an await in the body of the try of the finding at line {line}"
            )
    for site in sites:
        if propagated[site.line]:
            verdict.propagating += 1
        if set(site.codes) & LOSES_THE_CANCELLATION and not lost[site.line]:
            verdict.add(
                "loses",
                f"finding at line {site.line} ({', '.join(site.codes)}): before the fix, run (a) "
                "ended with the task's own cancellation in every mode",
            )


def changed_sites(before_text: str, after_text: str, function: str,
                  findings: List[Tuple[int, str]]) -> List[FindingSite]:
    """The function's findings whose ``try`` (or ``with``) statement the fix changed. A finding
    is found again after the fix by its ``# error:`` annotation (the n-th stays the n-th), or,
    without annotations, by its line (for fixes that insert no line before it)."""
    before_tree, after_tree = ast.parse(before_text), ast.parse(after_text)
    before_lines, after_lines = _annotated_lines(before_text), _annotated_lines(after_text)
    if len(before_lines) != len(after_lines):
        raise HarnessError("the fix changed the number of '# error:' annotations")
    codes: Dict[int, List[str]] = {}
    for line, code in findings:
        if function_at(before_tree, line) == function:
            codes.setdefault(line, []).append(code)
    sites = []
    for line, line_codes in sorted(codes.items()):
        before = site_of(before_tree, line)
        after_line = after_lines[before_lines.index(line)] if line in before_lines else line
        after = site_of(after_tree, after_line)
        if before is None:
            raise HarnessError(f"no try or with statement at line {line}")
        if after is None:
            raise HarnessError(f"the statement of the finding at line {line} is gone after the fix")
        if ast.dump(before.statement) != ast.dump(after.statement):
            span = (after.statement.lineno, after.statement.end_lineno or after.statement.lineno)
            sites.append(FindingSite(line, tuple(sorted(line_codes)), before, span))
    return sites


# -- the fixtures ---------------------------------------------------------------------------------
def _annotated_lines(text: str) -> List[int]:
    return [number for number, line in enumerate(text.splitlines(), 1) if ANNOTATION.search(line)]


@dataclass(frozen=True)
class Case:
    safety: str
    fixture: str
    function: str

    @property
    def id(self) -> str:
        return f"{self.safety}-{self.fixture[:-3]}::{self.function}"


@lru_cache(maxsize=None)
def _fixed_text(name: str, safety: str) -> str:
    """``X.fixed.py`` (``X.unsafe.fixed.py``), or what its absence means: nothing to fix."""
    stem = name[: -len(".py")]
    path = FIXTURES / f"{stem}{'.unsafe' if safety == UNSAFE else ''}.fixed.py"
    if path.exists():
        return path.read_text(encoding="utf-8")
    return _fixed_text(name, SAFE) if safety == UNSAFE else fixture(name).text


def _findings(name: str) -> List[Tuple[int, str]]:
    return sorted(expected_findings(fixture(name).text))


def _functions_with_findings(name: str) -> List[str]:
    tree = ast.parse(fixture(name).text)
    found = (function_at(tree, line) for line, _ in _findings(name))
    return list(dict.fromkeys(function for function in found if function is not None))


def _changed_functions(name: str, safety: str) -> List[str]:
    """The functions with a finding that the fixes change (the unsafe fixes: beyond what the
    safe fixes change)."""
    reference = fixture(name).text if safety == SAFE else _fixed_text(name, SAFE)
    after = _fixed_text(name, safety)
    if after == reference:
        return []
    before_functions = functions(ast.parse(reference))
    after_functions = functions(ast.parse(after))
    return [
        function for function in _functions_with_findings(name)
        if function in after_functions
        and ast.dump(before_functions[function]) != ast.dump(after_functions[function])
    ]


def _syntax_error(name: str) -> Optional[str]:
    """Why this Python cannot parse the fixture or its fixed versions (``except*`` before 3.11)."""
    for text in (fixture(name).text, _fixed_text(name, SAFE), _fixed_text(name, UNSAFE)):
        try:
            ast.parse(text)
        except SyntaxError as error:
            return f"{error.msg} (line {error.lineno})"
    return None


# Fixtures this Python cannot run: a syntax it lacks, or (since 3.11) asyncio.coroutine.
UNPARSEABLE = {name: error for name in FIXTURE_NAMES for error in [_syntax_error(name)] if error}
if sys.version_info >= (3, 11):
    UNPARSEABLE["generator_coroutines_asyncio.py"] = "asyncio.coroutine was removed in 3.11"
PARSEABLE = [name for name in FIXTURE_NAMES if name not in UNPARSEABLE]


def _cases(safety: str) -> List[Case]:
    return [
        Case(safety, name, function)
        for name in PARSEABLE
        for function in _changed_functions(name, safety)
    ]


SAFE_CASES = _cases(SAFE)
UNSAFE_CASES = _cases(UNSAFE)
CASES = SAFE_CASES + UNSAFE_CASES
WITH_FINDINGS = [
    (name, function) for name in PARSEABLE for function in _functions_with_findings(name)
]


def _cancelled_names(name: str) -> FrozenSet[str]:
    """The last part of each ``--cancelled-names`` the fixture configures, and trio's where
    the module does not also run asyncio (there trio's class is not asyncio's)."""
    runs_asyncio = "import asyncio" in fixture(name).text
    names = set() if runs_asyncio else set(LIBRARY_CANCELLATION)
    for option in fixture(name).options:
        if option.startswith("--cancelled-names="):
            names.update(part.rsplit(".", 1)[-1] for part in option.split("=", 1)[1].split(","))
    return frozenset(names)


@lru_cache(maxsize=None)
def _module(name: str, safety: Optional[str]) -> Module:
    """The fixture (safety None), or its fixed version."""
    text = fixture(name).text if safety is None else _fixed_text(name, safety)
    return Module(text, f"{name} {safety or 'original'}", _cancelled_names(name))


@lru_cache(maxsize=None)
def verdict(case: Case) -> Verdict:
    try:
        sites = changed_sites(
            fixture(case.fixture).text, _fixed_text(case.fixture, case.safety), case.function,
            _findings(case.fixture),
        )
    except HarnessError as error:
        return Verdict(not_executable=str(error))
    return compare(
        _module(case.fixture, None), _module(case.fixture, case.safety), case.function, sites,
        lambda: _remaining(case.fixture, case.safety),
    )


@lru_cache(maxsize=None)
def _remaining(name: str, safety: str) -> Findings:
    findings = lint(_fixed_text(name, safety).encode("utf-8"), fixture(name).options)
    return [(finding.line, finding.code) for finding in findings]


def _params(prop: str) -> list:
    params = []
    for case in CASES:
        reason = KNOWN_BREAKS.get((case.safety, case.fixture, case.function, prop))
        marks = (
            [pytest.mark.xfail(strict=True, raises=PropertyBroken, reason=reason)] if reason else []
        )
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def _check(case: Case, prop: str) -> None:
    listed = NOT_EXECUTABLE.get((case.fixture, case.function))
    if listed is not None:
        pytest.skip(f"NOT_EXECUTABLE: {listed}")
    result = verdict(case)
    assert result.not_executable is None, f"the harness cannot drive it: {result.not_executable}"
    assert result.checked, "no finding was reached"
    if result.problems[prop]:
        raise PropertyBroken("\n".join(result.problems[prop]))


@pytest.mark.parametrize("case", _params("loses"))
def test_finding_loses_the_tasks_cancellation_before_the_fix(case):
    _check(case, "loses")


@pytest.mark.parametrize("case", _params("propagates"))
def test_fix_lets_the_tasks_own_cancellation_propagate(case):
    _check(case, "propagates")


@pytest.mark.parametrize("case", _params("handler"))
def test_fix_keeps_the_handlers_work_before_the_cancellation_leaves(case):
    _check(case, "handler")


@pytest.mark.parametrize("case", _params("others"))
def test_fix_changes_nothing_for_a_value_error_or_a_normal_end(case):
    _check(case, "others")


@pytest.mark.parametrize("case", _params("after"))
def test_fix_skips_no_work_after_the_handler(case):
    _check(case, "after")


@pytest.mark.parametrize("name", sorted(UNPARSEABLE))
def test_fixtures_this_python_cannot_parse_are_not_run(name):
    pytest.skip(f"{name} needs another Python: {UNPARSEABLE[name]}")


def test_known_breaks_and_not_executable_name_fixed_functions():
    """Every entry names a function the fixes change (a stale one must go)."""
    keys = {(case.safety, case.fixture, case.function) for case in CASES}
    stale = [key for key in KNOWN_BREAKS if key[:3] not in keys and key[1] not in UNPARSEABLE]
    assert not stale, f"KNOWN_BREAKS names fixes that are no longer made: {stale}"
    assert all(prop in PROPERTIES for *_, prop in KNOWN_BREAKS)
    functions_fixed = {(case.fixture, case.function) for case in CASES}
    stale = [
        key for key in NOT_EXECUTABLE if key not in functions_fixed and key[0] not in UNPARSEABLE
    ]
    assert not stale, f"NOT_EXECUTABLE names functions no fix changes: {stale}"


@pytest.mark.parametrize("case", [
    pytest.param(case, id=case.id)
    for case in CASES if (case.fixture, case.function) in NOT_EXECUTABLE
])
def test_not_executable_functions_are_still_not_executable(case):
    assert verdict(case).not_executable is not None, "the harness drives it: drop the entry"


@pytest.mark.parametrize("name,function", [
    pytest.param(name, function, id=f"{name[:-3]}::{function}") for name, function in WITH_FINDINGS
])
def test_every_function_with_a_finding_runs_under_the_harness(name, function):
    """Fixed or not: it runs to an outcome, cancelled at its first suspension point and not."""
    module = _module(name, None)
    for mode in Mode:
        for plan in ((), ((1, Action.CANCEL),)):
            try:
                result = _run(module, function, mode, plan)
            except HarnessError:
                if (name, function) in NOT_EXECUTABLE:
                    continue
                raise
            assert result.outcome.kind != "hung", (mode, plan)


# -- the harness itself ---------------------------------------------------------------------------
HARNESS_MODULE = '''
import asyncio

async def swallows(session):
    try:
        await session.get()
    except asyncio.CancelledError:
        session.log("cancelled")

async def reraises(session):
    try:
        await session.get()
    except asyncio.CancelledError:
        session.log("cancelled")
        raise

async def new_instance(session):
    try:
        await session.get()
    except asyncio.CancelledError:
        raise asyncio.CancelledError("stopped")

async def forever(queue):
    while True:
        await queue.get()

async def child(worker):
    worker.cancel()
    await worker

async def loops(items):
    for item in items:
        item.close()
    if items:
        return len(items)

class Service:
    async def stop(self, timeout):
        await asyncio.sleep(timeout)
        self.transport.close()
        return self.state
'''


@pytest.fixture(scope="module")
def harness_module():
    return Module(textwrap.dedent(HARNESS_MODULE), "harness self-test")


def test_harness_tells_a_swallowed_cancellation_from_a_propagated_one(harness_module):
    swallowed = execute(harness_module, "swallows", Mode.TRUTHY, {1: Action.CANCEL})
    propagated = execute(harness_module, "reraises", Mode.TRUTHY, {1: Action.CANCEL})
    replaced = execute(harness_module, "new_instance", Mode.TRUTHY, {1: Action.CANCEL})
    assert swallowed.outcome.kind == "returned"
    assert not swallowed.outcome.propagates_own_cancellation
    assert propagated.outcome.propagates_own_cancellation
    assert (replaced.outcome.kind, replaced.outcome.own) == ("cancelled", False)
    handled = ("session.get", "await session.get()", "session.log")
    assert swallowed.calls == propagated.calls == handled
    # each entry knows the module's line that made it
    assert function_at(harness_module.tree, propagated.log[-1].lines[0]) == "reraises"


def test_harness_raises_a_value_error_at_the_target_and_completes_without_one(harness_module):
    raised = execute(harness_module, "reraises", Mode.TRUTHY, {1: Action.RAISE})
    completed = execute(harness_module, "reraises", Mode.TRUTHY)
    assert (raised.outcome.kind, raised.outcome.detail) == ("raised", "ValueError")
    assert completed.outcome.kind == "returned"
    assert completed.calls == ("session.get", "await session.get()")


def test_harness_stops_an_endless_loop_and_a_cancelled_child_raises(harness_module):
    assert execute(harness_module, "forever", Mode.TRUTHY).outcome.kind == "exhausted"
    child = execute(harness_module, "child", Mode.TRUTHY).outcome
    assert (child.kind, child.own) == ("cancelled", False)


def test_harness_modes_decide_truthiness_and_iteration(harness_module):
    truthy = execute(harness_module, "loops", Mode.TRUTHY)
    falsy = execute(harness_module, "loops", Mode.FALSY)
    assert (truthy.outcome.detail, truthy.calls) == ("int", ("items[0].close", "items[1].close"))
    assert (falsy.outcome.detail, falsy.calls) == ("NoneType", ())


def test_harness_calls_a_method_on_an_instance_whose_attributes_are_probes(harness_module):
    result = execute(harness_module, "Service.stop", Mode.TRUTHY)
    assert result.outcome.detail == "Probe"
    assert result.calls == ("await asyncio.sleep", "self.transport.close")


# -- generated handlers ---------------------------------------------------------------------------
GENERATED_OPTIONS = cli_options("")
CLAUSES = (
    "asyncio.CancelledError",
    "asyncio.CancelledError as exc",
    "BaseException",
    "BaseException as exc",
    "",
    # (A tuple with a library's error, `(ValueError, asyncio.CancelledError)`, has unsafe fixes
    # only: fix_safety.lists_cancellation_among_errors.)
    "(KeyboardInterrupt, asyncio.CancelledError)",
    "(KeyboardInterrupt, asyncio.CancelledError) as exc",
)
SIMPLE = (
    "pass",
    "probe.log('handled')",
    "probe.cleanup()",
    "await probe.close()",
    "return probe.value",
    "raise",
    "raise RuntimeError('converted')",
    "raise asyncio.CancelledError('replaced')",
)


def _indent(lines: List[str]) -> List[str]:
    return ["    " + line for line in lines]


LOOP_EXITS = ("break", "continue")
SHAPES = ("alone", "in a loop", "work after")


def _block(bound: bool, in_loop: bool, depth: int) -> st.SearchStrategy:
    choices = SIMPLE + (("probe.record(exc)",) if bound else ()) + (LOOP_EXITS if in_loop else ())
    simple = st.sampled_from(choices).map(lambda s: [s])
    statement = simple
    if depth:
        inner = _block(bound, in_loop, depth - 1)
        branch = st.tuples(inner, inner).map(
            lambda pair: ["if probe.flag:", *_indent(pair[0]), "else:", *_indent(pair[1])]
        )
        statement = st.one_of(simple, branch)
    return st.lists(statement, min_size=1, max_size=3).map(_up_to_the_first_exit)


def _up_to_the_first_exit(statements: List[List[str]]) -> List[str]:
    """The statements, up to the first that leaves the block (none after it is ever run)."""
    lines: List[str] = []
    for statement in statements:
        lines.extend(statement)
        if statement[0].startswith(("return", "raise", "break", "continue")):
            break
    return lines


@st.composite
def generated_handlers(draw, shapes: Tuple[str, ...] = SHAPES) -> str:
    """``try: await probe.wait()`` and a handler: alone in ``f``, in a loop, or followed by a
    call."""
    clause = draw(st.sampled_from(CLAUSES))
    shape = draw(st.sampled_from(shapes))
    body = draw(_block("as exc" in clause, shape == "in a loop", 2))
    statement = [
        "try:",
        "    await probe.wait()",
        f"except{' ' + clause if clause else ''}:",
        *_indent(body),
    ]
    if shape == "in a loop":
        statement = ["for item in probe.items:", *_indent(statement)]
    elif shape == "work after":
        statement.append("probe.after()")
    lines = ["import asyncio", "", "", "async def f(probe):", *_indent(statement)]
    return "\n".join(lines) + "\n"


def _generated_verdict(source: str) -> Optional[Verdict]:
    """None when the safe fixes change nothing."""
    data = source.encode()
    result = fix_bytes(data, engine_for(GENERATED_OPTIONS))
    assert result.problem is None
    if result.data == data:
        return None
    fixed_text = result.data.decode()
    findings = [(finding.line, finding.code) for finding in lint(data, GENERATED_OPTIONS)]
    remaining = [(finding.line, finding.code) for finding, _ in result.remaining]
    sites = changed_sites(source, fixed_text, "f", findings)
    before, after = Module(source, "generated original"), Module(fixed_text, "generated fixed")
    found = compare(before, after, "f", sites, lambda: remaining)
    assert found.not_executable is None, f"{source}{found.not_executable}"
    return found


@lru_cache(maxsize=None)
def generated_problems() -> Tuple[int, int, Dict[str, List[str]]]:
    """How many generated handlers the safe fixes changed, in how many of them the fixed run (a)
    ended with the task's own cancellation in some mode, and what broke, by property. The
    examples are collected, not asserted on one by one: every test below reads them, and an
    expected failure needs no shrinking."""
    fixed_count = propagating = 0
    problems: Dict[str, List[str]] = {prop: [] for prop in PROPERTIES}

    @settings(max_examples=100, deadline=None, derandomize=True, database=None)
    @given(generated_handlers())
    def collect(source: str) -> None:
        nonlocal fixed_count, propagating
        found = _generated_verdict(source)
        if found is None:
            return
        fixed_count += 1
        propagating += found.propagating > 0
        for prop, messages in found.problems.items():
            if messages:
                problems[prop].append(f"{source}{messages[0]}")

    collect()
    return fixed_count, propagating, problems


def _assert_generated(*props: str) -> None:
    fixed_count, propagating, problems = generated_problems()
    assert fixed_count >= 20, f"only {fixed_count} generated handlers were fixed"
    assert propagating >= fixed_count * 0.8, f"only {propagating} of {fixed_count} propagate"
    broken = [message for prop in props for message in problems[prop]]
    if broken:
        examples = "\n\n".join(broken[:3])
        raise PropertyBroken(f"{len(broken)} of {fixed_count} fixed handlers:\n\n{examples}")


def test_generated_safe_fixes_let_the_tasks_own_cancellation_propagate():
    # Not "loses": with every flag truthy or every flag falsy, the path that swallows the
    # cancellation may be one that mixes them.
    _assert_generated("propagates")


def test_generated_safe_fixes_change_nothing_for_a_value_error_or_a_normal_end():
    _assert_generated("others")


def test_generated_safe_fixes_keep_the_handlers_work():
    _assert_generated("handler")


def test_generated_safe_fixes_skip_no_work_after_the_handler():
    _assert_generated("after")
