from __future__ import annotations

from flake8_cancel.flow import Exit, receives_cancellation
from flake8_cancel.gate import cancellation_names
from flake8_cancel.names import Vocabulary
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.sites import HandlerSite, RaisePlace
from flake8_cancel.syntax import has_cancellation_point


@register
class CancellationConverted(Rule):
    """
    ## What it does
    Checks for handlers that catch the task's cancellation (`except asyncio.CancelledError:` in
    any spelling, a bare `except:`, or `except BaseException:`) around an `await` in async code,
    and raise a different exception on some path without calling `uncancel()` first.

    ## Why is this bad?
    `Task.cancel()`, `asyncio.timeout()`, `wait_for` and `TaskGroup` all rely on the cancelled
    task ending with `CancelledError`. When a handler turns it into another exception, whoever
    asked for the cancellation sees an error instead: `timeout()` no longer raises
    `TimeoutError`, a `TaskGroup` that cancels its children collects their errors, and
    `asyncio.run` reports an unhandled exception at shutdown. If the new exception is caught
    further up in the same task, the task even goes on running; on Python 3.11+ its
    `cancelling()` count then stays raised, and the next `timeout()` or `TaskGroup` it enters
    misbehaves.

    Deliberately ending a cancellation is allowed if it is said explicitly: a path that calls
    `<task>.uncancel()` before raising (what `asyncio.timeout()` itself does before it raises
    `TimeoutError`), or that runs only when `<task>.cancelling()` is zero, is not reported.

    ## Example
    ```python
    import asyncio


    async def fetch(session, url):
        try:
            return await session.get(url)
        except asyncio.CancelledError as exc:
            raise ConnectionError("request aborted") from exc
    ```

    ## Use instead
    ```python
    import asyncio


    async def fetch(session, url):
        try:
            return await session.get(url)
        except asyncio.CancelledError:
            session.log("request aborted")
            raise
    ```

    A home-made timeout that must raise `TimeoutError` ends the cancellation it caused first:
    ```python
    import asyncio


    async def fetch(session, url, deadline):
        try:
            return await session.get(url)
        except asyncio.CancelledError as exc:
            if deadline.expired and asyncio.current_task().uncancel() == 0:
                raise TimeoutError from exc
            raise
    ```

    ## Fix safety
    There is no fix: which exception the caller should see, and whether the cancellation should
    go on, is a decision for a person.

    ## Not reported
    - the handlers that CAN101 does not report: a `try` body without `await`, `async for` or
      `async with` (the task's cancellation cannot arrive there), code in a sync `def`, `lambda`
      or class body, a clause shielded by an earlier clause that catches `CancelledError`, and
      handlers in the main coroutine that the same module passes to `asyncio.run()`;
    - a path that calls `<task>.uncancel()` before it raises, or that runs only when a
      `<task>.cancelling()` check is false;
    - a path that runs only when `isinstance(exc, asyncio.CancelledError)` is false, or only when
      `isinstance(exc, OtherClasses)` is true (`asyncio.TimeoutError`, `socket.timeout`, a
      project's error class: any class known not to be a cancellation), for the name `exc` the
      clause binds: what it raises replaces another exception, not the cancellation; likewise
      `raise exc if isinstance(exc, asyncio.CancelledError) else Wrapped(exc)`;
    - a `raise` inside an inner `except` clause of the handler that does not catch cancellation
      (`try: await conn.close()` / `except OSError as e: raise CloseError() from e`): it replaces
      the inner exception, which would have replaced the cancellation anyway. An inner clause
      whose own `try` body awaits and that catches cancellation is judged on its own;
    - the child-cancel idiom, `t.cancel()` earlier in the function and a `try` body that only
      awaits `t`: the handler is about `t`'s cancellation, as for CAN101 (the risk that a
      cancellation of the current task arrives meanwhile is the opt-in rule CAN110's);
    - raising the caught exception under another name the handler gave it (`error = exc`,
      `raise error`);
    - `raise asyncio.CancelledError(...)`: the cancellation goes on (a new instance is CAN106),
      and calls to functions that never return (`sys.exit()`, `-> NoReturn`).

    Raising the cancellation inside an exception group (`raise BaseExceptionGroup("", [exc])`)
    is reported: asyncio's `timeout()`, `TaskGroup` and `Task.cancelled()` see the group, not a
    cancellation. (For the swallowing rules, a group that carries the exception on is no
    swallow.)

    ## Libraries
    asyncio, anyio and trio alike: a cancel scope (trio, anyio) ends only its own cancellation,
    so a conversion lets an error escape the scope instead; in asyncio, `timeout()` and
    `TaskGroup` see an error. trio has no `uncancel()`: there the only remedy is to re-raise.
    Raising the cancellation inside an exception group is a conversion for asyncio; anyio's and
    trio's scopes look inside groups, but asyncio's `TaskGroup` and `Task.cancelled()` do not.

    ## Known problems
    Some libraries and older code raise `CancelledError` for their own reasons (a closed
    connection, a cancelled future) and handlers translate it into a library error on purpose.
    Seen on real code and still reported, because the handler cannot tell that cancellation from
    the task's own: a conversion under a state that the class's own `close()` sets when it
    cancels (`if self._closed: raise ClosedResourceError`); a wrapper that converts the
    cancellation of the task it awaits, which another method of its class requested
    (`self.task.cancel(exc)` in `throw()`); a task whose only consumer is a thread's concurrent
    future, converting to `concurrent.futures.CancelledError`; a conversion on a path that an
    earlier check of the same condition makes unreachable (a type checker's guard); and a
    `raise AssertionError(...)` after a helper that re-raises through a context manager's exit,
    which the analysis does not follow.
    When the cancellation cannot be the task's own, add `# noqa: CAN105`; better, re-raise when
    `asyncio.current_task().cancelling()` is non-zero, which keeps a real cancellation going.

    A call to `uncancel()` on the path counts, whatever task it is called on.

    A new `CancelledError` built first and raised by name (`error = asyncio.CancelledError(msg)`,
    `raise error`) is taken for a different exception; `raise asyncio.CancelledError(msg)` is
    recognised (as CAN106).

    A class of unknown meaning in an `isinstance` test counts as another class than the
    cancellation unless it is named like one; a project's own subclass of `CancelledError` under
    another name would be missed.
    """

    code = "CAN105"
    slug = "cancellation-converted"
    message = "cancellation is converted into another exception; re-raise it with bare 'raise' or call uncancel() first"
    trio_message = "cancellation is converted into another exception; re-raise it with bare 'raise'"
    fix_safety = FixSafety.NONE
    gate = r"CancelledError|BaseException|except\s*:"
    screen = handler(Named.CANCELLATION, Named.BASE_EXCEPTION, Named.BARE, raises=Named.OTHER)

    @classmethod
    def gate_pattern(cls, settings):
        return cancellation_names(settings, "BaseException", r"except\s*:")

    def check_handler(self, site: HandlerSite) -> bool:
        if not site.sees_cancellation or site.in_main_coroutine or site.awaits_cancelled_child:
            return False
        converting = {
            id(end.node)
            for end in site.paths.ends
            if end.exit is Exit.RAISE_OTHER and not end.sanctioned and end.node is not None
        }
        if not converting:
            return False
        return any(
            id(raised.node) in converting and _replaces_cancellation(raised, site.vocabulary)
            for raised in site.raises
        )


def _replaces_cancellation(raised: RaisePlace, vocabulary: Vocabulary) -> bool:
    """A raise in an inner clause replaces what that clause caught: the cancellation only when
    the clause catches it (no earlier clause of its ``try`` does) and its own ``try`` body cannot
    be cancelled on its own (then it caught ours, re-raised there). A clause that can is judged
    as a handler of its own."""
    if raised.inner_clause is None or raised.inner_try is None:
        return True
    clauses = raised.inner_try.handlers
    index = next(i for i, clause in enumerate(clauses) if clause is raised.inner_clause)
    catches = [vocabulary.catch_of(clause.type) for clause in clauses]
    return receives_cancellation(catches, index) and not has_cancellation_point(
        raised.inner_try.body
    )
