from __future__ import annotations

from typing import FrozenSet, List, Optional, Set, Tuple

import libcst as cst

from flake8_cancel.edits import Fix
from flake8_cancel.flow import Exit
from flake8_cancel.names import CLEANUP_METHODS
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.sites import HandlerSite, creates_plain_future
from flake8_cancel.syntax import (
    BlockKind,
    holders,
    children,
    descendants,
    dotted_name,
    is_nested_scope,
    isinstance_classes,
    method_receiver,
    path_to,
    reference_key,
    statements,
)

EXCEPTION = "builtins.Exception"


def _gate(methods: FrozenSet[str]) -> Tuple[str, str]:
    """An ``except Exception`` clause (also ``except*``, ``builtins.Exception``) and a call of a
    cleanup method somewhere in the text."""
    names = "|".join(sorted(methods))
    return (r"except\s*\*?\s*(?:builtins\.)?Exception\b", rf"\.(?:{names})\s*\(")


def _names_closing(func: cst.BaseExpression) -> bool:
    """``closing(...)``/``aclosing(...)``, ``contextlib.closing(...)`` and the like."""
    return (dotted_name(func) or "").endswith("closing")


def _method_names(configured: FrozenSet[str]) -> FrozenSet[str]:
    return frozenset(name.rsplit(".", 1)[-1] for name in configured)


@register
class CleanupSkippedOnCancellation(Rule):
    """
    ## What it does
    Checks for `except Exception:` (also `except Exception as exc:` and `except* Exception:`)
    around an `await`, `async for` or `async with` in async code, whose handler releases a
    resource and then re-raises on every path. Releasing a resource means calling a method named
    `close`, `aclose`, `release`, `cancel`, `abort`, `terminate`, `kill`, `disconnect`, `shutdown`,
    `unlink` or `set_exception` (or one added with `--cancel-cleanup-methods`), awaited or not.

    ## Why is this bad?
    Since Python 3.8 `asyncio.CancelledError` derives from `BaseException`, not `Exception`. When
    the task is cancelled, or a timeout expires, at an `await` of the `try` body, this handler does
    not run: the connection is not closed, the lock not released, the child task not cancelled,
    the future not resolved (its waiters hang). The handler re-raises anyway, so nothing in it
    needed to be limited to `Exception`.

    ## Example
    ```python
    async def send(pool, payload):
        conn = await pool.acquire()
        try:
            await conn.send(payload)
        except Exception:
            await conn.close()
            raise
        await pool.release(conn)
    ```

    ## Use instead
    ```python
    async def send(pool, payload):
        conn = await pool.acquire()
        try:
            await conn.send(payload)
        except BaseException:
            await conn.close()
            raise
        await pool.release(conn)
    ```

    A `finally` (or `async with`) is often clearer when the resource is released on success too.

    ## Fix safety
    Safe: `Exception` becomes `BaseException`, keeping `as exc`. Every path through the handler
    re-raises the exception it caught, so the only change is that the cleanup now also runs on
    cancellation (and on `KeyboardInterrupt`/`SystemExit`) before they propagate. A handler that
    passes the exception on, such as `fut.set_exception(exc)`, then hands the `CancelledError` to
    the future's waiters, which is what they should see (they would otherwise wait forever).

    A handler with a path that ends in a function that never returns (`sys.exit()`, a
    `-> NoReturn` function) is reported but gets no fix: widened, it would turn the cancellation
    into that function's exception.

    Never in an `except*` clause (a bare `raise` there ends the task with a
    `BaseExceptionGroup`), nor where it would add `import asyncio` to a trio or anyio module, nor
    where the result would have a new finding (the README's *Fixing* section).

    ## Not reported
    - a handler that only logs, counts or wraps up without releasing anything;
    - a handler with a path that does not re-raise (it returns, falls off its end, or raises
      another error): widening it would swallow or convert the cancellation;
    - a `try` with a clause that already catches cancellation, before or after this one
      (`except asyncio.CancelledError:`, `except BaseException:`, a bare `except:`): the author
      has decided what happens on cancellation there;
    - a handler whose every released object is also released on the way out, which runs on
      cancellation too: by a cleanup method on the same object (the same expression, such as
      `self._transport`) in the `finally` of this `try` or of an enclosing one in the same
      function, or by the exit of an enclosing `with` that manages it (`async with conn:`,
      `async with pool.acquire() as conn:`, `with contextlib.closing(conn):`);
    - a cleanup call under `if isinstance(exc, SomeError):` for the clause's `exc`, with types
      that do not catch cancellation: that cleanup is meant for those errors only;
    - a clause naming `Exception` in a tuple with other types (`except (OSError, Exception):`),
      or through a tuple alias;
    - a `try` body without a cancellation point, and sync code.

    ## Known problems
    The method name alone says that a resource is released. A `cancel()` on a timer handle
    (`loop.call_later(...)`) is reported too: on cancellation the timer still fires later, on an
    operation that was abandoned, which is usually a bug of the same kind; where it is harmless,
    add `# noqa: CAN111`. Cleanup done by the caller, or by an `except BaseException` or `finally`
    in another function, is not seen. Add the project's own method names with
    `--cancel-cleanup-methods` (flake8) or `--cleanup-methods` (command line).
    """

    code = "CAN111"
    slug = "cleanup-skipped-on-cancellation"
    message = "'except Exception' skips this cleanup when the task is cancelled; catch BaseException, the handler re-raises anyway"
    fix_safety = FixSafety.SOMETIMES
    # `Exception` (an except clause, or an alias of it) and the name of a cleanup method.
    gate = _gate(CLEANUP_METHODS)
    screen = handler(Named.EXCEPTION, calls=Named.CLEANUP)

    @classmethod
    def gate_pattern(cls, settings):
        return _gate(_method_names(settings.cleanup_methods))

    def check_handler(self, site: HandlerSite) -> bool:
        try_site = site.try_site
        if not (site.catch.exception and try_site.body_awaits and _names_exception_alone(site)):
            return False
        if try_site.catches_cancellation:
            return False
        methods = _method_names(try_site.context.settings.cleanup_methods)
        created = _futures_created_in(site)
        released = [
            resource
            for resource in _released(site.node.body, methods, site)
            if reference_key(resource) not in created
        ]
        if not released or not site.paths.every_path_reraises:
            return False
        return not _released_on_the_way_out(site, released, methods)

    def build_fix(self, site: HandlerSite, node=None):
        """``except BaseException``, keeping ``as name`` and any parentheses."""
        if any(end.exit is not Exit.RERAISE for end in site.paths.ends):
            return None
        written = site.node.type
        if isinstance(written, cst.Name):
            new_type: cst.BaseExpression = written.with_changes(value="BaseException")
        elif isinstance(written, cst.Attribute):  # builtins.Exception
            new_type = written.with_changes(attr=written.attr.with_changes(value="BaseException"))
        else:
            return None

        def rebuild(handler: cst.CSTNode) -> cst.CSTNode:
            return handler.with_changes(type=new_type)

        return Fix(((site.node, rebuild),))


