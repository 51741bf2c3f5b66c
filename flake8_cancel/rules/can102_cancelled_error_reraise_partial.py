from __future__ import annotations

from flake8_cancel.edits import reraise_at_end
from flake8_cancel.gate import cancellation_names
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.sites import HandlerSite


@register
class CancelledErrorReraisePartial(Rule):
    """
    ## What it does
    Checks for `except asyncio.CancelledError:` handlers in async code that re-raise the
    cancellation on some paths but swallow it on others.

    ## Why is this bad?
    The path that swallows has the same effect as never re-raising (see CAN101): the task goes on
    running after `cancel()`, timeouts do not fire and shutdown hangs, but only sometimes, which
    makes the bug hard to reproduce. Paths are followed exactly through `if`/`elif`/`else`,
    `match`, nested `try`/`finally`, loops, `return`, `break` and `continue`.

    In an async generator, a `yield` in the handler is a path that may end there: the consumer
    may never ask for the next item (it breaks out of its `async for`, or closes the generator),
    and the generator then ends at that `yield` with `GeneratorExit` instead of the
    cancellation (CAN101 when no path re-raises).

    ## Example
    ```python
    import asyncio


    async def fetch(session, url, retry):
        try:
            return await session.get(url)
        except asyncio.CancelledError:
            if retry:
                return None
            raise
    ```

    ## Use instead
    ```python
    import asyncio


    async def fetch(session, url, retry):
        try:
            return await session.get(url)
        except asyncio.CancelledError:
            raise
    ```

    If a path must really end the cancellation, make it explicit: check
    `asyncio.current_task().cancelling()` and re-raise when it is non-zero, or call
    `asyncio.current_task().uncancel()` on that path (3.11+).

    ## Fix safety
    Unsafe, where there is a fix (`--unsafe-fixes`). A handler that already re-raises on some
    paths chose when to swallow on purpose (a flag, a condition, a retry): only a person knows
    whether the swallowing paths are right. The unsafe fix appends a bare `raise` (or, for a
    clause that also catches other exceptions, `if isinstance(exc, asyncio.CancelledError):
    raise`, binding a fresh name when the clause has none) when every swallowing path falls off
    the end of the handler; a swallowing `return`, `break` or `continue` gets no fix.

    ## Not reported
    The same handlers as CAN101 does not report; a handler whose every path swallows is CAN101.

    ## Libraries
    As CAN101: asyncio, anyio and trio alike; the unsafe fix re-raises with a bare `raise`, and
    a guarded one names the module's library (`isinstance(exc, trio.Cancelled)`,
    `isinstance(exc, get_cancelled_exc_class())`).

    ## Known problems
    The same as CAN101.
    """

    code = "CAN102"
    slug = "cancelled-error-reraise-partial"
    message = "CancelledError is re-raised on some paths only; re-raise it on every path"
    fix_safety = FixSafety.UNSAFE
    gate = r"CancelledError"
    screen = handler(Named.CANCELLATION, swallows=True)

    @classmethod
    def gate_pattern(cls, settings):
        return cancellation_names(settings)

    def check_handler(self, site: HandlerSite) -> bool:
        return (
            site.catch.names_cancellation
            and site.swallows_cancellation
            and site.paths.reraises
            and not site.awaits_cancelled_child
        )

    def build_fix(self, site: HandlerSite, node=None):
        return reraise_at_end(site)
