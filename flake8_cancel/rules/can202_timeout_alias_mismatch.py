from __future__ import annotations

import libcst as cst

from flake8_cancel.edits import qualified_reference, rename_in_clause
from flake8_cancel.gate import TIMEOUT_HANDLER, TIMEOUT_NAMED
from flake8_cancel.names import ASYNC_TIMEOUT_MANAGERS, BUILTIN_TIMEOUT_ERROR
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.sites import HandlerSite, TrySite
from flake8_cancel.syntax import descendants

# Python 3.11 made asyncio.TimeoutError an alias of the builtin TimeoutError.
ALIASED_SINCE = (3, 11)


@register
class TimeoutAliasMismatch(Rule):
    """
    ## What it does
    Only when the target Python version is below 3.11: checks for `except TimeoutError:` (the
    builtin) whose `try` body awaits `asyncio.wait_for(...)` or enters an `async_timeout` block,
    when no clause of that `try` catches `asyncio.TimeoutError`.

    The target version is `--cancel-target-version` (flake8) or `--target-version` (command line);
    else `target-version` in `[tool.flake8-cancel]` of the nearest `pyproject.toml`; else the lower
    bound of its `requires-python`; else 3.11.

    ## Why is this bad?
    Before Python 3.11, `asyncio.TimeoutError` is a class of its own, not the builtin
    `TimeoutError`. `wait_for` and `async_timeout` raise `asyncio.TimeoutError`, so on 3.8–3.10 this
    handler never runs and the timeout escapes as an unhandled error. Since 3.11 the two names are
    the same class, which is why code tested only on a recent Python hides the bug.

    ## Example
    ```python
    import asyncio


    async def fetch(reader):
        try:
            return await asyncio.wait_for(reader.read(), 5)
        except TimeoutError:
            return b""
    ```

    ## Use instead
    ```python
    import asyncio


    async def fetch(reader):
        try:
            return await asyncio.wait_for(reader.read(), 5)
        except asyncio.TimeoutError:
            return b""
    ```

    ## Fix safety
    Safe: the name becomes `asyncio.TimeoutError`, which is the builtin `TimeoutError` itself on
    3.11+, so nothing changes there, and on older versions the handler starts catching what it was
    written for. Never in an `except*` clause (a bare `raise` there ends the task with a
    `BaseExceptionGroup`), nor where it would add `import asyncio` to a trio or anyio module, nor
    where the result would have a new finding (the README's *Fixing* section).

    ## Not reported
    - code for Python 3.11 or later (the target version), where the two names are one class;
    - a `try` with another clause that catches `asyncio.TimeoutError`, `Exception`,
      `BaseException` or everything;
    - a `try` body that neither awaits `asyncio.wait_for(...)` nor enters an `async_timeout`
      block.

    ## Libraries
    asyncio only, before Python 3.11 (`asyncio.TimeoutError` was a class of its own); trio's
    and anyio's timeouts raise `trio.TooSlowError` and the builtin `TimeoutError`.

    ## Known problems
    Only `asyncio.wait_for` and `async_timeout` are known to raise `asyncio.TimeoutError`. Other
    libraries that raise it (or subclasses of it) are not recognised.
    """

    code = "CAN202"
    slug = "timeout-alias-mismatch"
    message = "'except TimeoutError' does not catch asyncio.TimeoutError before Python 3.11; catch asyncio.TimeoutError"
    fix_safety = FixSafety.SOMETIMES
    gate = (r"wait_for|async_timeout", TIMEOUT_NAMED, TIMEOUT_HANDLER)
    screen = handler(Named.TIMEOUT)

    @classmethod
    def applies_to(cls, target_version):
        return target_version < ALIASED_SINCE

    def check_handler(self, site: HandlerSite) -> bool:
        try_site = site.try_site
        if not site.catch.builtin_timeout:
            return False
        if any(
            catch.asyncio_timeout or catch.exception or catch.catches_everything
            for catch in try_site.catches
        ):
            return False
        return body_awaits_asyncio_timeout_source(try_site)

    def build_fix(self, site: HandlerSite, node=None):
        """Name ``asyncio.TimeoutError`` where the clause names the builtin ``TimeoutError``."""
        bindings = site.vocabulary.bindings
        reference, imports = qualified_reference(bindings, "asyncio.TimeoutError")
        return rename_in_clause(
            site, lambda node: BUILTIN_TIMEOUT_ERROR in bindings.resolve(node), reference, imports
        )


def body_awaits_asyncio_timeout_source(try_site: TrySite) -> bool:
    """The try body awaits ``asyncio.wait_for(...)`` or enters an ``async_timeout`` block: both
    raise asyncio.TimeoutError, a class of its own before Python 3.11."""
    vocabulary = try_site.scope.vocabulary
    for node in descendants(try_site.node.body):
        if isinstance(node, cst.Await) and vocabulary.is_wait_for(node.expression):
            return True
        if isinstance(node, cst.With) and node.asynchronous:
            for item in node.items:
                manager = item.item
                if isinstance(manager, cst.Call) and vocabulary.bindings.resolves_to(
                    manager.func, ASYNC_TIMEOUT_MANAGERS
                ):
                    return True
    return False
