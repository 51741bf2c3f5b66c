from __future__ import annotations

import operator
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple, Union

import libcst as cst

from flake8_cancel.gate import cancellation_names
from flake8_cancel.names import CONTEXT_MANAGERS, EXIT_METHODS, Vocabulary
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import exit_function
from flake8_cancel.sites import (
    FunctionSite,
    ModuleContext,
    TryNode,
    positional_parameters,
)
from flake8_cancel.syntax import (
    is_nested_scope,
    Handler,
    Statement,
    blocks,
    bound_name,
    calls_method,
    children,
    descendants,
    dotted_name,
    has_cancellation_point,
    small_statements,
    statements,
)

# A path's state: has the exception been tested to be the cancellation, has uncancel() run.
State = Tuple[bool, bool]
UNTESTED: State = (False, False)


@register
class ExitConvertsCancellation(Rule):
    """
    ## What it does
    Checks for a context manager's `__exit__` or `__aexit__` (or a function that
    `contextlib.contextmanager`/`asynccontextmanager` turns into one) that raises a different
    exception on a path where the exception was tested to be the cancellation, and never calls
    `<task>.uncancel()` on that path: the timeout helper written before `asyncio.timeout()`.

    ## Why is this bad?
    A timeout helper cancels the task when its deadline passes, and its exit turns the
    `CancelledError` into `TimeoutError`. Since Python 3.11 a task counts the cancellations
    requested of it (`Task.cancelling()`), and only `uncancel()` takes one back. Without it the
    count stays raised after the `TimeoutError` is handled: the next `asyncio.timeout()` or
    `TaskGroup` in the task takes its own cancellation for one from outside and lets it through,
    and a structured shutdown waits for a task that believes it is still being cancelled. A
    `cancel()` from outside that arrives just as the deadline passes is lost too: the helper
    converts it into a `TimeoutError` along with its own. `asyncio.timeout()` calls `uncancel()`
    and raises `TimeoutError` only when no other cancellation is pending.

    ## Example
    ```python
    import asyncio


    class Deadline:
        async def __aexit__(self, exc_type, exc, tb):
            self._handle.cancel()
            if exc_type is asyncio.CancelledError and self._expired:
                raise asyncio.TimeoutError from exc
    ```

    ## Use instead
    ```python
    import asyncio


    class Deadline:
        async def __aexit__(self, exc_type, exc, tb):
            self._handle.cancel()
            if exc_type is asyncio.CancelledError and self._expired:
                if self._task.uncancel() <= self._cancelling:
                    raise asyncio.TimeoutError from exc
    ```

    Where Python 3.11 is the oldest version supported, use `asyncio.timeout()` instead.

    ## Fix safety
    There is no fix: ending the cancellation needs the task the helper cancelled and the count
    it had on entry (`task.cancelling()` in `__enter__`), which only the helper knows.

    ## Not reported
    - a path that calls `uncancel()` on any task before it raises, also through a function of
      the module or a method of the class that calls it (`_uncancel_task(self._task)`), or in
      the test of an `if` around the raise;
    - a path that runs only before Python 3.11 (under `sys.version_info < (3, 11)`, or the
      `else` of `sys.version_info >= (3, 11)`): there is no `uncancel()` to call;
    - a `raise` that is not only on paths where the exception is known to be the cancellation
      (`exc_type is asyncio.CancelledError` true, `exc_type is not asyncio.CancelledError`
      false, `issubclass(exc_type, ...)`, `isinstance(exc, ...)`, `exc_type in (...)`): a
      `TimeoutError` raised for any exception once the deadline has passed, or a task group's
      `raise BaseExceptionGroup(...)` of its children's errors after
      `if not isinstance(exc, CancelledError): errors.append(exc)`, is no decision about the
      cancellation;
    - re-raising the exception: bare `raise`, `raise exc`, or a new `CancelledError`;
    - in a `contextmanager` function, a handler around the `yield` whose `try` body also awaits:
      that is CAN105's business, as for any handler; and a bare `except:` or `except
      BaseException:` that does not test the exception;
    - other methods and functions, unless `__exit__`/`__aexit__` call them with the exception
      (`self._do_exit(exc_type)`): then their parameters are tested the same way.

    ## Libraries
    asyncio: the exit must call `uncancel()` before it converts, as `asyncio.timeout()` does.
    trio's and anyio's deadline scopes (`fail_after`) convert their own cancellation themselves,
    and a hand-written exit in a trio module has no `uncancel()` to call; it is reported when it
    tests for asyncio's `CancelledError` or anyio's class.

    ## Known problems
    The exception is recognised by the parameters of `__exit__`/`__aexit__` and by the name an
    `except ... as exc` clause binds around the `yield`; a copy of it under another name, or
    `sys.exc_info()`, is not followed; nor is a flag set where the exception was tested and
    read later (`expired = True` in the `except CancelledError:` around the `yield`, then `if
    expired: raise TimeoutError` after the `try`): that raise is also on the paths of other
    exceptions. A call to `uncancel()` counts whatever task it is made on, and a version check
    only in the form `sys.version_info <op> (3, N)`.
    """

    code = "CAN113"
    slug = "exit-converts-cancellation"
    message = "this exit turns the cancellation into another exception and never calls uncancel(); call uncancel() first, or use asyncio.timeout()"
    fix_safety = FixSafety.NONE
    anchor = "raise"
    # An exit method or a context-manager decorator, and the cancellation they test.
    gate = (r"__a?exit__|contextmanager", r"CancelledError")
    screen = exit_function()

    @classmethod
    def gate_pattern(cls, settings):
        return (r"__a?exit__|contextmanager", cancellation_names(settings))

    def report_function(self, site: FunctionSite) -> List[cst.CSTNode]:
        exception_names = _exception_names(site)
        around_yield = _is_context_manager(site)
        if exception_names is None and not around_yield:
            return []
        paths = _ExitPaths(site, exception_names or frozenset(), around_yield)
        paths.block(statements(site.node.body), {UNTESTED})
        return paths.converting()


