from __future__ import annotations

from typing import Iterable, Optional

import libcst as cst

from flake8_cancel.edits import Fix, prepend_statement, qualified_reference
from flake8_cancel.gate import cancellation_names
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler, suppressing_with
from flake8_cancel.sites import HandlerSite, WithSite
from flake8_cancel.syntax import descendants

# The guard needs Task.cancelling(), new in Python 3.11.
GUARD_VERSION = (3, 11)


def cancelling_guard(current_task: cst.BaseExpression) -> cst.If:
    """``if asyncio.current_task().cancelling(): raise``"""
    test = cst.Call(
        func=cst.Attribute(value=cst.Call(func=current_task), attr=cst.Name("cancelling"))
    )
    body = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Raise()])])
    return cst.If(test=test, body=body)


def guard_always_true(site: HandlerSite) -> bool:
    """Where ``cancelling()`` is already non-zero whenever the handler runs, the guard would
    re-raise the child's cancellation too: inside an outer handler of the function that caught
    a cancellation, or in a module that uses ``async_timeout``, whose expired deadlines (before
    version 4.0.3) leave ``cancelling()`` raised."""
    function = site.scope.function
    if function is not None and _inside_a_cancellation_handler(function, site):
        return True
    return any(
        meaning.split(".", 1)[0] == "async_timeout"
        for _, meanings in site.context.bindings.visible_names()
        for meaning in meanings
    )


def _inside_a_cancellation_handler(function: cst.FunctionDef, site: HandlerSite) -> bool:
    target = site.try_site.node
    for node in descendants(function):
        if isinstance(node, (cst.ExceptHandler, cst.ExceptStarHandler)) and node is not site.node:
            if site.vocabulary.catch_of(node.type).catches_cancellation and any(
                inner is target for inner in descendants(node)
            ):
                return True
    return False


