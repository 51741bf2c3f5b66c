from __future__ import annotations

import libcst as cst

from flake8_cancel.edits import cancellation_reference, reraise_at_end
from flake8_cancel.flow import Exit
from flake8_cancel.gate import TIMEOUT_HANDLER, TIMEOUT_NAMED
from flake8_cancel.names import last_names
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.sites import HandlerSite, TrySite
from flake8_cancel.syntax import descendants

# Something this module can time: a TimeoutError clause indented under an `async with ...
# timeout(...)` line, a `wait_for(f(...))` of a function named here, or an `await f(...)` /
# `await self.f(...)` indented under a timeout block (f then runs timed).
_UNDER_TIMEOUT_BLOCK = (
    r"^([ \t]*)(?:async[ \t]+)?with[^:]{0,300}?(?:timeout(?:_at)?|fail_(?:after|at))\([^\n]*\n"
    r"(?:\1[ \t]+\S[^\n]*\n|[ \t]*\n|\1[)\]}][^\n]*\n)*?\1[ \t]+"
)
TIMED_SCOPE = (
    # Any `except` counts: the clause may name TimeoutError through a tuple alias.
    r"(?m)" + _UNDER_TIMEOUT_BLOCK + r"(?:except\b|[^\n]*\bawait[ \t]+(?:self\.|cls\.)?\w+\()"
    r"|wait_for\(\s*(?:self\.|cls\.)?\w+\("
)


@register
class TimeoutCaughtInsideTimedScope(Rule):
    """
    ## What it does
    Checks for `except TimeoutError:` (any spelling: builtin, `asyncio.TimeoutError`,
    `asyncio.exceptions.TimeoutError`, `concurrent.futures.TimeoutError`, or a tuple with one)
    inside the very scope that a deadline is timing, where that `TimeoutError` is never raised
    (the deadline arrives there as `CancelledError`).

    The timed scopes are:
    - inside `async with asyncio.timeout(...)` / `asyncio.timeout_at(...)` /
      `async_timeout.timeout(...)` (or a configured timeout manager), in the same function;
    - in a coroutine function that this module runs as `asyncio.wait_for(f(...), ...)` (`f` a
      module-level `async def`, or `self.f`/`cls.f` of the same class), or awaits inside a timeout
      block;
    - in a coroutine function of this module awaited from such a timed function, transitively.

    A handler whose `try` body has a deadline of its own (a nested `wait_for` or timeout manager,
    or a call with a `timeout=` or `*_timeout=` argument) is not reported: its `TimeoutError` can
    come from there.

    A tuple imported from another module of the project counts as one written here (CAN101 says
    how names are resolved).

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
    There is no fix where the clause names other exceptions too (a tuple, written here or
    imported), where another clause of
    the `try` already handles cancellation, or where a path of the handler raises another
    exception: catching the cancellation there would convert it (CAN105). Never in an `except*` clause (a bare `raise` there ends the task with a
    `BaseExceptionGroup`), nor where it would add `import asyncio` to a trio or anyio module, nor
    where the result would have a new finding (the README's *Fixing* section).

    ## Not reported
    - a `try` body with a deadline of its own: a nested `wait_for` or timeout manager, or a call
      with a `timeout=` or `*_timeout=` argument, whose `TimeoutError` can arrive there;
    - a `try` body with no `await`, `async for` or `async with`;
    - a timeout block or `wait_for` in another function than the handler's, unless the handler's
      function is the coroutine that is timed (or awaited, transitively, from one).

    ## Libraries
    asyncio: inside `async with asyncio.timeout()` (also `timeout_at`, `async_timeout`,
    configured managers) and in coroutines run by `asyncio.wait_for`, generator-based ones
    (`@asyncio.coroutine`, `@types.coroutine`, `yield from`) included. trio: inside
    `with trio.fail_after()`/`fail_at()`, where `trio.TooSlowError` is raised only at the block's
    exit. anyio: inside `with anyio.fail_after()`/`fail_at()` (the builtin `TimeoutError`, also
    only at the exit). `move_on_after()`/`move_on_at()` raise nothing and are not timed scopes
    here. The unsafe fix catches the module's library's cancellation instead.

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
    trio_message = "TooSlowError is never raised inside the timed scope; handle Cancelled here or catch TooSlowError outside"
    fix_safety = FixSafety.UNSAFE
    needs_call_index = True
    # An except clause (or a tuple alias) naming TimeoutError, and something that sets a deadline.
    gate = (r"wait_for|timeout(?:_at)?\(|fail_(?:after|at)\(", TIMEOUT_NAMED, TIMEOUT_HANDLER, TIMED_SCOPE)
    screen = handler(Named.TIMEOUT, timed=True)

    @classmethod
    def gate_pattern(cls, settings):
        extra = last_names(settings.extra_timeout_managers)
        sources = "|".join([r"wait_for|timeout(?:_at)?\(|fail_(?:after|at)\(", *extra])
        if not extra:
            return cls.gate
        # A configured manager may be spelled any way: keep the looser gate.
        return (sources, TIMEOUT_NAMED, TIMEOUT_HANDLER)

    def check_handler(self, site: HandlerSite) -> bool:
        try_site = site.try_site
        return (
            site.catch.timeout
            and try_site.body_awaits
            and in_timed_scope(try_site)
            and not body_has_own_timeout(try_site)
        )

    def build_fix(self, site: HandlerSite, node=None):
        """Catch CancelledError instead and re-raise at the end; only for a clause that names
        TimeoutError alone (in a tuple the other exceptions would start re-raising too), and not
        where another clause of the try already handles cancellation."""
        bindings = site.vocabulary.bindings
        if isinstance(site.node.type, cst.Tuple) or bindings.tuple_alias(
            getattr(site.node.type, "value", "")
        ):
            return None
        if site.try_site.catches_cancellation:
            return None
        if any(end.exit is Exit.RAISE_OTHER for end in site.paths.ends):
            return None  # catching the cancellation there would convert it: CAN105
        named = cancellation_reference(site.vocabulary)
        if named is None:
            return None
        reference, imports = named
        fix = reraise_at_end(site, exception_type=reference)
        return fix._replace(imports=imports) if fix is not None else None


def in_timed_scope(try_site: TrySite) -> bool:
    """A deadline on this code arrives as CancelledError here: inside a timeout block of the same
    function, or in a function that the module runs under a deadline (deadlines.py)."""
    function = try_site.scope.function
    return try_site.in_timeout_block or (
        function is not None and id(function) in try_site.context.timed_functions
    )


def body_has_own_timeout(try_site: TrySite) -> bool:
    """The try body has a deadline of its own: a nested ``wait_for`` or timeout manager, or a
    call with a ``timeout=``/``*_timeout=`` argument. Its TimeoutError can arrive here."""
    vocabulary = try_site.scope.vocabulary
    for node in descendants(try_site.node.body):
        if not isinstance(node, cst.Call):
            continue
        if (
            vocabulary.is_wait_for(node)
            or vocabulary.is_timeout_manager(node)
            or vocabulary.is_deadline_scope(node)
        ):
            return True
        for argument in node.args:
            keyword = argument.keyword
            if keyword is not None and (
                keyword.value == "timeout" or keyword.value.endswith("_timeout")
            ):
                return True
    return False
