from __future__ import annotations

from typing import Iterable

import libcst as cst

from flake8_cancel.gate import cancellation_names
from flake8_cancel.names import last_names
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, suppressing_with
from flake8_cancel.sites import WithSite

@register
class CancellationSuppressed(Rule):
    """
    ## What it does
    Checks for `with contextlib.suppress(...)` whose arguments include `asyncio.CancelledError` or
    `BaseException`, around an `await`, `async for` or `async with` in async code.

    Any spelling counts: `asyncio.CancelledError`, `asyncio.exceptions.CancelledError`, an
    imported or aliased name, a tuple alias (also one imported from another module of the
    project: `suppress(*CONNECT_ERRORS)` with the tuple in `const.py`, see CAN101), and the
    cancellation exceptions configured with `--cancel-cancelled-names`; `suppress` in any import spelling (`from contextlib import
    suppress as ignored`, `import contextlib as cl`), and the suppressors configured with
    `--cancel-suppressors`. The finding points at the `suppress(...)` item of the `with`.

    ## Why is this bad?
    `suppress(CancelledError)` is an `except CancelledError: pass` in disguise. `Task.cancel()`
    works by raising `CancelledError` at the task's current `await`; inside this block it ends
    there, and the task carries on after the `with` as if nothing happened: `asyncio.timeout()`
    and `wait_for` no longer time out, `TaskGroup` cannot stop its children, and `asyncio.run`
    hangs on shutdown. On Python 3.11+ the task's `cancelling()` count also stays raised.

    ## Example
    ```python
    import asyncio
    from contextlib import suppress


    async def drain(queue):
        with suppress(asyncio.CancelledError):
            while True:
                await queue.get()
    ```

    ## Use instead
    Do the cleanup on cancellation, then let it continue:
    ```python
    import asyncio


    async def drain(queue):
        try:
            while True:
                await queue.get()
        except asyncio.CancelledError:
            print("drain stopped")
            raise
    ```

    ## Fix safety
    No fix: where the task should go after the cancellation is a decision for a person.

    ## Not reported
    - a `suppress` whose arguments do not include cancellation, such as `suppress(TimeoutError)`
      or `suppress(Exception)`;
    - a block with no `await`, `async for` or `async with` of its own (outside nested `def`,
      `lambda` and `class`): the task's cancellation cannot arrive there;
    - code in a sync `def`, a `lambda` or a class body nested in a coroutine;
    - blocks in the main coroutine that the same module passes to `asyncio.run()`, as for CAN101;
    - the child-cancel idiom, `t.cancel()` earlier in the function and a block that only awaits
      `t` (the same name or attribute chain, also inside an `asyncio.timeout()` block): the
      suppression expects `t`'s own cancellation. Its remaining risk, swallowing a cancellation of
      the current task that arrives meanwhile, is the opt-in rule CAN110. This holds for
      `suppress(BaseException)` as much as for `suppress(CancelledError)`;
    - a block that only awaits futures (plain names or attribute chains) that the function
      completed earlier with `set_result()` or `set_exception()`: awaiting a done future does not
      suspend, so no cancellation can arrive (homeassistant's `setup.py` retrieves the exception
      it has just set this way).

    ## Libraries
    `suppress()` of any library's cancellation (`asyncio.CancelledError`, `trio.Cancelled`,
    anyio's `get_cancelled_exc_class()`) or of `BaseException`. In trio the cancellation comes
    back at the next checkpoint of the cancelled scope, but the `with` block itself ends
    normally, as CAN101 explains.

    ## Known problems
    A suppression that is deliberate (the task is meant to end quietly when cancelled, and
    nobody waits for its cancellation) is reported all the same; add `# noqa: CAN107`, or write an
    `except CancelledError:` that calls `asyncio.current_task().uncancel()` (3.11+) to say so.
    Awaiting anything other than a plain name or attribute chain, such as
    `await asyncio.wait_for(t, 1)` or `await asyncio.gather(t)`, is not recognised as the
    child-cancel idiom. As for the child-cancel idiom, a `cancel()`, `set_result()` or
    `set_exception()` anywhere earlier in the function counts, also on another path
    (`if a: fut.set_result(x)`).
    """

    code = "CAN107"
    slug = "cancellation-suppressed"
    message = (
        "suppress() of CancelledError/BaseException around an await swallows cancellation; "
        "catch it in an 'except' that re-raises"
    )
    fix_safety = FixSafety.NONE
    anchor = r"[\w.]+\("
    # Both a suppressor's name and a name for what cancellation is, in any order.
    gate = ("suppress", "CancelledError|BaseException")
    screen = suppressing_with(Named.CANCELLATION, Named.BASE_EXCEPTION)

    @classmethod
    def gate_pattern(cls, settings):
        suppressors = "|".join(["suppress", *last_names(settings.extra_suppressors)])
        return (suppressors, cancellation_names(settings, "BaseException"))

    def report_with(self, site: WithSite) -> Iterable[cst.CSTNode]:
        if site.suppression is None or not site.body_awaits:
            return ()
        if site.awaits_cancelled_child or site.in_main_coroutine:
            return ()
        return site.cancellation_suppressing_items()
