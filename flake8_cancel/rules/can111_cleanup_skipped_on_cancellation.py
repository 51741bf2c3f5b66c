from __future__ import annotations

from typing import Dict, FrozenSet, List, Optional, Set

import libcst as cst

from flake8_cancel.edits import Fix
from flake8_cancel.flow import Exit
from flake8_cancel.gate import InHandler
from flake8_cancel.names import (
    CLEANUP_METHODS, FAILS, HANDS_BACK, NAME_WORD, Vocabulary, cleanup_words,
)
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.sites import HandlerSite, creates_plain_future
from flake8_cancel.syntax import (
    BlockKind,
    holders,
    children,
    descendants,
    dotted_name,
    has_cancellation_point,
    is_nested_scope,
    isinstance_classes,
    path_to,
    reference_key,
    statements,
)

EXCEPTION = "builtins.Exception"
# A name that starts with one of these words asks, registers or reports rather than releases,
# whatever release word follows: `is_closed()`, `add_close_callback()`, `on_close()`,
# `log_disconnect()`.
NOT_RELEASING = frozenset(
    {"is", "has", "get", "set", "add", "on", "register", "remove", "log", "emit", "notify", "report"}
)
# A connection taken from a pool or queue (`conn = await queue.get()`) and handed back to it.
TAKES = ("get", "get_nowait", "pop", "popleft", "acquire")


def _gate(methods: FrozenSet[str]) -> InHandler:
    """An ``except Exception`` clause (also ``except*``, ``except (Exception)``,
    ``builtins.Exception``) whose handler holds a call that may release: a name with a cleanup
    word in it, in any case (``connClose()``), or a hand-back to a pool. Most files with async
    code have both somewhere, far apart. Where the text may name ``Exception`` otherwise (an
    alias ``Broad = Exception``, ``builtins`` imported, an alias imported from the project),
    any clause may be it."""
    names = "|".join(sorted(methods | {FAILS}))
    hands_back = "|".join(HANDS_BACK)
    return InHandler(
        r"except\s*\*?\s*\(?\s*(?:builtins\.)?Exception\b",
        rf"(?i:{names})\w*\s*\(|\.(?:{hands_back})\s*\(",
        any_clause_if=(
            r"builtins\.Exception\b|import\b[^\n]*\bbuiltins\b|from\s+builtins\b"
            r"|=\s*\(?(?:\s|#[^\n]*)*Exception\b"
        ),
    )


def _names_closing(func: cst.BaseExpression) -> bool:
    """``closing(...)``/``aclosing(...)``, ``contextlib.closing(...)`` and the like."""
    return (dotted_name(func) or "").endswith("closing")


def _method_names(configured: FrozenSet[str]) -> FrozenSet[str]:
    return frozenset(name.rsplit(".", 1)[-1] for name in configured)


