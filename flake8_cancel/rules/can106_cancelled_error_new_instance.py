from __future__ import annotations

from typing import Iterable, Optional

import libcst as cst

from flake8_cancel.edits import Fix
from flake8_cancel.fix_safety import cancels_its_own_scope
from flake8_cancel.gate import cancellation_names
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.sites import DIRECT, HandlerSite


@register
class CancelledErrorNewInstance(Rule):
    """
    ## What it does
    Checks for `raise asyncio.CancelledError` or `raise asyncio.CancelledError(...)` (any
    spelling, with or without `from ...`) inside a handler that catches the cancellation
    (`except asyncio.CancelledError:` in any spelling, a bare `except:`, or
    `except BaseException:`) in async code.

    ## Why is this bad?
    The cancellation does go on, but as a new exception: the one that propagates no longer
    carries the message given to `task.cancel(msg)`, its traceback starts in this handler instead
    of at the `await` where the task was cancelled, and the original is left only as its
    `__context__` (or dropped, with `from None`). Finding out whether a cancellation came from a
    timeout, a `TaskGroup` or a shutdown gets much harder. A bare `raise` re-raises the same
    instance.

    ## Example
    ```python
    import asyncio


    async def consume(queue):
        try:
            await queue.get()
        except asyncio.CancelledError:
            queue.close()
            raise asyncio.CancelledError("consumer stopped")
    ```

    ## Use instead
    ```python
    import asyncio


    async def consume(queue):
        try:
            await queue.get()
        except asyncio.CancelledError:
            queue.close()
            raise
    ```

    ## Fix safety
    Safe, where there is a fix: the `raise` becomes a bare `raise`, which re-raises the
    cancellation that the handler caught. The message passed to the new instance (and a
    `from` clause) are dropped; the original message and traceback are kept instead.

    Unsafe inside a trio or anyio scope that the function cancels itself (`with CancelScope() as
    scope: scope.cancel()` around the `try`): the cancellation is the one it asked for, and the
    new instance may be the point, as in a test of how a replaced cancellation is treated.

    There is no fix (the finding is still reported):
    - inside an inner `except` clause of the handler, where a bare `raise` would re-raise the
      inner exception, or inside an inner `finally` block, where it would re-raise whatever is in
      flight there;
    - in a clause that catches more than cancellation (a bare `except:`, `BaseException`, or a
      tuple with other exceptions): there the `raise` may turn another exception into a
      cancellation on purpose, and a bare `raise` would let that exception through instead;
    - when the `raise` statement spans a comment (`raise CancelledError(  # why`), which the
      bare `raise` would drop.

    Never in an `except*` clause (a bare `raise` there ends the task with a
    `BaseExceptionGroup`), nor where it would add `import asyncio` to a trio or anyio module, nor
    where the result would have a new finding (the README's *Fixing* section).

    ## Not reported
    - code in a sync `def`, a `lambda` or a class body, also one nested in the handler;
    - a clause shielded by an earlier clause of the same `try` that catches `CancelledError`:
      it never sees the cancellation, so what it raises is a conversion of another exception;
    - a clause that does not catch cancellation (`except Exception:`, `except OSError:`).

    Unlike CAN101–CAN105, the `try` body does not need an `await`: a handler for the
    `CancelledError` of a cancelled future or task (`fut.result()`) loses that instance the same
    way, and the bare `raise` is just as right there.

    ## Libraries
    asyncio and anyio (`raise get_cancelled_exc_class()(...)`). trio's `Cancelled` has no
    public constructor, so code cannot raise a new one.

    ## Known problems
    A `raise` inside an inner `except` clause that catches cancellation itself is reported once,
    for the inner clause (and fixed there when that clause catches only cancellation).
    """

    code = "CAN106"
    slug = "cancelled-error-new-instance"
    message = "a new CancelledError loses the original's message and traceback; re-raise it with bare 'raise'"
    fix_safety = FixSafety.SOMETIMES
    anchor = "raise"
    gate = r"CancelledError"
    screen = handler(Named.CANCELLATION, Named.BASE_EXCEPTION, Named.BARE, body_awaits=False, raises=Named.CANCELLATION)

    @classmethod
    def gate_pattern(cls, settings):
        return cancellation_names(settings)

    def report_handler(self, site: HandlerSite) -> Iterable[cst.CSTNode]:
        if not site.catch.catches_cancellation or site.shielded:
            return []
        vocabulary = site.vocabulary
        found = []
        for raised in site.raises:
            if not vocabulary.is_new_cancellation(raised.node.exc):
                continue
            # An inner clause that catches cancellation reports its own raises.
            clause = raised.inner_clause
            if clause is not None and vocabulary.catch_of(clause.type).catches_cancellation:
                continue
            found.append(raised.node)
        return found

    def build_fix(self, site: HandlerSite, node: cst.CSTNode) -> Optional[Fix]:
        if not site.catches_only_cancellation:
            return None
        where = next((r.where for r in site.raises if r.node is node), None)
        if where != DIRECT or _has_comment(node):
            return None

        def rebuild(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.Raise)
            return updated.with_changes(
                exc=None, cause=None, whitespace_after_raise=cst.MaybeSentinel.DEFAULT
            )

        # Inside a scope the function cancels itself, the new instance may be the point (a test
        # of how a replaced cancellation is treated).
        return Fix(((node, rebuild),), safe=not cancels_its_own_scope(site))


def _has_comment(node: cst.CSTNode) -> bool:
    """Does the statement hold a comment (inside its brackets) that a bare ``raise`` would drop?"""
    return isinstance(node, cst.Comment) or any(_has_comment(child) for child in node.children)
