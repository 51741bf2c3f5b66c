from __future__ import annotations

from flake8_cancel.sites import HandlerSite
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.edits import let_cancellation_through


@register
class BaseExceptionSwallowsCancellation(Rule):
    """
    ## What it does
    Checks for `except BaseException:` (alone or in a tuple) around an `await` in async code, when
    some path through the handler does not re-raise.

    ## Why is this bad?
    `asyncio.CancelledError` derives from `BaseException` since Python 3.8, so this clause catches
    the task's cancellation and, on a path that does not re-raise, ends it: `Task.cancel()`,
    `asyncio.timeout()` and `TaskGroup` stop working and shutdown can hang. `except Exception`
    does not have this problem.

    ## Example
    ```python
    import logging


    async def poll(device):
        try:
            await device.update()
        except BaseException:
            logging.exception("update failed")
    ```

    ## Use instead
    ```python
    import logging


    async def poll(device):
        try:
            await device.update()
        except Exception:
            logging.exception("update failed")
    ```

    ## Fix safety
    As for CAN103: a clause that does nothing gets `except asyncio.CancelledError: raise` inserted
    before it; one that does work keeps it, and gets
    `if isinstance(exc, asyncio.CancelledError): raise` at its end (binding `as exc` when it has no
    name). Everything else the clause caught stays caught.

    What stands against a safe fix, and where there is none at all, is as for CAN101 (its
    *Fix safety*).

    ## Not reported
    The handlers that CAN103 does not report (see its list); like CAN103, it does report the
    child-cancel idiom.

    A clause that also names `CancelledError` explicitly, such as
    `except (BaseException, asyncio.CancelledError):`, is reported as CAN101 or CAN102 instead.

    ## Libraries
    As CAN103: `BaseException` catches every library's cancellation, and the fix names the
    module's library.

    ## Known problems
    None known.
    """

    code = "CAN104"
    slug = "base-exception-swallows-cancellation"
    message = "'except BaseException' around an await swallows cancellation; re-raise it or catch Exception"
    fix_safety = FixSafety.SOMETIMES
    gate = r"BaseException"
    screen = handler(Named.BASE_EXCEPTION, swallows=True)

    def check_handler(self, site: HandlerSite) -> bool:
        return (
            site.catch.base_exception
            and not site.catch.names_cancellation
            and not site.catch.bare
            and site.swallows_cancellation
        )

    def build_fix(self, site: HandlerSite, node=None):
        return let_cancellation_through(site)