def _exception_names(site: FunctionSite) -> Optional[FrozenSet[str]]:
    """The parameters that hold the exception: ``exc_type`` and ``exc`` of ``__exit__`` or
    ``__aexit__``, or those of a method of the class that its exit methods pass them to."""
    if not site.is_method:
        return None
    name = site.node.name.value
    if name in EXIT_METHODS:
        return site.exit_exception_names
    owner = site.scope.owner_class
    found: Set[str] = set()
    for method in statements(owner.body):  # type: ignore[union-attr]
        if not (isinstance(method, cst.FunctionDef) and method.name.value in EXIT_METHODS):
            continue
        passed = set(positional_parameters(method)[1:3])
        for call in descendants(method.body):
            if isinstance(call, cst.Call) and dotted_name(call.func) == f"self.{name}":
                found |= _parameters_given(site.node, call, passed)
    return frozenset(found) or None


def _parameters_given(function: cst.FunctionDef, call: cst.Call, names: Set[str]) -> Set[str]:
    """The parameters of the method ``function`` (called as ``self.m(...)``) that ``call``
    passes one of ``names`` to."""
    parameters = positional_parameters(function)[1:]
    given = set()
    for index, argument in enumerate(call.args):
        if not (isinstance(argument.value, cst.Name) and argument.value.value in names):
            continue
        if argument.keyword is not None:
            given.add(argument.keyword.value)
        elif not argument.star and index < len(parameters):
            given.add(parameters[index])
    return given


def _is_context_manager(site: FunctionSite) -> bool:
    bindings = site.vocabulary.bindings
    return any(
        bindings.resolves_to(decorator.decorator, CONTEXT_MANAGERS)
        for decorator in site.node.decorators
    )


