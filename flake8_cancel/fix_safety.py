"""What a fix at a handler would change besides letting the task's own cancellation go on.

A fix is safe only when it changes nothing but this: the current task's own cancellation, which
the code was losing, now propagates, after the handler's own work has run. :func:`doubts` lists
what stands against that at a site, for a person: each entry is one reason the fix must be
unsafe (or absent). The fix builders in edits.py and the rules ask it; they never decide it
themselves.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from flake8_cancel.deadlines import header_expressions
from flake8_cancel.sites import HandlerSite, ModuleContext, Scope, awaited_keys, prepared_before
from flake8_cancel.syntax import (
    BlockKind,
    Enclosure,
    Statement,
    blocks,
    children_run_here,
    descendants,
    dotted_name,
    holders,
    method_receiver,
    path_to,
    reference_key,
    small_statements,
    statements,
)

TASK_FACTORIES = ("create_task", "ensure_future")


def _makes_a_task(call: cst.Call) -> bool:
    """``asyncio.create_task(...)``, ``loop.create_task(...)``, ``ensure_future(...)``, and the
    wrappers frameworks add (``hass.async_create_task(...)``, ``create_background_task``)."""
    name = call.func.attr.value if isinstance(call.func, cst.Attribute) else (
        call.func.value if isinstance(call.func, cst.Name) else ""
    )
    return name.endswith(TASK_FACTORIES) or name.endswith("create_background_task")


def doubts(site: HandlerSite) -> List[str]:
    """Why re-raising the cancellation at the end of this handler may change more than letting
    it go on; empty when it is safe."""
    found = []
    if may_catch_a_childs_cancellation(site):
        found.append("the CancelledError may be a task's or future's it awaits, not this task's")
    work = work_after_the_handler(site)
    if work is not None:
        found.append(f"code after the handler would be skipped: {work}")
    if caught_again_further_out(site):
        found.append("an enclosing handler of the function would catch the cancellation")
    if owner_relies_on_a_quiet_end(site):
        found.append("a task running this coroutine is cancelled and awaited without a handler")
    if cancels_its_own_scope(site):
        found.append("the function cancels the scope around the try: it asked for this one")
    if lists_cancellation_among_errors(site):
        found.append(
            "the clause lists CancelledError among other errors: it may be a library's own "
            "(a dropped connection's pending request), not this task's"
        )
    return found


def lists_cancellation_among_errors(site: HandlerSite) -> bool:
    """``except (OSError, ClientError, asyncio.CancelledError):`` (also through a tuple, from this
    module or another): the author takes a ``CancelledError`` for one of a library's errors,
    which some libraries raise when they cancel their own pending futures."""
    vocabulary = site.vocabulary
    written = site.node.type
    if written is None or not site.catch.names_cancellation:
        return False
    others = [
        single
        for single in vocabulary.bindings.exception_types(written)
        if not vocabulary.is_cancelled_error(single)
    ]
    # Not a library's error: the broad classes, and what the interpreter raises by itself.
    broad = {
        "builtins.BaseException", "builtins.Exception", "builtins.KeyboardInterrupt",
        "builtins.SystemExit", "builtins.GeneratorExit",
    }
    return any(
        not meanings or not meanings <= broad
        for meanings in (vocabulary.bindings.resolve(single) for single in others)
    )


def _path_to_the_try(site: HandlerSite) -> List[Enclosure]:
    """The levels from the site's ``try`` out to its function's body (syntax.path_to); empty
    outside a function."""
    function = site.scope.function
    if function is None:
        return []
    return path_to(statements(function.body), site.try_site.node) or []


# -- a cancellation the function asked for ---------------------------------------------------------
def cancels_its_own_scope(site: HandlerSite) -> bool:
    """The ``try`` is inside a scope that the function itself cancels (``with CancelScope() as
    scope: scope.cancel()`` in trio or anyio, before or inside the ``try``): the cancellation the
    handler sees may be the one it requested, and what it does with it may be on purpose (a test
    of cancellation)."""
    for holder, _ in holders(_path_to_the_try(site)):
        if not isinstance(holder, cst.With):
            continue
        for item in holder.items:
            if item.asname is None or not site.vocabulary.is_cancel_scope(item.item):
                continue
            scope = dotted_name(item.asname.name)  # type: ignore[arg-type]
            cancelled = (method_receiver(node, ("cancel",)) for node in descendants(holder.body))
            if scope is not None and any(
                receiver is not None and dotted_name(receiver) == scope for receiver in cancelled
            ):
                return True
    return False


# -- the child's cancellation ------------------------------------------------------------------
def may_catch_a_childs_cancellation(site: HandlerSite) -> bool:
    """The try body awaits an existing task or future (``await t``, ``wait_for(t, ...)``,
    ``shield(t)``, ``gather(*tasks)``): whoever cancelled that one raises CancelledError here
    too, and a re-raise would turn its normal end into this task's failure."""
    vocabulary = site.vocabulary
    stack: List[cst.CSTNode] = list(children_run_here(site.try_site.node.body))
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Await) and awaited_keys(node.expression, vocabulary):
            return True
        stack.extend(children_run_here(node))
    return False


