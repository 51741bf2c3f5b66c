from typing import Iterable, List, Tuple

import libcst as cst

from flake8_cancel.engine import WithSite
from flake8_cancel.names import last_names
from flake8_cancel.registry import Rule, register
from flake8_cancel.syntax import awaited_names, descendants, dotted_name

# What a file needs to hold a finding: a suppressor, and a name for what cancellation is.
SUPPRESSOR_NAMES = ["suppress"]
CANCELLATION_NAMES = ["CancelledError", "BaseException"]


def suppression_gate(suppressors: Iterable[str], cancellations: Iterable[str]) -> Tuple[str, str]:
    """Both a suppressor's name and a cancellation's name occur in the text, in any order."""
    return ("|".join(suppressors), "|".join(cancellations))


def cancellation_suppressing_items(site: WithSite) -> List[cst.WithItem]:
    """The items of this ``with`` that are suppressors (``contextlib.suppress`` in any spelling,
    or a configured one) whose own arguments include cancellation: ``CancelledError`` in any
    spelling (or a configured cancellation exception), or ``BaseException``."""
    vocabulary = site.scope.vocabulary
    found = []
    for item in site.suppressing_items():
        call = item.item
        assert isinstance(call, cst.Call)
        if any(vocabulary.catch_of(argument.value).catches_cancellation for argument in call.args):
            found.append(item)
    return found


def awaits_only_completed_futures(site: WithSite) -> bool:
    """Does the block only await futures that the function completed before it
    (``fut.set_result(...)``/``fut.set_exception(...)``)? Awaiting a done future does not
    suspend, so the task's cancellation cannot arrive there."""
    scope = site.scope
    awaited = awaited_names(site.node.body, scope.vocabulary)
    if not awaited or scope.function is None:
        return False
    completed = set()
    for node in descendants(scope.function):  # in source order
        if node is site.node:
            break
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in ("set_result", "set_exception")
        ):
            completed.add(dotted_name(node.func.value))
    return awaited <= completed


@register
class CancellationSuppressed(Rule):
    """
    ## What it does
    Checks for `with contextlib.suppress(...)` whose arguments include `asyncio.CancelledError` or
    `BaseException`, around an `await`, `async for` or `async with` in async code.

    Any spelling counts: `asyncio.CancelledError`, `asyncio.exceptions.CancelledError`, an
    imported or aliased name, a tuple alias, and the cancellation exceptions configured with
    `--cancel-cancelled-names`; `suppress` in any import spelling (`from contextlib import
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
    fix = "none"
    anchor = r"[\w.]+\("
    gate = suppression_gate(SUPPRESSOR_NAMES, CANCELLATION_NAMES)

    @classmethod
    def gate_pattern(cls, settings):
        return suppression_gate(
            SUPPRESSOR_NAMES + last_names(settings.extra_suppressors),
            CANCELLATION_NAMES + last_names(settings.extra_cancelled_names),
        )

    def report_with(self, site: WithSite) -> Iterable[cst.CSTNode]:
        if site.suppression is None or not site.body_awaits:
            return ()
        if site.awaits_cancelled_child or site.in_main_coroutine:
            return ()
        items = cancellation_suppressing_items(site)
        if not items or awaits_only_completed_futures(site):
            return ()
        return items