@register
class CleanupSkippedOnCancellation(Rule):
    """
    ## What it does
    Checks for `except Exception:` (also `except Exception as exc:`, `except* Exception:` and
    `Exception` in any spelling: an alias, `builtins.Exception`) around an `await`, `async for` or `async with` in async code, whose handler releases a
    resource and then re-raises on every path. Releasing a resource means calling a method or
    function named `close`, `aclose`, `release`, `cancel`, `abort`, `terminate`, `kill`,
    `disconnect`, `shutdown`, `unlink`, `set_exception` or `set_result` (or one added with
    `--cancel-cleanup-methods`), or whose name contains one of those words (`adb_close()`,
    `aclose_forcefully(stream)`, `connClose()`), awaited or not; handing a connection back to the pool or queue
    it was taken from in the same function (`self._queue.put_nowait(holder)` after
    `holder = await self._queue.get()`); or failing a connection (`protocol.fail(...)`) in a
    handler that then waits for it to close.

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
    - a `try` body without a cancellation point, and sync code;
    - a `try` with a clause for another library's cancellation (`except trio.Cancelled:`,
      `except anyio.get_cancelled_exc_class():`), even where that name is not configured;
    - names that only ask, register or report (`is_closed()`, `add_close_callback()`,
      `on_close()`, `log_disconnect()`: the first word is `is`, `has`, `get`, `set`, `add`,
      `on`, `register`, `remove`, `log`, `emit`, `notify` or `report`); a connection put into
      another queue than the one it came from; a `fail()` that is not followed by waiting
      (`job.fail()` marks a job), or that never returns (`self.fail()` in a `TestCase`); a
      future the handler itself creates (`set_result` on it releases nothing).

    ## Libraries
    Every library: `except Exception` misses asyncio's, anyio's and trio's cancellation alike
    (all derive from `BaseException`). A `try` that also has a clause for another library's
    cancellation (`except trio.Cancelled:`) is left alone.

    ## Known problems
    The name alone says that a resource is released. A `cancel()` on a timer handle
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
    screen = handler(Named.EXCEPTION, calls=Named.CLEANUP, ends_propagating=True)

    @classmethod
    def gate_pattern(cls, settings):
        return _gate(_method_names(settings.cleanup_methods))

    def check_handler(self, site: HandlerSite) -> bool:
        try_site = site.try_site
        if not (site.catch.exception and try_site.body_awaits and _names_exception_alone(site)):
            return False
        if try_site.catches_cancellation or _names_another_librarys_cancellation(site):
            return False
        releases = _Releases(site)
        created = _futures_created_in(site)
        released = [
            resource
            for resource in _released(site.node.body, releases, site)
            if reference_key(resource) not in created
        ]
        if not released or not site.paths.every_path_reraises:
            return False
        return not _released_on_the_way_out(site, released, releases)

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


def _names_another_librarys_cancellation(site: HandlerSite) -> bool:
    """A clause of the ``try`` names a cancellation that the vocabulary does not know
    (``except trio.Cancelled:``, ``except anyio.get_cancelled_exc_class():``): the author has
    decided what happens on cancellation there too."""
    bindings = site.vocabulary.bindings
    for clause in site.try_site.node.handlers:
        for single in bindings.exception_types(clause.type):
            if isinstance(single, cst.Call):
                single = single.func
            last = (dotted_name(single) or "").rsplit(".", 1)[-1]
            if last in ("Cancelled", "CancelledError", "get_cancelled_exc_class"):
                return True
    return False


def _names_exception_alone(site: HandlerSite) -> bool:
    """The clause names ``Exception`` alone: not in a tuple, nor through a tuple alias."""
    written = site.node.type
    if written is None or isinstance(written, cst.Tuple):
        return False
    bindings = site.vocabulary.bindings
    if list(bindings.exception_types(written)) != [written]:
        return False
    return EXCEPTION in bindings.resolve(written)


class _Releases:
    """What a call releases, judged the way real code releases: a cleanup method (``close``,
    ``release``...) or a name with a cleanup word in it (``adb_close()``,
    ``trio.aclose_forcefully(stream)``), a connection handed back to the pool or queue it was
    taken from, or a connection failed (``protocol.fail(code)``) by a handler that then waits
    for it to close."""

    def __init__(self, site: HandlerSite) -> None:
        self.methods = _method_names(site.context.settings.cleanup_methods)
        self.words = cleanup_words(self.methods)
        self.vocabulary: Vocabulary = site.vocabulary
        self.taken = _taken_from_a_pool(site)
        # The handler waits for something (an `await`, an `async with` whose exit waits).
        self.waits = has_cancellation_point(site.node.body)

    def of(self, node: cst.CSTNode) -> Optional[cst.BaseExpression]:
        """The object the call ``node`` releases, or None."""
        if not isinstance(node, cst.Call):
            return None
        func = node.func
        if isinstance(func, cst.Attribute):
            name, receiver = func.attr.value, func.value
        elif isinstance(func, cst.Name):
            name, receiver = func.value, None
        else:
            return None
        first = node.args[0].value if node.args and not node.args[0].star else None
        if name in HANDS_BACK:
            key = reference_key(first) if first is not None else None
            handed_back = receiver is not None and key is not None and key in self.taken
            return first if handed_back and self.taken[key] == reference_key(receiver) else None
        words = [word.lower() for word in NAME_WORD.findall(name)]
        if name not in self.methods:
            if not words or words[0] in NOT_RELEASING:
                return None
            fails = FAILS in words and self.waits
            if not (fails or self.words.intersection(words)):
                return None
        if self.vocabulary.is_never_returning_call(node):
            return None  # `self.fail(...)` of a TestCase, `pytest.fail(...)`
        if receiver is None or self._is_a_module(receiver):
            return first  # `aclose_forcefully(stream)`, `os.close(fd)`
        return receiver

    def _is_a_module(self, receiver: cst.BaseExpression) -> bool:
        """``trio`` in ``trio.aclose_forcefully(stream)``: an imported name, not an object."""
        return isinstance(receiver, (cst.Name, cst.Attribute)) and bool(
            self.vocabulary.bindings.resolve(receiver)
        )


def _taken_from_a_pool(site: HandlerSite) -> Dict[str, str]:
    """``conn = await pool.get()`` (``get_nowait``, ``pop``, ``popleft``, ``acquire``) in the
    function: what was taken (``conn``), and from where (``pool``)."""
    function = site.scope.function
    if function is None:
        return {}
    taken = {}
    for node in descendants(function.body):
        if not (isinstance(node, cst.Assign) and len(node.targets) == 1):
            continue
        value = node.value.expression if isinstance(node.value, cst.Await) else node.value
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)):
            continue
        key, source = reference_key(node.targets[0].target), reference_key(value.func.value)
        if value.func.attr.value in TAKES and key is not None and source is not None:
            taken[key] = source
    return taken


def _released(
    block: cst.CSTNode, releases: _Releases, site: Optional[HandlerSite] = None
) -> List[cst.BaseExpression]:
    """The objects that ``block`` releases, outside nested scopes. For a handler (``site``),
    not under ``if isinstance(exc, SomeError):`` for its bound ``exc``: a cancellation never
    takes that branch, whatever the clause catches."""
    found = []
    stack = list(children(block))
    while stack:
        node = stack.pop()
        if is_nested_scope(node):
            continue
        released = releases.of(node)
        if released is not None:
            found.append(released)
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
    site: HandlerSite, released: List[cst.BaseExpression], releases: _Releases
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
            covered.extend(_released(statement.finalbody.body, releases))
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