def _futures_created_in(site: HandlerSite) -> Set[Optional[str]]:
    """Futures the handler itself creates: no waiter can hang on them, so failing one
    (``set_exception``) releases nothing."""
    bindings = site.vocabulary.bindings
    return {
        reference_key(target.target)
        for node in descendants(site.node.body)
        if isinstance(node, cst.Assign) and creates_plain_future(node.value, bindings)
        for target in node.targets
    }


def _names_exception_alone(site: HandlerSite) -> bool:
    """The clause names ``Exception`` alone: not in a tuple, nor through a tuple alias."""
    written = site.node.type
    if written is None or isinstance(written, cst.Tuple):
        return False
    bindings = site.vocabulary.bindings
    if list(bindings.exception_types(written)) != [written]:
        return False
    return EXCEPTION in bindings.resolve(written)


def _released(
    block: cst.CSTNode, methods: FrozenSet[str], site: Optional[HandlerSite] = None
) -> List[cst.BaseExpression]:
    """The objects that ``block`` calls a cleanup method on, outside nested scopes. For a
    handler (``site``), not under ``if isinstance(exc, SomeError):`` for its bound ``exc``: a
    cancellation never takes that branch, whatever the clause catches."""
    found = []
    stack = list(children(block))
    while stack:
        node = stack.pop()
        if is_nested_scope(node):
            continue
        receiver = method_receiver(node, methods)
        if receiver is not None:
            found.append(receiver)
        if site is not None and isinstance(node, cst.If) and _narrowed_away(node.test, site):
            stack.append(node.test)
            if node.orelse is not None:
                stack.append(node.orelse)
            continue
        stack.extend(children(node))
    return found


def _narrowed_away(test: cst.BaseExpression, site: HandlerSite) -> bool:
    """``isinstance(exc, T)``, ``exc`` the clause's bound name and ``T`` types none of which
    catches cancellation: false for a CancelledError."""
    bound = site.bound_name
    classes = isinstance_classes(test, bound) if bound is not None else None
    return classes is not None and site.vocabulary.never_matches_cancellation(classes)


def _released_on_the_way_out(
    site: HandlerSite, released: List[cst.BaseExpression], methods: FrozenSet[str]
) -> bool:
    """Is every object the handler releases also released by a ``finally`` that runs after it
    (of its own ``try`` or an enclosing one in the same function), or by the exit of an
    enclosing ``with`` that manages it (``async with conn:``, ``async with pool.acquire() as
    conn:``, ``with closing(conn):``)?"""
    try_node = site.try_site.node
    function = site.try_site.scope.function
    path = path_to(statements(function.body), try_node) if function is not None else None
    guards: List[cst.CSTNode] = [
        try_node,
        *(holder for holder, kind in holders(path or []) if _runs_after(holder, kind)),
    ]
    covered: List[cst.BaseExpression] = []
    for statement in guards:
        if isinstance(statement, (cst.Try, cst.TryStar)) and statement.finalbody is not None:
            covered.extend(_released(statement.finalbody.body, methods))
        elif isinstance(statement, cst.With):
            for item in statement.items:
                covered.append(item.item)
                if item.asname is not None:
                    covered.append(item.asname.name)  # type: ignore[arg-type]
                call = item.item
                if isinstance(call, cst.Call) and _names_closing(call.func):
                    covered.extend(argument.value for argument in call.args)
    return all(any(r.deep_equals(c) for c in covered) for r in released)


def _runs_after(statement: cst.CSTNode, block_kind: BlockKind) -> bool:
    """Does the statement's ``with`` exit or ``finally`` run after code in this block of it?"""
    if isinstance(statement, cst.With):
        return True
    if isinstance(statement, (cst.Try, cst.TryStar)):
        return statement.finalbody is not None and block_kind is not BlockKind.FINALLY
    return False
