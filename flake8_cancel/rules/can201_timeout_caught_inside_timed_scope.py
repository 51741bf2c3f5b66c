from flake8_cancel.engine import HandlerSite
from flake8_cancel.names import last_names
from flake8_cancel.registry import Rule, register
import libcst as cst

from flake8_cancel.fixes import qualified_reference, reraise_at_end

# An `except` clause, or a tuple of exceptions, that names TimeoutError. A bounded window, not
# `[^:]*`, because a comment inside a multi-line clause can hold a colon.
# Something this module can time: a TimeoutError clause indented under an `async with ...
# timeout(...)` line, a `wait_for(f(...))` of a function named here, or an `await f(...)` /
# `await self.f(...)` indented under a timeout block (f then runs timed).
_UNDER_TIMEOUT_BLOCK = (
    r"^([ \t]*)async[ \t]+with[^:]{0,300}?timeout(?:_at)?\([^\n]*\n"
    r"(?:\1[ \t]+\S[^\n]*\n|[ \t]*\n|\1[)\]}][^\n]*\n)*?\1[ \t]+"
)
TIMED_SCOPE = (
    # Any `except` counts: the clause may name TimeoutError through a tuple alias.
    r"(?m)" + _UNDER_TIMEOUT_BLOCK + r"(?:except\b|[^\n]*\bawait[ \t]+(?:self\.|cls\.)?\w+\()"
    r"|wait_for\(\s*(?:self\.|cls\.)?\w+\("
)
TIMEOUT_HANDLER = r"except[\s\S]{0,200}?TimeoutError|=\s*\([^)]*TimeoutError"
# Searched before TIMEOUT_HANDLER, which is tried at every `except` of the text.
TIMEOUT_NAMED = r"TimeoutError"


@register
class TimeoutCaughtInsideTimedScope(Rule):
    """
    ## What it does
    Checks for `except TimeoutError:` (any spelling: builtin, `asyncio.TimeoutError`,
    `asyncio.exceptions.TimeoutError`, `concurrent.futures.TimeoutError`, or a tuple with one)
    inside the very scope that a deadline is timing, where that `TimeoutError` is never raised:

    - inside `async with asyncio.timeout(...)` / `asyncio.timeout_at(...)` /
      `async_timeout.timeout(...)` (or a configured timeout manager), in the same function;
    - in a coroutine function that this module runs as `asyncio.wait_for(f(...), ...)` (`f` a
      module-level `async def`, or `self.f`/`cls.f` of the same class), or awaits inside a timeout
      block;
    - in a coroutine function of this module awaited from such a timed function, transitively.

    A handler whose `try` body has a deadline of its own (a nested `wait_for` or timeout manager,
    or a call with a `timeout=` or `*_timeout=` argument) is not reported: its `TimeoutError` can
    come from there.

    ## Why is this bad?
    When the deadline expires, asyncio cancels the task: the timed code sees `CancelledError` at
    its current `await`, and `TimeoutError` is raised only *outside*, by `wait_for` to its caller or
    at the exit of the timeout block. A `TimeoutError` handler inside never runs on timeout, so the
    cleanup it was written for is skipped. This is the mistake in the best-known question about
    asyncio timeouts.

    ## Example
    ```python
    import asyncio


    async def worker(queue):
        try:
            while True:
                await queue.get()
        except asyncio.TimeoutError:
            print("timed out, cleaning up")


    async def main(queue):
        await asyncio.wait_for(worker(queue), 10)
    ```

    ## Use instead
    Clean up on cancellation (which is what a timeout is, inside), and re-raise:
    ```python
    import asyncio


    async def worker(queue):
        try:
            while True:
                await queue.get()
        except asyncio.CancelledError:
            print("timed out or cancelled, cleaning up")
            raise


    async def main(queue):
        await asyncio.wait_for(worker(queue), 10)
    ```

    Or catch the timeout where it is raised, outside:
    ```python
    import asyncio


    async def worker(queue):
        while True:
            await queue.get()


    async def main(queue):
        try:
            await asyncio.wait_for(worker(queue), 10)
        except asyncio.TimeoutError:
            print("timed out")
    ```

    ## Fix safety
    Unsafe: catch `asyncio.CancelledError` instead and re-raise at the end of the handler. The
    handler then runs on every cancellation, not only on the deadline, which changes behaviour.

    ## Known problems
    A call inside the timed scope may raise `TimeoutError` on its own, from a deadline the linter
    cannot see: an aiohttp request under the session's `ClientTimeout`, a database driver with a
    connection timeout. The handler is then legitimate. Pass the timeout explicitly at the call
    (`timeout=...` silences the rule), move the handler next to that call's own `wait_for`, or add
    `# noqa: CAN201`.

    Only this module's functions are followed: a coroutine run by `wait_for` from another module,
    or through a variable, is not known to be timed.
    """

    code = "CAN201"
    slug = "timeout-caught-inside-timed-scope"
    message = "TimeoutError is never raised inside the timed scope; handle CancelledError here or catch TimeoutError outside"
    fix = "unsafe"
    needs_call_index = True
    # An except clause (or a tuple alias) naming TimeoutError, and something that sets a deadline.
    gate = (r"wait_for|timeout(?:_at)?\(", TIMEOUT_NAMED, TIMEOUT_HANDLER, TIMED_SCOPE)

    @classmethod
    def gate_pattern(cls, settings):
        extra = last_names(settings.extra_timeout_managers)
        sources = "|".join([r"wait_for|timeout(?:_at)?\(", *extra])
        if not extra:
            return cls.gate
        # A configured manager may be spelled any way: keep the looser gate.
        return (sources, TIMEOUT_NAMED, TIMEOUT_HANDLER)

    def check_handler(self, site: HandlerSite) -> bool:
        try_site = site.try_site
        return (
            site.catch.timeout
            and try_site.body_awaits
            and try_site.in_timed_scope
            and not try_site.body_has_own_timeout
        )

    def build_fix(self, site: HandlerSite, node=None):
        """Catch CancelledError instead and re-raise at the end; only for a clause that names
        TimeoutError alone (in a tuple the other exceptions would start re-raising too), and not
        where another clause of the try already handles cancellation."""
        if isinstance(site.node.type, cst.Tuple) or site.try_site.scope.vocabulary.bindings.tuple_alias(
            getattr(site.node.type, "value", "")
        ):
            return None
        if any(catch.catches_cancellation for catch in site.try_site.catches):
            return None
        reference, imports = qualified_reference(
            site.try_site.scope.vocabulary.bindings, "asyncio.CancelledError"
        )
        fix = reraise_at_end(site, exception_type=reference)
        return fix._replace(imports=imports) if fix is not None else None