class _ExitPaths:
    """The paths through an exit: which ``raise`` statements a path reaches on which the
    exception was tested to be the cancellation and ``uncancel()`` has not run."""

    def __init__(self, site: FunctionSite, names: FrozenSet[str], around_yield: bool) -> None:
        self.site = site
        self.vocabulary: Vocabulary = site.vocabulary
        self.names = set(names)  # what holds the exception here
        self.around_yield = around_yield
        self.uncancelling = _uncancelling_callees(site)
        # Every raise of another exception, with the states it is reached in (a loop body or
        # a finally block is walked more than once).
        self.raises: Dict[int, Tuple[cst.Raise, Set[State]]] = {}
        self.loop_exits: List[Set[State]] = []

    def converting(self) -> List[cst.CSTNode]:
        """The raises that a path reaches where the exception is the cancellation and
        uncancel() has not run, and no path where it may be another exception: a raise for
        whatever exception (``if not isinstance(exc, CancelledError): errors.append(exc)``,
        then ``raise ExceptionGroup(..., errors)``) is no decision about the cancellation."""
        return [
            node
            for node, states in self.raises.values()
            if (True, False) in states and all(tested for tested, _ in states)
        ]

    def block(self, block: Sequence[Statement], states: Set[State]) -> Set[State]:
        """The states in which the block completes (empty: it never does)."""
        for statement in block:
            if not states:
                break
            states = self.statement(statement, states)
        return states

    def statement(self, statement: Statement, states: Set[State]) -> Set[State]:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            return self.simple(small_statements(statement), states)
        if isinstance(statement, cst.If):
            return self.if_(statement, states)
        if isinstance(statement, (cst.For, cst.While)):
            return self.loop(statement, states)
        if isinstance(statement, (cst.Try, cst.TryStar)):
            return self.try_(statement, states)
        if isinstance(statement, (cst.With, cst.Match)):
            return self.branches(statement, states)
        return states  # def, class: defining runs nothing

    def simple(self, smalls: Sequence[cst.BaseSmallStatement], states: Set[State]) -> Set[State]:
        for small in smalls:
            if self.uncancels(small):
                states = {(tested, True) for tested, _ in states}
            if isinstance(small, cst.Raise):
                if self.converts(small):
                    self.raises.setdefault(id(small), (small, set()))[1].update(states)
                return set()
            if isinstance(small, cst.Return):
                return set()
            if isinstance(small, (cst.Break, cst.Continue)):
                if self.loop_exits:
                    self.loop_exits[-1] |= states
                return set()
        return states

    def if_(self, node: cst.If, states: Set[State]) -> Set[State]:
        if self.uncancels(node.test):
            states = {(tested, True) for tested, _ in states}
        then_states, else_states = set(states), set(states)
        cancellation = self.vocabulary.tests_cancellation(node.test, self.names)
        if cancellation is True:
            then_states = {(True, uncancelled) for _, uncancelled in states}
        elif cancellation is False:
            else_states = {(True, uncancelled) for _, uncancelled in states}
        newer = _true_since_311(node.test)
        if newer is True:
            else_states = set()
        elif newer is False:
            then_states = set()
        done = self.block(statements(node.body), then_states)
        if isinstance(node.orelse, cst.If):
            return done | self.if_(node.orelse, else_states)
        if node.orelse is not None:
            return done | self.block(statements(node.orelse.body), else_states)
        return done | else_states

    def loop(self, node: Union[cst.For, cst.While], states: Set[State]) -> Set[State]:
        """The body may run any number of times; ``break`` and ``continue`` end up after it."""
        entry = set(states)
        self.loop_exits.append(set())
        while True:  # the states only grow, and there are four
            grown = entry | self.block(statements(node.body), entry)
            if grown == entry:
                break
            entry = grown
        jumped = self.loop_exits.pop()
        if _endless(node):
            return jumped
        orelse = node.orelse
        after = self.block(statements(orelse.body), entry) if orelse is not None else entry
        return after | jumped

    def try_(self, node: TryNode, states: Set[State]) -> Set[State]:
        body = self.block(statements(node.body), states)
        # A handler may start before or after anything in the body ran.
        entry = states | body
        done = self.block(statements(node.orelse.body), body) if node.orelse else set(body)
        for handler in node.handlers:
            starts = entry
            if self.catches_cancellation_at_the_yield(node, handler):
                starts = {(True, uncancelled) for _, uncancelled in entry}
            done |= self.block(statements(handler.body), starts)
        if node.finalbody is None:
            return done
        # The finally block runs on every way out; what it raises replaces what was in flight.
        self.block(statements(node.finalbody.body), entry | done)
        return self.block(statements(node.finalbody.body), done)

    def branches(self, node: Union[cst.With, cst.Match], states: Set[State]) -> Set[State]:
        """``with`` (assumed not to suppress) and ``match`` (a case may not match)."""
        done = set() if isinstance(node, cst.With) else set(states)
        for block in blocks(node):
            done |= self.block(statements(block.suite), states)
        return done

    # -- what the code says ------------------------------------------------------------------
    def catches_cancellation_at_the_yield(self, node: TryNode, handler: Handler) -> bool:
        """In a ``contextmanager`` function, ``except CancelledError`` around the ``yield``: what
        it catches was thrown in at the ``yield`` by the ``with`` body. A ``try`` body that
        awaits is CAN105's, like any handler around an ``await``."""
        if not self.around_yield or not _yields(node.body):
            return False
        if self.site.scope.is_async and has_cancellation_point(node.body):
            return False
        bound = bound_name(handler)
        if bound is not None:
            self.names.add(bound)  # `isinstance(exc, ...)` in the handler
        return self.vocabulary.catch_of(handler.type).names_cancellation

    def converts(self, node: cst.Raise) -> bool:
        """Does ``raise`` raise something other than the exception in flight?"""
        raised = node.exc
        if raised is None or self.vocabulary.is_new_cancellation(raised):
            return False
        if (
            isinstance(raised, cst.Call)
            and isinstance(raised.func, cst.Attribute)
            and raised.func.attr.value == "with_traceback"
        ):
            raised = raised.func.value
        return not (isinstance(raised, cst.Name) and raised.value in self.names)

    def uncancels(self, node: cst.CSTNode) -> bool:
        if calls_method(node, "uncancel"):
            return True
        return any(
            isinstance(call, cst.Call) and dotted_name(call.func) in self.uncancelling
            for call in (node, *descendants(node))
        )


