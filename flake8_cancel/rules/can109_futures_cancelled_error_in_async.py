from __future__ import annotations

from typing import Iterator, Optional, Tuple

import libcst as cst

from flake8_cancel.sites import HandlerSite
from flake8_cancel.edits import qualified_reference, rename_in_clause
from flake8_cancel.flow import SWALLOWING_EXITS, Exit
from flake8_cancel.names import FUTURES_CANCELLED_ERROR
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.syntax import descendants, method_receiver


@register
class FuturesCancelledErrorInAsync(Rule):
    """
    ## What it does
    Checks for `except concurrent.futures.CancelledError:` (or the legacy
    `asyncio.futures.CancelledError`) around an `await`, `async for` or `async with` in async code,
    in any spelling: `from concurrent.futures import CancelledError`, `from concurrent import
    futures`, an alias, a tuple containing one, `except*`.

    ## Why is this bad?
    Since Python 3.8, `asyncio.CancelledError` is a class of its own that derives from
    `BaseException`, and `concurrent.futures.CancelledError` is a different class (an
    `Exception`). Before 3.8 they were the same class, so code written then, or code that imports
    `CancelledError` from the wrong module, now has a handler that never sees the task's
    cancellation: the cleanup or bookkeeping it holds is skipped whenever the task is cancelled or
    times out. `asyncio.futures.CancelledError` no longer exists at all, so naming it raises
    `AttributeError` as soon as an exception reaches the clause.

    Awaiting anything in asyncio, a wrapped `concurrent.futures.Future` included, raises asyncio's
    `CancelledError`, never the `concurrent.futures` one.

    ## Example
    ```python
    from concurrent.futures import CancelledError


    async def consume(queue):
        try:
            item = await queue.get()
        except CancelledError:
            print("consumer stopped")
            raise
    ```

    ## Use instead
    ```python
    from asyncio import CancelledError


    async def consume(queue):
        try:
            item = await queue.get()
        except CancelledError:
            print("consumer stopped")
            raise
    ```

    ## Fix safety
    Safe: the name becomes `asyncio.CancelledError`, in the module's own words (an imported name
    or alias of it, else `asyncio.CancelledError`, adding `import asyncio` when needed). In a tuple
    only that element changes. The clause then catches what it was written for; on the awaits of the
    `try` body it could not catch anything else.

    Once fixed, the handler runs on cancellation. When it then falls off its end, CAN101 (or
    CAN102) reports that and `--fix` appends the `raise` in the same run (for a tuple with other
    types, `if isinstance(exc, asyncio.CancelledError): raise`), so the handler's code runs and the
    cancellation goes on, as before.

    No fix where a person must decide:
    - the handler would then swallow the cancellation in a way CAN101 cannot fix (a `return`,
      `break` or `continue` path, a tuple clause without an `as` name that falls off its end, the
      cases CAN101 does not report), or convert it (a path raising another exception). Today the
      cancellation never enters the handler and so propagates: renaming alone would break that;
    - the `try` body also calls `.result()` or `.exception()` without awaiting it: on a
      `concurrent.futures.Future` that raises `concurrent.futures.CancelledError`, and the clause
      may be meant for it (then catch both, or move that call to a `try` of its own). The task's
      cancellation still escapes the clause at the awaits, so it is reported;
    - a tuple named elsewhere (`except ERRORS:` with `ERRORS = (OSError,
      concurrent.futures.CancelledError)`): the tuple may also serve sync code.

    The import that bound the old name is removed when the rename leaves it unused
    (`from concurrent.futures import CancelledError`). Never in an `except*` clause (a bare `raise` there ends the task with a
    `BaseExceptionGroup`), nor where it would add `import asyncio` to a trio or anyio module, nor
    where the result would have a new finding (the README's *Fixing* section).

    ## Not reported
    - a `try` whose clauses already catch asyncio's cancellation: the same clause or another one
      names `asyncio.CancelledError` (the pre-3.8 compatibility idiom `except
      (asyncio.CancelledError, concurrent.futures.CancelledError):`), or catches `BaseException`
      or everything;
    - a `try` body without a cancellation point, and sync code (a `def`, a `lambda` or a class
      body, also nested in a coroutine): waiting on a `concurrent.futures.Future` there is what the
      class is for.

    Names are resolved from the module's imports, and a name imported from another module of the
    same project (`from .compat import CancelledError`, a tuple in `const.py`) means what its
    definition there means: a tuple there naming `concurrent.futures.CancelledError` is reported
    where it is caught, with no fix (the tuple may also serve sync code).

    ## Libraries
    asyncio only: `concurrent.futures.CancelledError` is asyncio's old alias; no other library
    raises it inside a coroutine.

    ## Known problems
    A name from another module is followed only within the module's own package, as CAN101's
    *Known problems* says. When the renamed name was imported from such a module
    (`from .compat import CancelledError`), that import stays after the fix, perhaps unused.
    """

    code = "CAN109"
    slug = "futures-cancelled-error-in-async"
    message = "concurrent.futures.CancelledError does not catch asyncio's cancellation since Python 3.8; catch asyncio.CancelledError"
    fix_safety = FixSafety.SOMETIMES
    # Every spelling imports it from concurrent.futures or asyncio.futures, and names the class.
    gate = ("CancelledError", "futures")
    screen = handler(Named.FUTURES_CANCELLED)

    def check_handler(self, site: HandlerSite) -> bool:
        try_site = site.try_site
        return (
            site.catch.futures_cancelled
            and try_site.body_awaits
            and not try_site.catches_cancellation
        )

    def build_fix(self, site: HandlerSite, node=None):
        """Name ``asyncio.CancelledError`` where the clause names the futures one."""
        bindings = site.vocabulary.bindings
        written = site.node.type
        if written is None or _waits_without_await(site.try_site.node.body):
            return None

        def is_futures_cancelled(node: cst.BaseExpression) -> bool:
            return not bindings.resolve(node).isdisjoint(FUTURES_CANCELLED_ERROR)

        if not _renaming_keeps_cancellation(site, is_futures_cancelled):
            return None
        reference, imports = qualified_reference(bindings, "asyncio.CancelledError")
        fix = rename_in_clause(site, is_futures_cancelled, reference, imports)
        if fix is None:
            return None
        renamed = [
            single for single in bindings.exception_types(written) if is_futures_cancelled(single)
        ]
        return fix._replace(unused_imports=tuple(_imports_of(renamed, bindings)))


