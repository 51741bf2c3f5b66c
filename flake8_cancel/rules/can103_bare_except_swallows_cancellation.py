from __future__ import annotations

from flake8_cancel.sites import HandlerSite
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.edits import let_cancellation_through


@register
class BareExceptSwallowsCancellation(Rule):
    """
    ## What it does
    Checks for a bare `except:` around an `await` (or `async for`/`async with`) in async code,
    when some path through the handler does not re-raise.

    ## Why is this bad?
    A bare `except:` catches `BaseException`, and so `asyncio.CancelledError` (a `BaseException`
    since Python 3.8). The cancellation meant for the task ends in this handler: `Task.cancel()`,
    `asyncio.timeout()` and `TaskGroup` stop working and shutdown can hang. It also catches
    `KeyboardInterrupt` and `SystemExit`.

    ## Example
    ```python
    async def refresh(client):
        try:
            await client.refresh()
        except:
            pass
    ```

    ## Use instead
    ```python
    async def refresh(client):
        try:
            await client.refresh()
        except Exception:
            pass
    ```

    Or keep the broad clause and let cancellation through first:
    ```python
    import asyncio


    async def refresh(client):
        try:
            await client.refresh()
        except asyncio.CancelledError:
            raise
        except:
            pass
    ```

    ## Fix safety
    Safe where nothing stands against it, else unsafe. When the bare clause does nothing (`pass`,
    `continue`, `break`, a `return` of a plain value), the fix inserts
    `except asyncio.CancelledError: raise` right before it (using the module's own name for it,
    or adding `import asyncio`). When it does more (logs, closes, responds, delegates), that work
    must still run on cancellation: the clause becomes `except BaseException as exc:` (the same
    clause) and `if isinstance(exc, asyncio.CancelledError): raise` is appended at its end, when
    every swallowing path falls off that end; otherwise there is no fix. Everything else the
    clause caught stays caught.

    What stands against a safe fix, and where there is none at all, is as for CAN101 (its
    *Fix safety*).

    ## Not reported
    - handlers whose `try` body has no `await`, `async for` or `async with`;
    - code in a sync `def`, a `lambda` or a class body nested in a coroutine;
    - deliberate suppression: a path that calls `<task>.uncancel()`, or that runs only when
      `<task>.cancelling()` is false, or only when `isinstance(exc, asyncio.CancelledError)`
      is false for the name `exc` the clause binds;
    - handlers in the main coroutine that the same module passes to `asyncio.run()`;
    - a handler that keeps the exception (`errors.append(exc)`, `error = exc`) in a function
      that later raises what it kept;
    - a clause after an earlier clause of the same `try` that catches `CancelledError` (it
      never sees the cancellation).

    Unlike CAN101, the child-cancel idiom (`t.cancel()`, then a `try` body that only awaits `t`)
    is reported: a clause this broad also swallows errors that `t` ends with, and the current
    task's own cancellation, with no sign that either was meant.

    ## Libraries
    A bare `except:` catches every library's cancellation. The fix names the module's library:
    `except asyncio.CancelledError: raise`, `except trio.Cancelled: raise`, or, where anyio is
    used, `except anyio.get_cancelled_exc_class(): raise` (right on either backend). There is no
    fix where a module uses both trio and asyncio without anyio (which cancellation arrives
    depends on the code path), nor one that would import trio or anyio into its own package.

    ## Known problems
    None known.
    """

    code = "CAN103"
    slug = "bare-except-swallows-cancellation"
    message = "bare 'except:' around an await swallows cancellation; re-raise CancelledError first"
    fix_safety = FixSafety.SOMETIMES
    gate = r"except\s*:"
    screen = handler(Named.BARE, swallows=True)

    def check_handler(self, site: HandlerSite) -> bool:
        return site.catch.bare and site.swallows_cancellation

    def build_fix(self, site: HandlerSite, node=None):
        return let_cancellation_through(site)