def _yields(suite: cst.CSTNode) -> bool:
    """Does this code ``yield``, outside nested scopes?"""
    stack: List[cst.CSTNode] = list(children(suite))
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Yield):
            return True
        if not is_nested_scope(current):
            stack.extend(children(current))
    return False


def _endless(node: cst.CSTNode) -> bool:
    """``while True:``, left only by ``break``."""
    return (
        isinstance(node, cst.While)
        and isinstance(node.test, cst.Name)
        and node.test.value == "True"
    )


# By the name of libcst's operator class (named, not imported: libcst loads on first use).
_COMPARE: Dict[str, Callable[[object, object], bool]] = {
    "GreaterThanEqual": operator.ge,
    "GreaterThan": operator.gt,
    "LessThanEqual": operator.le,
    "LessThan": operator.lt,
}


def _true_since_311(test: cst.BaseExpression) -> Optional[bool]:
    """For ``sys.version_info >= (3, 11)`` and the like, the test's value on every Python from
    3.11 on (True or False); None when it is no such check or differs between those versions.
    In an ``and``, one operand false from 3.11 on makes the whole false."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        operands = (_true_since_311(test.left), _true_since_311(test.right))
        return False if False in operands else None
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
        return None
    left = test.left.value if isinstance(test.left, cst.Subscript) else test.left
    target = test.comparisons[0]
    compare = _COMPARE.get(type(target.operator).__name__)
    if dotted_name(left) not in ("sys.version_info", "version_info") or compare is None:
        return None
    if not isinstance(target.comparator, cst.Tuple):
        return None
    version = []
    for element in target.comparator.elements:
        if not isinstance(element.value, cst.Integer):
            return None
        version.append(int(element.value.value))
    values = {compare(since, tuple(version)) for since in ((3, 11), (3, 99))}
    return values.pop() if len(values) == 1 else None


def _uncancelling_callees(site: FunctionSite) -> FrozenSet[str]:
    """How this function can call a helper that calls ``uncancel()``: ``f`` for a function of
    the module (also one defined under a version check), ``self.m`` for a method of its class."""
    context: ModuleContext = site.context
    key = ("CAN113 uncancelling functions", id(context.module))
    if key not in context.memo:
        context.memo[key] = frozenset(
            function.name.value
            for function in _definitions(context.module.body)
            if calls_method(function.body, "uncancel")
        )
    found: Set[str] = set(context.memo[key])  # type: ignore[arg-type]
    owner = site.scope.owner_class
    if owner is not None:
        found.update(
            f"self.{method.name.value}"
            for method in statements(owner.body)
            if isinstance(method, cst.FunctionDef) and calls_method(method.body, "uncancel")
        )
    return frozenset(found)


def _definitions(block: Iterable[Statement]) -> Iterable[cst.FunctionDef]:
    """The functions a module defines, also inside its top-level ``if`` and ``try`` blocks."""
    for statement in block:
        if isinstance(statement, cst.FunctionDef):
            yield statement
        elif isinstance(statement, (cst.If, cst.Try)):
            for found in blocks(statement):
                yield from _definitions(statements(found.suite))

