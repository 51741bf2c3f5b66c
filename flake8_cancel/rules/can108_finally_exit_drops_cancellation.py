from __future__ import annotations

from typing import Iterator, List, Sequence, Union

import libcst as cst

from flake8_cancel.flow import RAISING_EXITS
from flake8_cancel.sites import HandlerSite, TrySite
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import try_statement
from flake8_cancel.syntax import (
    BlockKind,
    Statement,
    blocks,
    has_cancellation_point,
    small_statements,
    statements,
)

FinallyExit = Union["cst.Return", "cst.Break", "cst.Continue"]  # strings: libcst loads on use


def exits_of_block(block: Sequence[Statement], loops: int = 0) -> Iterator[FinallyExit]:
    """The ``return`` statements of ``block``, and the ``break``/``continue`` statements that
    leave it (``loops`` counts the loops entered inside it). Nested ``def`` and ``class`` bodies
    run at another time and are not entered; a lambda holds no statement."""
    for statement in block:
        for small in small_statements(statement):
            if isinstance(small, cst.Return):
                yield small
            elif isinstance(small, (cst.Break, cst.Continue)) and not loops:
                yield small
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue  # another scope
        for block_kind, suite, _ in blocks(statement):
            # A loop's body is inside the loop; its `else` runs after it, so a jump there
            # belongs to the enclosing loop.
            in_loop = block_kind is BlockKind.BODY and isinstance(statement, (cst.For, cst.While))
            yield from exits_of_block(statements(suite), loops + 1 if in_loop else loops)


@register
class FinallyExitDropsCancellation(Rule):
    """
    ## What it does
    Checks for `return` in a `finally` block, and for `break` or `continue` that leave it, when the
    `try` body has an `await`, `async for` or `async with`, in async code.

    A `return` anywhere in the `finally` block counts (inside an `if`, a loop, a nested `try`).
    A `break` or `continue` of a loop that is itself inside the `finally` block is fine, and so is
    anything in a `def`, `lambda` or `class` nested there.

    Unlike CAN101, the main coroutine that the module passes to `asyncio.run()` is not exempt:
    the statement discards every exception, not only a cancellation the author may have meant
    to end, and there it turns Ctrl-C (which `asyncio.run` delivers as a cancellation) into a
    normal exit.

    ## Why is this bad?
    When the task is cancelled at an `await` of the `try` body, the `finally` block runs with the
    `CancelledError` in flight. A `return`, `break` or `continue` there silently discards it (and
    any other exception): the task carries on as if it had never been cancelled, so
    `asyncio.timeout()` and `wait_for` no longer time out, `TaskGroup` cannot stop its children,
    and `asyncio.run` hangs on shutdown. Python 3.14 warns about these statements for the same
    reason (PEP 765).

    ## Example
    ```python
    async def fetch(client, url):
        result = None
        try:
            result = await client.get(url)
        finally:
            return result
    ```

    ## Use instead
    ```python
    async def fetch(client, url):
        result = None
        try:
            result = await client.get(url)
        finally:
            client.log(url)
        return result
    ```

    ## Fix safety
    No fix: moving the statement out of the `finally` block changes what happens on every other
    exception too, which is a decision for a person.

    ## Not reported
    - a `try` whose clause takes every cancellation of its body and ends it there (it cannot
      await and no path of it raises): nothing is in flight when the `finally` block runs; that
      clause itself is CAN103/CAN104's business;
    - a `try` body with no `await`, `async for` or `async with` of its own (outside nested `def`,
      `lambda` and `class`): the task's cancellation cannot be in flight when the `finally` runs;
    - `break` and `continue` of a loop inside the `finally` block;
    - code in a sync `def`, a `lambda` or a class body nested in a coroutine.

    ## Libraries
    Any library: a `return`, `break` or `continue` in `finally` drops whatever exception is in
    flight, the cancellation of asyncio, anyio or trio included.

    ## Known problems
    Only the `try` body's own cancellation points count, as the rule's definition says: a
    `finally` whose `try` awaits only in its `except` or `else` clauses is not reported, although
    a cancellation arriving there reaches the `finally` block the same way.
    """

    code = "CAN108"
    slug = "finally-exit-drops-cancellation"
    message = (
        "return/break/continue in 'finally' discards an in-flight CancelledError; "
        "move it out of the 'finally' block"
    )
    fix_safety = FixSafety.NONE
    anchor = r"return|break|continue"
    # A return/break/continue on a line indented under a `finally:` (or on the same line). The
    # plain search for `finally` runs first: the indentation pattern is tried at every line.
    gate = (
        r"finally",
        # The two kinds of line in the loop are disjoint (blank, or deeper with a non-blank
        # character): overlapping ones would backtrack exponentially on runs of blank lines.
        r"(?m)^([ \t]*)finally\s*:[ \t]*(?:#[^\n]*)?\n(?:\1[ \t]+\S[^\n]*\n|[ \t]*\n)*?"
        r"\1[ \t]+(?:return|break|continue)\b|finally\s*:[ \t]*(?:return|break|continue)\b"
    )
    screen = try_statement(finally_exits=True)

    def report_try(self, site: TrySite) -> List[cst.CSTNode]:
        finalbody = site.node.finalbody
        if finalbody is None or not site.body_awaits or not _cancellation_may_be_in_flight(site):
            return []
        return list(exits_of_block(statements(finalbody.body)))


def _cancellation_may_be_in_flight(site: TrySite) -> bool:
    """Can a cancellation still be on its way out when the ``finally`` block runs? Not when a
    clause takes every cancellation of the try body and ends it there: it cannot await (a new
    cancellation could arrive there) and no path of it raises."""
    receiving = next(
        (index for index, catch in enumerate(site.catches) if catch.catches_cancellation), None
    )
    if receiving is None:
        return True
    handler = HandlerSite(site, receiving)
    orelse = site.node.orelse
    return (
        has_cancellation_point(handler.node.body)
        or (orelse is not None and has_cancellation_point(orelse.body))
        or any(end.exit in RAISING_EXITS for end in handler.paths.ends)
    )
