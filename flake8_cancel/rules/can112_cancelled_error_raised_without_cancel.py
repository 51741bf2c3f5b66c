from __future__ import annotations

from typing import Iterable, Iterator, List, NamedTuple, Set, Tuple

import libcst as cst

from flake8_cancel.gate import cancellation_names
from flake8_cancel.names import Vocabulary
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, raising
from flake8_cancel.sites import FunctionSite
from flake8_cancel.syntax import (
    BlockKind,
    Statement,
    blocks,
    reference_key,
    small_statements,
    statements,
)

@register
class CancelledErrorRaisedWithoutCancel(Rule):
    """
    ## What it does
    Checks for `raise asyncio.CancelledError` or `raise asyncio.CancelledError(...)` (any
    spelling, a configured cancellation class, or anyio's `get_cancelled_exc_class()`) in async
    code, outside a handler that catches the cancellation: a cancellation that no `cancel()`
    asked for.

    ## Why is this bad?
    Raising `CancelledError` makes the task look cancelled, but nobody cancelled it, so nothing
    accounts for it. A `TaskGroup` takes it for the child's own cancellation and drops it: the
    error disappears and the group carries on. `asyncio.timeout()` and `Task.cancelling()` count
    the cancellations that were requested, and this one was not, so on Python 3.11+ their
    bookkeeping is off. Whoever awaits the task cannot tell it from a real cancel: `asyncio.run`
    or a supervisor treats a failure (a closed channel, a lost connection) as a deliberate stop,
    and a retry loop that lets cancellations through gives up.

    ## Example
    ```python
    import asyncio


    async def receive(channel):
        message = await channel.get()
        if message is None:
            raise asyncio.CancelledError("channel closed")
        return message
    ```

    ## Use instead
    ```python
    import asyncio


    class ChannelClosed(Exception):
        pass


    async def receive(channel):
        message = await channel.get()
        if message is None:
            raise ChannelClosed("channel closed")
        return message
    ```

    Where the task should really stop, cancel it (`asyncio.current_task().cancel()`, or the
    owner's `task.cancel()`), so that the cancellation is counted.

    ## Fix safety
    There is no fix: which exception the callers should see instead is a decision for a person.

    ## Not reported
    - code in a sync `def` (a Future-like `result()` that raises `CancelledError` for a
      cancelled future), a `lambda` or a class body, also one nested in a coroutine;
    - a `raise` inside a handler that catches the cancellation (`except asyncio.CancelledError:`,
      a bare `except:`, `except BaseException:`), at any depth: the cancellation is real there,
      and a new instance of it is CAN106;
    - a `raise` under `if flag:` where `flag` (a name or an attribute) was set to `True` in a
      handler of the same function that catches the cancellation: the cancellation it raises
      was requested, caught and deferred until the cleanup was done;
    - in `__aexit__`, a `raise` under a test that the exception is the cancellation
      (`if exc_type is asyncio.CancelledError:`): it passes on the one in flight;
    - `concurrent.futures.CancelledError` and other classes of that name: they are ordinary
      exceptions.

    ## Libraries
    asyncio's `CancelledError` and anyio's `get_cancelled_exc_class()` (and configured
    classes). trio's `Cancelled` has no public constructor: trio code cannot raise one.

    ## Known problems
    A `CancelledError` raised to pass on a child's cancellation (`if task.cancelled(): raise
    asyncio.CancelledError`) is reported: the current task was not cancelled, and a plain
    `await task` would pass it on with the child's message. Tests that raise `CancelledError` on
    purpose to simulate a cancellation are reported too; add `# noqa: CAN112`.

    A project's own subclass of `CancelledError` is not recognised.
    """

    code = "CAN112"
    slug = "cancelled-error-raised-without-cancel"
    message = "a CancelledError that no cancel() asked for passes for a real cancellation; raise another exception, or cancel the task"
    fix_safety = FixSafety.NONE
    anchor = "raise"
    # A raise, and a cancellation class (any spelling names the class, or anyio's getter).
    # The names first: a rarer word, found by a fast literal scan (`raise` is in most files).
    gate = (r"CancelledError|get_cancelled_exc_class", r"raise\b")
    screen = raising(Named.CANCELLATION)

    @classmethod
    def gate_pattern(cls, settings):
        return (cancellation_names(settings, "get_cancelled_exc_class"), r"raise\b")

    def report_function(self, site: FunctionSite) -> List[cst.CSTNode]:
        if not site.scope.is_async:
            return []
        vocabulary = site.vocabulary
        exception = set(site.exit_exception_names)
        deferred: Set[str] = set()
        found: List[Tuple[cst.Raise, Tuple[cst.BaseExpression, ...]]] = []
        for place in _raise_places(statements(site.node.body), vocabulary, (), False):
            if place.in_cancellation_handler:
                deferred |= _flags_set_true(place.statement)
                continue
            for small in small_statements(place.statement):
                if isinstance(small, cst.Raise) and vocabulary.is_new_cancellation(small.exc):
                    found.append((small, place.guards))
        return [
            node
            for node, guards in found
            if not any(
                _tests_flag(guard, deferred) or vocabulary.tests_cancellation(guard, exception)
                for guard in guards
            )
        ]


class _Place(NamedTuple):
    statement: Statement  # a simple statement
    guards: Tuple[cst.BaseExpression, ...]  # the tests of the `if` branches it is in the body of
    in_cancellation_handler: bool  # in a handler that catches cancellation (CAN106's)


def _raise_places(
    block: Iterable[Statement],
    vocabulary: Vocabulary,
    guards: Tuple[cst.BaseExpression, ...],
    in_handler: bool,
) -> Iterator[_Place]:
    """Every simple statement of the block, outside nested scopes, with the ``if`` tests it
    runs under and whether it is in a handler that receives the cancellation."""
    for statement in block:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            yield _Place(statement, guards, in_handler)
            continue
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue
        catches = (
            [vocabulary.catch_of(handler.type) for handler in statement.handlers]
            if isinstance(statement, (cst.Try, cst.TryStar))
            else []
        )
        for block_kind, suite, owner in blocks(statement):
            inner_guards, inner_handler = guards, in_handler
            if isinstance(owner, cst.If) and block_kind in (BlockKind.BODY, BlockKind.ALTERNATIVE):
                if owner.body is suite:  # an if or elif branch, not the final else
                    inner_guards = guards + (owner.test,)
            elif block_kind is BlockKind.HANDLER:
                handlers = statement.handlers  # type: ignore[union-attr]
                index = next(i for i, handler in enumerate(handlers) if handler is owner)
                shielded = any(catch.catches_every_cancellation for catch in catches[:index])
                inner_handler = in_handler or (catches[index].catches_cancellation and not shielded)
            yield from _raise_places(statements(suite), vocabulary, inner_guards, inner_handler)


def _flags_set_true(statement: Statement) -> Set[str]:
    """``cancelled = True``, ``self._cancelled = True``: the flags this statement raises."""
    return {
        key
        for small in small_statements(statement)
        if isinstance(small, cst.Assign)
        and isinstance(small.value, cst.Name)
        and small.value.value == "True"
        for target in small.targets
        for key in (reference_key(target.target),)
        if key is not None
    }


def _tests_flag(test: cst.BaseExpression, flags: Set[str]) -> bool:
    """``if flag:`` or ``if flag and ...:`` for one of the flags."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _tests_flag(test.left, flags) or _tests_flag(test.right, flags)
    return reference_key(test) in flags