# -- work after the handler --------------------------------------------------------------------
def work_after_the_handler(site: HandlerSite) -> Optional[str]:
    """The first statement that runs after the handler falls off its end and does real work
    (not a ``return`` of a plain value, logging, ``pass``), up to the end of the function; a
    re-raise would skip it. So would the remaining iterations of an enclosing ``for`` loop
    (closing the other connections of a list). A ``while`` loop around a worker's ``try`` is
    not such work: carrying on with the next item is the swallowing itself."""
    for block, index, _ in _path_to_the_try(site):
        holder = block[index]  # the try itself, then each statement around it
        if isinstance(holder, cst.For):  # its next iterations run first
            return "the rest of the loop " + _describe(holder)
        for statement in block[index + 1:]:
            verdict = inert(statement)
            if verdict == "returns":
                return None
            if verdict is None:
                return _describe(statement)
    return None


def inert(statement: Statement, logging: bool = True) -> Optional[str]:
    """"returns" for a return of a plain value or a bare ``raise``, "inert" for nothing (or
    logging, if ``logging``), None for work."""
    if not isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return None
    for small in small_statements(statement):
        if isinstance(small, cst.Return):
            value = small.value
            plain = value is None or dotted_name(value) is not None or isinstance(
                value, (cst.Integer, cst.Float, cst.SimpleString)
            )
            return "returns" if plain else None
        if isinstance(small, cst.Raise) and small.exc is None:
            return "returns"  # the path ends there anyway, with the exception in flight
        if isinstance(small, (cst.Pass, cst.Break, cst.Continue)):
            continue
        if isinstance(small, cst.Expr) and (
            (logging and is_logging_call(small.value))
            or isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString, cst.Ellipsis))
        ):
            continue
        return None
    return "inert"


def is_logging_call(node: cst.BaseExpression) -> bool:
    """``logger.info(...)``, ``logging.warning(...)``, ``self._log.debug(...)``, ``print(...)``,
    ``warnings.warn(...)``: calls that only report."""
    if not isinstance(node, cst.Call):
        return False
    name = dotted_name(node.func)
    if name is None:
        return False
    parts = name.split(".")
    return (
        name in ("print", "warnings.warn")
        or any("log" in part.lower() for part in parts[:-1])
        or (len(parts) == 1 and parts[0].lower().startswith("log"))
    )


def _describe(statement: Statement) -> str:
    code = cst.Module(body=[]).code_for_node(statement).strip().splitlines()[0]
    return code if len(code) <= 60 else code[:57] + "..."


# -- enclosing handlers ------------------------------------------------------------------------
def caught_again_further_out(site: HandlerSite) -> bool:
    """Is the ``try`` inside the body of an enclosing ``try`` of the same function whose
    handlers catch the cancellation? Re-raising would run that handler's code instead."""
    vocabulary = site.vocabulary
    return any(
        isinstance(holder, (cst.Try, cst.TryStar))
        and kind is BlockKind.BODY
        and any(vocabulary.catch_of(h.type).catches_cancellation for h in holder.handlers)
        for holder, kind in holders(_path_to_the_try(site))
    )


# -- the task's owner --------------------------------------------------------------------------
def owner_relies_on_a_quiet_end(site: HandlerSite) -> bool:
    """Does the module run this coroutine as a task that it later cancels and awaits without a
    handler for the cancellation (``t.cancel(); await t``, also through ``shield(t)``)? That
    owner relies on the task ending quietly: re-raising in the task makes the owner raise. The
    right fix changes both places, which only a person can do."""
    function = site.scope.function
    if function is None:
        return False
    context = site.context
    owner_class = site.scope.owner_class
    is_method = owner_class is not None and any(
        statement is function for statement in statements(owner_class.body)
    )
    # A method's tasks and their owners are in its class; a nested function's, in the function
    # around it; a module-level function's, anywhere in the module.
    enclosing = site.scope.parent.function if site.scope.parent is not None else None
    region: cst.CSTNode = (  # type: ignore[assignment]
        owner_class if is_method else enclosing if enclosing is not None else context.module
    )
    tasks = _tasks_in(region, is_method, context).get(function.name.value, set())
    return bool(tasks & _quietly_awaited_in(region, context))