def _imports_of(names, bindings) -> Iterator[Tuple[str, Optional[str], Optional[str]]]:
    """The imports that bound the renamed names, to be removed if the rename leaves them unused:
    ``from concurrent.futures import CancelledError [as X]``, ``from concurrent import futures``,
    ``import concurrent.futures``."""
    for name in names:
        for meaning in bindings.resolve(name):
            module, _, attribute = meaning.rpartition(".")
            if isinstance(name, cst.Name):
                asname = name.value if name.value != attribute else None
                yield (module, attribute, asname)
            elif isinstance(name, cst.Attribute) and isinstance(name.value, cst.Name):
                outer, _, inner = module.rpartition(".")
                local = name.value.value
                if local == module.split(".", 1)[0]:
                    yield (module, None, None)  # import concurrent.futures
                    continue
                asname = local if local != inner else None
                if outer:  # from concurrent import futures [as f]
                    yield (outer, inner, asname)
                if asname is not None:  # import concurrent.futures as f
                    yield (module, None, asname)


def _renaming_keeps_cancellation(site: HandlerSite, is_futures_cancelled) -> bool:
    """Once it catches asyncio's CancelledError, does the handler still let the cancellation
    through, or swallow it only by falling off its end, which CAN101/CAN102 then fix with a
    ``raise``? Before the fix the cancellation never entered the handler: the fix must not make
    it swallow (``return``, ``break``, ``continue``) or convert (``raise OtherError``) it."""
    ends = site.paths.ends
    if any(end.exit in (Exit.RAISE_OTHER, Exit.RAISE_NEW_CANCELLED) for end in ends):
        return False
    swallowing = [end for end in ends if end.exit in SWALLOWING_EXITS]
    if not swallowing:
        return True
    if any(end.exit is not Exit.FALLTHROUGH or end.sanctioned for end in swallowing):
        return False
    if site.in_main_coroutine or site.defers_reraise or site.awaits_cancelled_child:
        return False  # CAN101 does not report these, so it would not add the raise
    bindings = site.vocabulary.bindings
    only_cancellation = all(
        is_futures_cancelled(single) for single in bindings.exception_types(site.node.type)
    )
    # A clause that catches other exceptions too is fixed by CAN101 only through its bound name.
    return only_cancellation or site.bound_name is not None


def _waits_without_await(body: cst.CSTNode) -> bool:
    """Does ``body`` call ``<x>.result()`` or ``<x>.exception()`` without awaiting the call,
    outside nested scopes? On a ``concurrent.futures.Future`` that raises its CancelledError."""
    awaited = set()
    for node in descendants(body):
        if isinstance(node, cst.Await):
            awaited.add(id(node.expression))
        elif (
            method_receiver(node, ("result", "exception")) is not None
            and id(node) not in awaited
            and _future_arguments(node.args)  # type: ignore[attr-defined]
        ):
            return True
    return False


def _future_arguments(arguments) -> bool:
    """``Future.result()``/``.exception()`` take at most a timeout: not ``log.exception("...")``."""
    if not arguments:
        return True
    if len(arguments) > 1:
        return False
    only = arguments[0]
    if only.keyword is not None:
        return only.keyword.value == "timeout"
    return only.star == "" and not isinstance(
        only.value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
    )
