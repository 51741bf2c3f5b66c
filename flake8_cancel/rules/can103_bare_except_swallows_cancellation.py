from flake8_cancel.engine import HandlerSite
from flake8_cancel.registry import Rule, register
from flake8_cancel.fixes import insert_cancelled_clause


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
    Safe: the fix inserts `except asyncio.CancelledError: raise` right before the bare clause
    (using the module's own name for it, or adding `import asyncio`). Everything else the clause
    caught stays caught; on cancellation the bare clause's own code no longer runs, which is the
    point: code meant to run on cancellation belongs in the new clause, before its `raise`.

    ## Not reported
    The same exclusions as CAN101, and a bare clause after an earlier clause of the same `try`
    that catches `CancelledError` (it never sees the cancellation).

    ## Known problems
    None known.
    """

    code = "CAN103"
    slug = "bare-except-swallows-cancellation"
    message = "bare 'except:' around an await swallows cancellation; re-raise CancelledError first"
    fix = "safe"
    gate = r"except\s*:"

    def check_handler(self, site: HandlerSite) -> bool:
        return site.catch.bare and site.swallows_cancellation

    def build_fix(self, site: HandlerSite, node=None):
        return insert_cancelled_clause(site)