@register
class ChildCancelSwallowsOwn(Rule):
    """
    ## What it does
    Checks for the child-cancel idiom in async code: `t.cancel()`, then `await t` in a `try` whose
    `except asyncio.CancelledError:` swallows, or under `contextlib.suppress(CancelledError)`.

    The idiom: the function cancels `t` earlier, then a `try` body only awaits `t`, with an
    `except asyncio.CancelledError:` clause (any spelling) that has a swallowing path, or a
    `with contextlib.suppress(...)` of `CancelledError` or `BaseException` (any spelling; also
    configured suppressors and cancellation names) whose body only awaits `t`.
    - *Cancels `t`*: `t.cancel()`; a bound `t.cancel` handed to a call
      (`loop.call_soon(t.cancel)`); a call of a method of the same class that does one of these
      to `self.t` (`self.close()`); or a loop `for t in tasks: t.cancel()`, after which the group
      and every later loop variable over it count as cancelled.
    - *Awaits `t`*: `await t`, `await asyncio.wait_for(t, ...)`, `await asyncio.shield(t)`, or
      `await asyncio.gather(*tasks)` of a cancelled group, also inside an `asyncio.timeout()`
      block. `t` is a name, an attribute chain, or a subscript by a plain index (`app[key]`).

    Off by default; enable it with `--extend-select=CAN110` (flake8 or the command line).

    ## Why is this bad?
    The handler is written for `t`'s cancellation, which `await t` raises once `t` has stopped.
    But while the current task waits for `t`, it can be cancelled itself (by a `TaskGroup`, an
    `asyncio.timeout()`, a shutdown). That cancellation also arrives as `CancelledError` at
    `await t`, the handler cannot tell the two apart, and it swallows the current task's own
    cancellation: the task carries on after `cancel()` and timeouts, and shutdown can hang.
    On Python 3.11+, `asyncio.current_task().cancelling()` tells them apart: it is non-zero only
    while the current task itself is being cancelled.

    ## Example
    ```python
    import asyncio


    async def stop(worker):
        worker.cancel()
        try:
            await worker
        except asyncio.CancelledError:
            pass
    ```

    ## Use instead
    ```python
    import asyncio


    async def stop(worker):
        worker.cancel()
        try:
            await worker
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():
                raise
    ```

    ## Fix safety
    Unsafe, and only when the target version is 3.11 or later (`cancelling()` does not exist
    before): the fix puts `if asyncio.current_task().cancelling(): raise` first in the handler
    (replacing a lone `pass` or `...`; using the module's own name for `asyncio.current_task`, or
    adding `import asyncio`). The handler then lets the current task's cancellation through,
    which changes behaviour, and the guard also re-raises when an earlier cancellation of the
    current task was swallowed without `uncancel()`. There is no fix for a clause that catches
    other exceptions besides cancellation (the bare `raise` would re-raise those too), nor for the
    `with suppress(...)` form: rewrite it as a `try` with the guard.

    No fix either where the target version was assumed rather than declared (an option, the
    configuration, `requires-python`, or `python_requires` in setup.cfg or setup.py), where the
    guard would always be true (the `try` is inside an outer handler of the cancellation, or the
    module uses `async_timeout`, whose expired deadlines leave `cancelling()` raised), or in an
    `except*` clause.

    ## Not reported
    - a `try` or `with` body that awaits anything besides the cancelled tasks: that is CAN101,
      CAN102 or CAN107;
    - a handler that already has the `cancelling()` guard, or calls `uncancel()`: the flow
      analysis treats both as deliberate (see CAN101);
    - handlers and blocks in the main coroutine that the same module passes to `asyncio.run()`;
    - a bare `except:` or `except BaseException:` clause around the awaited child: CAN103 and
      CAN104 report those. A `suppress(BaseException)` around it is reported here, not as CAN107;
    - awaiting what is already done, which cannot suspend, so no cancellation can arrive: a plain
      future that the function created (`loop.create_future()`, `asyncio.Future()`) and then
      cancelled or completed, or tasks that an earlier `await asyncio.gather(...)` or
      `await asyncio.wait(tasks)` without a timeout has finished.

    ## Libraries
    asyncio only: the child-cancel idiom (`t.cancel(); await t`) and its guard
    (`current_task().cancelling()`) are asyncio's; trio and anyio cancel through scopes, whose
    own cancellation ends at the scope.

    ## Known problems
    Off by default because the idiom is everywhere, and the window it leaves open (the current
    task cancelled in the short time it waits for the child to finish) is rarely hit. A
    `cancel()` on another path of the function (`if a: t.cancel()`) counts as earlier. A task
    cancelled in another function (a `stop()` method of another class, a callback) is not seen,
    so a handler for its cancellation is reported as CAN101 or CAN107.
    """

    code = "CAN110"
    slug = "child-cancel-swallows-own"
    message = (
        "awaiting a cancelled task here also swallows this task's own cancellation; "
        "re-raise it when this task is the one being cancelled"
    )
    default_enabled = False
    fix_safety = FixSafety.UNSAFE
    anchor = r"except|[\w.]+\("
    gate = (r"CancelledError|BaseException", r"cancel\s*\(")
    screen = (handler(Named.CANCELLATION, swallows=True), suppressing_with(Named.CANCELLATION, Named.BASE_EXCEPTION))

    @classmethod
    def gate_pattern(cls, settings):
        return (cancellation_names(settings, "BaseException"), r"cancel\s*\(")

    def check_handler(self, site: HandlerSite) -> bool:
        return (
            site.catch.names_cancellation
            and site.swallows_cancellation
            and site.awaits_cancelled_child
        )

    def report_with(self, site: WithSite) -> Iterable[cst.CSTNode]:
        if site.suppression is None or not site.body_awaits:
            return ()
        if not site.awaits_cancelled_child or site.in_main_coroutine:
            return ()
        return site.cancellation_suppressing_items()

    def build_fix(self, site, node=None) -> Optional[Fix]:
        """The ``cancelling()`` guard first in the handler; none for the ``with`` form."""
        if not isinstance(site, HandlerSite):
            return None
        context = site.context
        if context.target_version < GUARD_VERSION or not context.target_version_declared:
            return None  # cancelling() is new in 3.11: never assume the code runs there
        if guard_always_true(site):
            return None
        if not site.catches_only_cancellation:
            return None
        current_task, imports = qualified_reference(
            site.vocabulary.bindings, "asyncio.current_task"
        )
        guard = cancelling_guard(current_task)

        def rebuild(handler: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(handler, (cst.ExceptHandler, cst.ExceptStarHandler))
            return handler.with_changes(body=prepend_statement(handler.body, guard))

        return Fix(((site.node, rebuild),), imports)