def _tasks_in(region: cst.CSTNode, is_method: bool, context: ModuleContext) -> Dict[str, Set[str]]:
    """For each coroutine function name, the keys of the tasks made of it in ``region``, found in
    one pass over the region and kept for the module (a lint asks it of every handler)."""
    key = ("tasks", id(region), is_method)
    if key not in context.memo:
        context.memo[key] = _collect_tasks(region, is_method)
    return context.memo[key]  # type: ignore[return-value]


def _quietly_awaited_in(region: cst.CSTNode, context: ModuleContext) -> Set[str]:
    """Keys of the tasks that a function of ``region`` cancels and then awaits without a handler
    of the cancellation; one pass over the region, kept for the module."""
    key = ("quietly awaited", id(region))
    if key not in context.memo:
        context.memo[key] = {
            awaited
            for owner in _functions(region)
            for awaited in _awaited_unprotected_after_cancel(owner, context)
        }
    return context.memo[key]  # type: ignore[return-value]


def _collect_tasks(region: cst.CSTNode, is_method: bool) -> Dict[str, Set[str]]:
    """``t = asyncio.create_task(f())`` (functions), ``self._task = loop.create_task(self.f())``
    (methods): coroutine function name -> keys of the tasks."""
    found: Dict[str, Set[str]] = {}
    for node in descendants(region, enter_nested_scopes=True):
        if not (isinstance(node, cst.Assign) and isinstance(node.value, cst.Call)):
            continue
        call = node.value
        if not (_makes_a_task(call) and call.args and isinstance(call.args[0].value, cst.Call)):
            continue
        callee = call.args[0].value.func
        if is_method:
            called = (
                callee.attr.value
                if isinstance(callee, cst.Attribute)
                and isinstance(callee.value, cst.Name)
                and callee.value.value in ("self", "cls")
                else None
            )
        else:
            called = callee.value if isinstance(callee, cst.Name) else None
        if called is not None:
            keys = found.setdefault(called, set())
            keys.update(filter(None, (reference_key(t.target) for t in node.targets)))
    return found


def _functions(region: cst.CSTNode) -> Iterator[cst.FunctionDef]:
    """The coroutine functions of ``region``, the region itself included."""
    if isinstance(region, cst.FunctionDef) and region.asynchronous is not None:
        yield region
    for node in descendants(region, enter_nested_scopes=True):
        if isinstance(node, cst.FunctionDef) and node.asynchronous is not None:
            yield node


def _awaited_unprotected_after_cancel(owner: cst.FunctionDef, context: ModuleContext) -> Set[str]:
    """The keys that ``owner`` awaits, after cancelling them, with no handler of the
    cancellation around the await."""
    scope = Scope(context, owner, True, Scope(context))
    found: Set[str] = set()
    for await_node, protected in _awaits(statements(owner.body), False, scope):
        if protected:
            continue
        keys = awaited_keys(await_node.expression, scope.vocabulary)
        if keys:
            found |= keys & prepared_before(scope, await_node, owner.body).cancelled
    return found


def _awaits(
    block: Sequence[Statement], protected: bool, scope: Scope
) -> Iterator[Tuple[cst.Await, bool]]:
    """Every ``await`` of the block (nested scopes not entered), and whether a handler or
    ``suppress()`` of the cancellation around it, in the same function, protects it."""
    vocabulary = scope.vocabulary
    for statement in block:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue
        for node in _own_expressions(statement):
            if isinstance(node, cst.Await):
                yield node, protected
        for found in blocks(statement):
            inner = protected
            if isinstance(statement, (cst.Try, cst.TryStar)) and found.kind is BlockKind.BODY:
                inner = protected or any(
                    vocabulary.catch_of(h.type).catches_cancellation for h in statement.handlers
                )
            elif isinstance(statement, cst.With):
                suppression = vocabulary.suppression_of(statement)
                inner = protected or (
                    suppression is not None and suppression[0].catches_cancellation
                )
            yield from _awaits(statements(found.suite), inner, scope)


def _own_expressions(statement: Statement) -> Iterator[cst.CSTNode]:
    """The nodes a statement evaluates itself, outside the blocks it holds and nested scopes."""
    stack: List[cst.CSTNode] = list(header_expressions(statement))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(children_run_here(node))
