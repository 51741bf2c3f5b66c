"""The site model: the module, its scopes, and the ``try``/``except``/``with`` sites the rules judge.

One walker (:func:`collect_sites`) visits the statements of a module once, scope by scope, pruned
of everything else, and collects a :class:`TrySite` for every ``try`` and a :class:`WithSite` for
every ``with`` in an async scope. The facts the rules ask about a site (what a clause catches,
its paths, whether an earlier clause shields it...) are computed lazily, once, and shared by
every rule. A fact that only one rule uses lives in that rule, not here.
"""

from __future__ import annotations

from functools import cached_property
from typing import Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple, Union

import libcst as cst

from flake8_cancel.deadlines import CallIndex, header_expressions
from flake8_cancel.flow import HandlerPaths, analyze_handler, function_never_returns, function_reraises
from flake8_cancel.names import (
    COROUTINE_DECORATORS,
    COROUTINE_RUNNERS,
    EXIT_METHODS,
    RUNNER_METHODS,
    TEST_CASE_NEVER_RETURNING_METHODS,
    TEST_CASES,
    WAIT_FOR,
    Bindings,
    Catch,
    Vocabulary,
    annotated_never_returning,
    collect_module_bindings,
    never_returning_functions,
    record_simple_statement,
)
from flake8_cancel.modules import project_of
from flake8_cancel.settings import Settings, module_package, project_target_version
from flake8_cancel.syntax import (
    BlockKind,
    Handler,
    Statement,
    blocks,
    bound_name,
    children,
    children_run_here,
    descendants,
    dotted_name,
    has_cancellation_point,
    is_generator,
    is_nested_scope,
    is_yield_from,
    may_hold_generator_coroutines,
    method_receiver,
    reference_key,
    small_statements,
    statements,
)

TryNode = Union["cst.Try", "cst.TryStar"]  # strings: libcst is loaded on first use (lazy.py)
ASYNCIO_RUN = frozenset({"asyncio.run", "asyncio.runners.run"})
# Runners given the main coroutine function itself: `trio.run(main, arg)`, `anyio.run(main)`.
FUNCTION_RUNNERS = frozenset({"trio.run", "trio._core.run", "trio._core._run.run", "anyio.run"})
# Calls that decide what awaiting a task or future means afterwards.
CANCELS = ("cancel",)
COMPLETES = ("set_result", "set_exception")
SHIELD = frozenset({"asyncio.shield", "asyncio.tasks.shield"})
GATHER = frozenset({"asyncio.gather", "asyncio.tasks.gather"})
WAIT = frozenset({"asyncio.wait", "asyncio.tasks.wait"})
FUTURES = frozenset({"asyncio.Future", "asyncio.futures.Future"})


# outcome's captured exception: `Error(exc).unwrap()` raises it again where it is consumed.
OUTCOME_ERRORS = frozenset({"outcome.Error", "outcome._impl.Error"})


class ModuleContext:
    """Facts about the whole module, each computed at most once and only when asked."""

    def __init__(
        self,
        module: cst.Module,
        source: str,
        settings: Settings,
        target_version: Tuple[int, int],
        index_calls: bool,
        path: Optional[str] = None,
        is_region: bool = False,
    ) -> None:
        self.module = module
        self.path = path
        self.source = source
        # `module` holds only some statements of `source` (regions.py)
        self.is_region = is_region
        package = module_package(path) if path is not None else None
        project = project_of(path, package)
        self.bindings = collect_module_bindings(
            module, package, project.definition if project is not None else None
        )
        self.settings = settings
        self.target_version = target_version
        # Module-wide facts that the fix-safety questions compute once (fix_safety.py).
        self.memo: Dict[object, object] = {}
        self._never_returns_cache: Dict[Tuple[int, int], bool] = {}
        self._reraises_cache: Dict[Tuple[int, int, str], bool] = {}
        self._cancelled_by_method: Dict[Tuple[int, str], FrozenSet[str]] = {}
        self.vocabulary = self.vocabulary_for(self.bindings)
        # Filled by the walker, only where a timeout rule could fire.
        self.call_index: Optional[CallIndex] = (
            CallIndex(module, self.is_coroutine) if index_calls else None
        )

    @cached_property
    def target_version_declared(self) -> bool:
        """Was the target version given (option, configuration, the project's
        ``requires-python``/``python_requires``), rather than assumed?"""
        if self.settings.target_version is not None:
            return True
        return self.path is not None and project_target_version(self.path) is not None

    def is_coroutine(self, function: cst.FunctionDef) -> bool:
        """An ``async def``, or a generator-based coroutine (generator_coroutines)."""
        return function.asynchronous is not None or id(function) in self.generator_coroutines

    @cached_property
    def generator_coroutines(self) -> FrozenSet[int]:
        """id() of the generator functions that are coroutines: decorated
        ``@asyncio.coroutine`` or ``@types.coroutine`` (any spelling), or run as one by the
        module (called into ``asyncio.wait_for``, ``ensure_future``, ``create_task``,
        ``gather``, ``run_until_complete``, or in ``yield from`` of another such coroutine).
        Functions are matched by name (``f()``, ``self.f()``), as callees are elsewhere."""
        if not may_hold_generator_coroutines(self.source):
            return frozenset()
        generators: Dict[str, List[cst.FunctionDef]] = {}
        found: Set[int] = set()
        pending: List[cst.FunctionDef] = []
        for node in descendants(self.module, enter_nested_scopes=True):
            if isinstance(node, cst.FunctionDef) and node.asynchronous is None and is_generator(
                node
            ):
                generators.setdefault(node.name.value, []).append(node)
                if any(
                    self.bindings.resolves_to(decorator.decorator, COROUTINE_DECORATORS)
                    for decorator in node.decorators
                ):
                    pending.append(node)
        if not generators:
            return frozenset()

        def named(call: cst.BaseExpression) -> List[cst.FunctionDef]:
            if not isinstance(call, cst.Call):
                return []
            func = call.func
            name = func.value if isinstance(func, cst.Name) else (
                func.attr.value if isinstance(func, cst.Attribute) and _is_self(func.value) else None
            )
            return generators.get(name, []) if name is not None else []

        for node in descendants(self.module, enter_nested_scopes=True):
            if isinstance(node, cst.Call) and (
                self.bindings.resolves_to(node.func, COROUTINE_RUNNERS)
                or method_receiver(node, RUNNER_METHODS) is not None
            ):
                for argument in node.args:
                    pending.extend(named(argument.value))
        while pending:
            function = pending.pop()
            if id(function) in found:
                continue
            found.add(id(function))
            for node in descendants(function.body):
                if is_yield_from(node):
                    pending.extend(named(node.value.item))  # type: ignore[union-attr]
        return frozenset(found)

    @cached_property
    def timed_functions(self) -> Set[int]:
        """id() of the coroutine functions whose code runs under a deadline (deadlines.py)."""
        return self.call_index.timed_functions() if self.call_index is not None else set()

    def vocabulary_for(
        self, bindings: Bindings, owner_class: Optional[cst.ClassDef] = None
    ) -> Vocabulary:
        """The vocabulary of a scope with these bindings, in this class (for ``self.m()``)."""
        return Vocabulary(
            bindings,
            cancelled=self.settings.cancelled_names,
            never_returning=self.settings.never_returning,
            local_never_returning=self.local_never_returning,
            suppressors=self.settings.suppressors,
            timeout_managers=self.settings.timeout_managers,
            callee_never_returns=lambda func: self.callee_never_returns(func, owner_class),
            callee_reraises=lambda call, bound: self.callee_reraises(call, bound, owner_class),
        )

    @cached_property
    def local_never_returning(self) -> frozenset:
        return never_returning_functions(self.module, self.bindings)

    @cached_property
    def module_functions(self) -> Dict[str, cst.FunctionDef]:
        return {
            statement.name.value: statement
            for statement in self.module.body
            if isinstance(statement, cst.FunctionDef)
        }

    @cached_property
    def module_classes(self) -> Dict[str, cst.ClassDef]:
        return {
            statement.name.value: statement
            for statement in self.module.body
            if isinstance(statement, cst.ClassDef)
        }

    def callee_never_returns(
        self, func: cst.BaseExpression, owner_class: Optional[cst.ClassDef]
    ) -> bool:
        """Is ``func`` a function of this module (``f``), or a method of the class the call is
        in (``self.m``, ``cls.m``), that never returns: annotated ``-> NoReturn``, or raising on
        every path? Also unittest's ``self.fail()`` in a TestCase."""
        found = self.callee(func, owner_class)
        if found is not None:
            # Judged in the class of the call: its `self.m()` calls are that class's methods.
            return self._never_returns(found[0], owner_class)
        return (
            isinstance(func, cst.Attribute)
            and func.attr.value in TEST_CASE_NEVER_RETURNING_METHODS
            and owner_class is not None
            and _is_self(func.value)
            and self._is_test_case(owner_class)
        )

    def callee(
        self, func: cst.BaseExpression, owner_class: Optional[cst.ClassDef]
    ) -> Optional[Tuple[cst.FunctionDef, bool]]:
        """The function of this module (``f``), or the method of the class the call is in
        (``self.m``, ``cls.m``), that a call reaches, and whether the call passes it its
        first parameter (a method that is no staticmethod)."""
        if isinstance(func, cst.Name):
            function = self.module_functions.get(func.value)
            return (function, False) if function is not None else None
        if not (isinstance(func, cst.Attribute) and _is_self(func.value) and owner_class):
            return None
        found = self.method_of(owner_class, func.attr.value)
        if found is None:
            return None
        method = found[0]
        static = any(dotted_name(d.decorator) == "staticmethod" for d in method.decorators)
        return method, not static

    def callee_reraises(
        self, expression: cst.BaseExpression, bound: str, owner_class: Optional[cst.ClassDef]
    ) -> bool:
        """Does the call (awaited if its function is a coroutine function) raise the exception
        it is given as ``bound`` again, wherever that is a cancellation (flow.function_reraises)?"""
        awaited = isinstance(expression, cst.Await)
        call = expression.expression if awaited else expression  # type: ignore[attr-defined]
        if not isinstance(call, cst.Call):
            return False
        found = self.callee(call.func, owner_class)
        if found is None:
            return False
        function, passes_self = found
        if (function.asynchronous is not None) != awaited or _is_abstract(function):
            return False
        if any(isinstance(node, (cst.Yield, cst.While)) for node in descendants(function.body)):
            return False  # a generator, or a loop that may never end
        parameter = _parameter_given(function, call, bound, passes_self)
        if parameter is None:
            return False
        key = (id(function), id(owner_class), parameter)
        known = self._reraises_cache.get(key)
        if known is None:
            self._reraises_cache[key] = False  # a recursive call, for now, does not
            known = function_reraises(
                function, parameter, self.vocabulary_for(self.bindings, owner_class)
            )
            self._reraises_cache[key] = known
        return known

    def module_class(self, base: cst.BaseExpression) -> Optional[cst.ClassDef]:
        """The class of this module that a base expression names (``Base``, ``Base[T]``)."""
        if isinstance(base, cst.Subscript):
            base = base.value
        return self.module_classes.get(base.value) if isinstance(base, cst.Name) else None

    def method_of(
        self, class_node: cst.ClassDef, name: str, depth: int = 0
    ) -> Optional[Tuple[cst.FunctionDef, cst.ClassDef]]:
        """The method ``name`` of the class, or inherited from a base class of this module (the
        first found, in the order of the bases), with the class that defines it."""
        for statement in statements(class_node.body):
            if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
                return statement, class_node
        if depth >= 8:
            return None
        for base in class_node.bases:
            local = self.module_class(base.value)
            if local is not None and local is not class_node:
                found = self.method_of(local, name, depth + 1)
                if found is not None:
                    return found
        return None

    def _never_returns(self, function: cst.FunctionDef, owner_class: Optional[cst.ClassDef]) -> bool:
        key = (id(function), id(owner_class))
        known = self._never_returns_cache.get(key)
        if known is None:
            self._never_returns_cache[key] = False  # a recursive call returns, for now
            known = annotated_never_returning(function, self.bindings) or (
                not _is_abstract(function)
                and function_never_returns(function, self.vocabulary_for(self.bindings, owner_class))
            )
            self._never_returns_cache[key] = known
        return known

    def cancelled_by_method(
        self, func: cst.BaseExpression, owner_class: Optional[cst.ClassDef]
    ) -> FrozenSet[str]:
        """For a call of a method of the class it is in (``self.close()``), the attributes that
        the method cancels (``self._task.cancel()``, ``loop.call_soon(self._task.cancel)``)."""
        if not (
            owner_class is not None
            and isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value in ("self", "cls")
        ):
            return frozenset()
        cache_key = (id(owner_class), func.attr.value)
        found = self._cancelled_by_method.get(cache_key)
        if found is None:
            found = frozenset(
                key
                for method in statements(owner_class.body)
                if isinstance(method, cst.FunctionDef) and method.name.value == func.attr.value
                for receiver in _cancel_receivers(method.body)
                for key in (reference_key(receiver),)
                if key is not None and key.startswith(f"{func.value.value}.")
            )
            self._cancelled_by_method[cache_key] = found
        return found

    def _is_test_case(self, class_node: cst.ClassDef, depth: int = 0) -> bool:
        """Does the class derive from unittest's TestCase (through this module's classes)?"""
        for base in class_node.bases:
            if self.bindings.resolves_to(base.value, TEST_CASES):
                return True
            local = self.module_class(base.value)
            if (
                local is not None
                and local is not class_node
                and depth < 8
                and self._is_test_case(local, depth + 1)
            ):
                return True
        return False

    @cached_property
    def main_coroutines(self) -> FrozenSet[int]:
        """id() of the coroutine functions that this module runs as the program's main
        coroutine, awaited by nobody but the runner: ``asyncio.run(f())``,
        ``loop.run_until_complete(f())`` (also of ``loop.create_task(f())``), ``trio.run(f)``,
        ``anyio.run(f)``, where ``f`` is a
        function of the module (nested ones too: ``async def main`` inside ``def cli()``) or a
        method of one of its classes called on a new instance (``asyncio.run(App(args).run())``)."""
        if self.is_region:
            return frozenset()  # regions.region_for parses whole a module that calls a runner
        if "run(" not in self.source and "run_until_complete(" not in self.source:
            return frozenset()
        functions: Dict[str, List[cst.FunctionDef]] = {}
        for node in descendants(self.module, enter_nested_scopes=True):
            if isinstance(node, cst.FunctionDef) and node.asynchronous is not None:
                functions.setdefault(node.name.value, []).append(node)
        found = set()
        for node in descendants(self.module, enter_nested_scopes=True):
            if not (isinstance(node, cst.Call) and node.args):
                continue
            coroutine: Optional[cst.BaseExpression] = None
            if self._runs_main_coroutine(node):
                coroutine = node.args[0].value
            elif self.bindings.resolves_to(node.func, FUNCTION_RUNNERS) and isinstance(
                node.args[0].value, cst.Name
            ):  # trio.run(main, ...): the function, called by the runner
                coroutine = cst.Call(func=node.args[0].value)
            function = self._coroutine_function(coroutine, functions) if coroutine else None
            if function is not None:
                found.add(id(function))
        return frozenset(found)

    def _runs_main_coroutine(self, call: cst.Call) -> bool:
        if method_receiver(call, ("run_until_complete",)) is not None:
            return True
        meanings = self.bindings.resolve(call.func)
        # `import asyncio` inside `def main():` leaves `asyncio` unbound at module level.
        if not meanings and dotted_name(call.func) == "asyncio.run":
            return True
        return not meanings.isdisjoint(ASYNCIO_RUN)

    def _coroutine_function(
        self, coroutine: cst.BaseExpression, functions: Dict[str, List[cst.FunctionDef]]
    ) -> Optional[cst.FunctionDef]:
        """The coroutine function of this module whose call ``coroutine`` is (also through a task
        stored first: ``self._task = loop.create_task(self._run())``, then ``self._task``)."""
        # Followed only for an attribute (`self._task`): a plain name may be a parameter, and the
        # first assignment found could be another function's local.
        key = reference_key(coroutine)
        stored_task = False
        if key is not None and "." not in key:
            return None
        if key is not None:
            stored = next(
                (
                    node.value
                    for node in descendants(self.module, enter_nested_scopes=True)
                    if isinstance(node, cst.Assign)
                    and any(reference_key(target.target) == key for target in node.targets)
                ),
                None,
            )
            if stored is None:
                return None
            coroutine = stored
        if (  # loop.create_task(main()), asyncio.ensure_future(main())
            isinstance(coroutine, cst.Call)
            and coroutine.args
            and (
                method_receiver(coroutine, ("create_task", "ensure_future")) is not None
                or isinstance(coroutine.func, cst.Name)
                and coroutine.func.value in ("create_task", "ensure_future")
            )
        ):
            stored_task = key is not None
            coroutine = coroutine.args[0].value
        if not isinstance(coroutine, cst.Call):
            return None
        func = coroutine.func
        if isinstance(func, cst.Name):
            named = functions.get(func.value, [])
            module_level = self.module_functions.get(func.value)
            if module_level is not None and module_level.asynchronous is not None:
                return module_level
            return named[0] if len(named) == 1 else None
        if (  # self._run() of a stored task (a method whose coroutine is run may be awaited too)
            stored_task
            and isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value in ("self", "cls")
        ):
            methods = [
                method
                for class_node in self.module_classes.values()
                for method in statements(class_node.body)
                if isinstance(method, cst.FunctionDef)
                and method.name.value == func.attr.value
                and method.asynchronous is not None
            ]
            return methods[0] if len(methods) == 1 else None
        if (  # App(args).run()
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Call)
            and isinstance(func.value.func, cst.Name)
            and func.value.func.value in self.module_classes
        ):
            for method in statements(self.module_classes[func.value.func.value].body):
                if (
                    isinstance(method, cst.FunctionDef)
                    and method.name.value == func.attr.value
                    and method.asynchronous is not None
                ):
                    return method
        return None


def _is_self(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value in ("self", "cls")


def _parameter_given(
    function: cst.FunctionDef, call: cst.Call, name: str, passes_self: bool
) -> Optional[str]:
    """The parameter of ``function`` that receives the variable ``name`` in ``call``."""
    positional = [*function.params.posonly_params, *function.params.params]
    if passes_self:
        positional = positional[1:]
    for index, argument in enumerate(call.args):
        if argument.star or dotted_name(argument.value) != name:
            continue
        if argument.keyword is not None:
            return argument.keyword.value
        if any(earlier.star for earlier in call.args[:index]):
            return None
        return positional[index].name.value if index < len(positional) else None
    return None


def _is_abstract(function: cst.FunctionDef) -> bool:
    """A stub that subclasses override: ``raise NotImplementedError`` (after a docstring), or
    decorated ``@abstractmethod``. Calling it on an instance reaches the override."""
    if any(
        (dotted_name(decorator.decorator) or "").endswith("abstractmethod")
        for decorator in function.decorators
    ):
        return True
    body = [
        statement
        for statement in statements(function.body)
        if not (
            isinstance(statement, cst.SimpleStatementLine)
            and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
        )
    ]
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine):
        return False
    (only,) = body[0].body
    if not (isinstance(only, cst.Raise) and only.exc is not None):
        return False
    raised = only.exc.func if isinstance(only.exc, cst.Call) else only.exc
    return dotted_name(raised) == "NotImplementedError"


class Scope:
    """The innermost function (or class, or the module) that statements belong to."""

    __slots__ = (
        "context", "function", "is_async", "parent", "vocabulary", "owner_class", "_own_bindings"
    )

    def __init__(
        self,
        context: ModuleContext,
        function: Optional[cst.FunctionDef] = None,
        is_async: bool = False,
        parent: Optional["Scope"] = None,
        owner_class: Optional[cst.ClassDef] = None,
    ) -> None:
        self.context = context
        self.function = function
        self.is_async = is_async
        self.parent = parent
        if parent is None:
            self.vocabulary = context.vocabulary
        elif owner_class is not parent.owner_class:  # a class body: `self.m()` means its methods
            self.vocabulary = context.vocabulary_for(parent.vocabulary.bindings, owner_class)
        else:
            self.vocabulary = parent.vocabulary
        # The class that `self`/`cls` refer to here: the class itself for a class body, the
        # enclosing class for a method and for functions nested in it.
        self.owner_class = owner_class
        self._own_bindings = False

    @property
    def in_main_coroutine(self) -> bool:
        """In the coroutine that ``asyncio.run`` runs: nobody but the runner awaits it."""
        return self.function is not None and id(self.function) in self.context.main_coroutines

    def record_bindings(self, statement: Statement) -> None:
        """A function's imports, and its aliases of known names (``cancelled =
        anyio.get_cancelled_exc_class()``, ``errors = (OSError, CancelledError)``); an
        assignment to a name bound so ends that meaning."""
        if not any(self._binds(small) for small in small_statements(statement)):
            return
        if not self._own_bindings:
            # First binding in this function: give it bindings of its own, chained to the outer.
            bindings = Bindings(parent=self.vocabulary.bindings)
            self.vocabulary = self.context.vocabulary_for(bindings, self.owner_class)
            self._own_bindings = True
        record_simple_statement(statement, self.vocabulary.bindings)

    def _binds(self, small: cst.BaseSmallStatement) -> bool:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            return True
        if not (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
        ):
            return False
        bindings = self.vocabulary.bindings
        name = small.targets[0].target.value
        return bool(
            isinstance(small.value, cst.Tuple)
            or bindings.resolve(small.value)
            or bindings.resolve(cst.Name(name))
            or bindings.tuple_alias(name) is not None
        )


def awaited_references(suite: cst.CSTNode, vocabulary: Vocabulary) -> Optional[Set[str]]:
    """When every cancellation point in ``suite`` awaits existing tasks or futures (``await t``,
    ``await wait_for(t, 1)``, ``await shield(t)``, ``await gather(*tasks)``), inside timeout
    blocks at most, their reference keys (``*tasks`` for a group); otherwise None."""
    found: Set[str] = set()
    stack: List[cst.CSTNode] = list(children(suite))
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Await):
            keys = awaited_keys(current.expression, vocabulary)
            if keys is None:
                return None
            found |= keys
            continue
        if isinstance(current, cst.With) and current.asynchronous:
            if not all(vocabulary.is_timeout_manager(item.item) for item in current.items):
                return None
            stack.extend(statements(current.body))
            continue
        if isinstance(current, (cst.For, cst.CompFor)) and current.asynchronous:
            return None
        stack.extend(children_run_here(current))
    return found or None


def awaited_keys(expression: cst.BaseExpression, vocabulary: Vocabulary) -> Optional[Set[str]]:
    """The keys of the existing tasks or futures an awaited expression waits for (``t``,
    ``wait_for(t, 1)``, ``shield(t)``, ``gather(a, *tasks)``), or None for anything else."""
    key = reference_key(expression)
    if key is not None:
        return {key}
    if not (isinstance(expression, cst.Call) and expression.args):
        return None
    bindings = vocabulary.bindings
    if bindings.resolves_to(expression.func, WAIT_FOR | SHIELD):
        first = expression.args[0]
        inner = reference_key(first.value)
        return {inner} if inner is not None and not first.star else None
    if bindings.resolves_to(expression.func, GATHER):
        keys = set()
        for argument in expression.args:
            if argument.keyword is not None:
                continue  # return_exceptions=...
            inner = reference_key(argument.value)
            if inner is None or argument.star == "**":
                return None
            keys.add(f"*{inner}" if argument.star == "*" else inner)
        return keys or None
    return None


class Preparation(NamedTuple):
    """What a function did, before some point, to tasks and futures it awaits later."""

    cancelled: FrozenSet[str]  # keys whose cancel() was requested
    completed: FrozenSet[str]  # keys already done: awaiting them cannot suspend


def prepared_before(scope: Scope, stop: cst.CSTNode, judged: cst.CSTNode) -> Preparation:
    """Scan the function in source order up to ``stop``. Cancelled: ``t.cancel()``,
    ``loop.call_soon(t.cancel)`` (a bound ``cancel`` handed to a call), ``self.close()`` where a
    method of the class cancels ``self.t``, and ``for t in tasks: t.cancel()`` (then the group
    ``*tasks`` and every later loop variable over it). Completed: ``fut.set_result(...)``/
    ``set_exception(...)``, ``cancel()`` of a plain future the function created (it is done at
    once), ``await gather(...)`` and ``await wait(tasks)`` without a timeout (every task in them
    is done), except an await of ``judged``, the body whose awaits are in question."""
    cancelled: Set[str] = set()
    completed: Set[str] = set()
    if scope.function is None:
        return Preparation(frozenset(), frozenset())
    plain_futures: Set[str] = set()
    bindings = scope.vocabulary.bindings
    in_question = {id(node) for node in descendants(judged) if isinstance(node, cst.Await)}
    for node in descendants(scope.function):  # in source order
        if node is stop:
            break
        if isinstance(node, cst.Assign) and creates_plain_future(node.value, bindings):
            plain_futures.update(filter(None, (reference_key(t.target) for t in node.targets)))
        elif isinstance(node, cst.For):
            target, group = reference_key(node.target), reference_key(node.iter)
            if target is None or group is None:
                continue
            if f"*{group}" in cancelled:
                cancelled.add(target)
            if f"*{group}" in completed:
                completed.add(target)
            if any(reference_key(r) == target for r in _cancel_receivers(node.body)):
                cancelled.add(f"*{group}")
        elif isinstance(node, cst.Await) and id(node) not in in_question:
            completed |= _completed_by_waiting(node.expression, bindings)
        elif isinstance(node, cst.Call):
            for receiver in _cancel_receivers(node, nested=False):
                key = reference_key(receiver)
                if key is not None:
                    cancelled.add(key)
                    if key in plain_futures:
                        completed.add(key)
            receiver = method_receiver(node, COMPLETES)
            if receiver is not None and reference_key(receiver) is not None:
                completed.add(reference_key(receiver))  # type: ignore[arg-type]
            cancelled |= scope.context.cancelled_by_method(node.func, scope.owner_class)
    return Preparation(frozenset(cancelled), frozenset(completed))


def _cancel_receivers(node: cst.CSTNode, nested: bool = True) -> Iterator[cst.BaseExpression]:
    """What ``node`` (or, if ``nested``, any call inside it) requests the cancellation of:
    ``t.cancel()``, or a bound ``t.cancel`` handed to a call (``loop.call_soon(t.cancel)``)."""
    for current in descendants(node) if nested else (node,):
        receiver = method_receiver(current, CANCELS)
        if receiver is not None:
            yield receiver
        elif isinstance(current, cst.Call):
            for argument in current.args:
                value = argument.value
                if isinstance(value, cst.Attribute) and value.attr.value == "cancel":
                    yield value.value


def creates_plain_future(value: cst.BaseExpression, bindings: Bindings) -> bool:
    """``loop.create_future()`` or ``asyncio.Future()``: a future no coroutine drives."""
    return isinstance(value, cst.Call) and (
        method_receiver(value, ("create_future",)) is not None
        or bindings.resolves_to(value.func, FUTURES)
    )


def _completed_by_waiting(expression: cst.BaseExpression, bindings: Bindings) -> Set[str]:
    """The tasks that are done once this awaited expression returns."""
    if not isinstance(expression, cst.Call):
        return set()
    if bindings.resolves_to(expression.func, GATHER):
        keys = set()
        for argument in expression.args:
            key = reference_key(argument.value) if argument.keyword is None else None
            if key is not None:
                keys.add(f"*{key}" if argument.star == "*" else key)
        return keys
    if bindings.resolves_to(expression.func, WAIT) and expression.args:
        bounded = any(
            argument.keyword is not None and argument.keyword.value in ("timeout", "return_when")
            for argument in expression.args
        )
        key = reference_key(expression.args[0].value)
        return {f"*{key}"} if key is not None and not bounded else set()
    return set()


def awaits_only_cancelled(body: cst.CSTNode, stop: cst.CSTNode, scope: Scope) -> bool:
    """Does ``body`` await only tasks that the function cancelled before ``stop``?"""
    awaited = awaited_references(body, scope.vocabulary)
    return awaited is not None and awaited <= prepared_before(scope, stop, body).cancelled


def awaits_only_completed(body: cst.CSTNode, stop: cst.CSTNode, scope: Scope) -> bool:
    """Does ``body`` await only tasks and futures already done before ``stop``?"""
    awaited = awaited_references(body, scope.vocabulary)
    return awaited is not None and awaited <= prepared_before(scope, stop, body).completed


def _end_of_body(node: TryNode) -> cst.CSTNode:
    """Where a try body ends, for a scan in source order: its first clause, else what follows."""
    if node.handlers:
        return node.handlers[0]
    return node.orelse or node.finalbody or node


class TrySite:
    """One ``try`` statement in an async scope: what every handler of it shares."""

    def __init__(
        self, node: TryNode, scope: Scope, context: ModuleContext, in_timeout_block: bool
    ) -> None:
        self.node = node
        self.scope = scope
        self.context = context
        self.in_timeout_block = in_timeout_block  # inside `async with asyncio.timeout()`, same function

    @cached_property
    def catches(self) -> List[Catch]:
        return [self.scope.vocabulary.catch_of(handler.type) for handler in self.node.handlers]

    @cached_property
    def body_awaits(self) -> bool:
        """The try body can suspend the task, so its cancellation can arrive there: it has a
        cancellation point that does not merely await tasks or futures already done."""
        return has_cancellation_point(
            self.node.body, self.scope.vocabulary.shields
        ) and not awaits_only_completed(self.node.body, _end_of_body(self.node), self.scope)

    @property
    def catches_cancellation(self) -> bool:
        """Some clause of this ``try`` catches the cancellation."""
        return any(catch.catches_cancellation for catch in self.catches)


class WithSite:
    """One ``with`` statement in an async scope."""

    def __init__(self, node: cst.With, scope: Scope, context: ModuleContext) -> None:
        self.node = node
        self.scope = scope
        self.context = context

    @cached_property
    def suppression(self) -> Optional[Tuple[Catch, List[cst.BaseExpression]]]:
        """What its suppressing context managers swallow, or None if none suppresses."""
        return self.scope.vocabulary.suppression_of(self.node)

    @cached_property
    def body_awaits(self) -> bool:
        """As for a try body: a cancellation point that can suspend the task."""
        return has_cancellation_point(
            self.node.body, self.scope.vocabulary.shields
        ) and not awaits_only_completed(self.node.body, self.node, self.scope)

    @cached_property
    def awaits_cancelled_child(self) -> bool:
        """``t.cancel()`` then ``with suppress(CancelledError): await t``."""
        return awaits_only_cancelled(self.node.body, self.node, self.scope)

    @property
    def in_main_coroutine(self) -> bool:
        return self.scope.in_main_coroutine

    def suppressing_items(self) -> List[cst.WithItem]:
        vocabulary = self.scope.vocabulary
        return [
            item
            for item in self.node.items
            if isinstance(item.item, cst.Call)
            and vocabulary.bindings.resolves_to(item.item.func, vocabulary.suppressors)
        ]

    def cancellation_suppressing_items(self) -> List[cst.WithItem]:
        """The suppressors of this ``with`` (``contextlib.suppress`` in any spelling, or a
        configured one) whose own arguments include cancellation: ``CancelledError`` in any
        spelling (or a configured cancellation exception), or ``BaseException``."""
        vocabulary = self.scope.vocabulary
        return [
            item
            for item in self.suppressing_items()
            if any(
                vocabulary.catch_of(argument.value).catches_cancellation
                for argument in item.item.args  # type: ignore[attr-defined]
            )
        ]


# Where a `raise` sits inside a handler, as far as a bare `raise` there is concerned.
class RaisePlace(NamedTuple):
    node: cst.Raise
    # DIRECT: a bare `raise` there re-raises the handler's exception; NESTED_HANDLER: it is in an
    # inner `except` clause and re-raises the inner exception; NESTED_FINALLY: it is in an inner
    # `finally` and re-raises whatever is in flight there.
    where: str
    # The innermost inner `try` and `except` clause of the handler around the raise, if any.
    inner_try: Optional[TryNode]
    inner_clause: Optional[Handler]


DIRECT, NESTED_HANDLER, NESTED_FINALLY = "direct", "handler", "finally"


def raises_in_handler(handler: Handler) -> Iterator[RaisePlace]:
    """Every ``raise`` in the handler's body, not in nested scopes, and where it sits."""
    Pending = Tuple[cst.CSTNode, str, Optional[TryNode], Optional[Handler]]
    stack: List[Pending] = [(child, DIRECT, None, None) for child in children(handler.body)]
    while stack:
        node, where, inner_try, clause = stack.pop()
        if isinstance(node, cst.Raise):
            yield RaisePlace(node, where, inner_try, clause)
            continue
        if is_nested_scope(node):
            continue
        if isinstance(node, (cst.Try, cst.TryStar)):
            for block_kind, suite, owner in blocks(node):
                if block_kind is BlockKind.HANDLER:
                    place: Tuple[str, Optional[TryNode], Optional[Handler]] = (
                        NESTED_HANDLER, node, owner,  # type: ignore[assignment]
                    )
                elif block_kind is BlockKind.FINALLY:
                    inside = where if where == NESTED_HANDLER else NESTED_FINALLY
                    place = (inside, inner_try, clause)
                else:
                    place = (where, inner_try, clause)
                stack.extend((child, *place) for child in children(suite))
            continue
        stack.extend((child, where, inner_try, clause) for child in children(node))


class HandlerSite:
    """One ``except`` clause, with the facts that the rules ask about it, computed lazily."""

    def __init__(self, try_site: TrySite, index: int) -> None:
        self.try_site = try_site
        self.index = index
        self.node: Handler = try_site.node.handlers[index]
        self.catch = try_site.catches[index]

    @property
    def scope(self) -> Scope:
        return self.try_site.scope

    @property
    def context(self) -> ModuleContext:
        return self.try_site.context

    @property
    def vocabulary(self) -> Vocabulary:
        return self.try_site.scope.vocabulary

    @property
    def is_star(self) -> bool:
        return isinstance(self.node, cst.ExceptStarHandler)

    @property
    def bound_name(self) -> Optional[str]:
        """The name the clause binds its exception to (``except X as name``), if any."""
        return bound_name(self.node)

    @cached_property
    def catches_only_cancellation(self) -> bool:
        """The clause names cancellation spellings only (so a bare ``raise`` added to it can
        re-raise nothing else)."""
        vocabulary = self.vocabulary
        written = self.node.type
        return written is not None and all(
            vocabulary.is_cancelled_error(single)
            for single in vocabulary.bindings.exception_types(written)
        )

    @cached_property
    def shielded(self) -> bool:
        """An earlier clause of the same try already catches cancellation: this one never sees it."""
        return any(
            catch.catches_every_cancellation for catch in self.try_site.catches[: self.index]
        )

    @cached_property
    def paths(self) -> HandlerPaths:
        function = self.scope.function
        in_async_generator = (
            function is not None and function.asynchronous is not None and is_generator(function)
        )
        return analyze_handler(
            self.node, self.vocabulary, in_async_generator, self.catch.catches_cancellation
        )

    @cached_property
    def raises(self) -> List[RaisePlace]:
        """Every ``raise`` statement of the handler, and where it sits."""
        return list(raises_in_handler(self.node))

    @property
    def in_main_coroutine(self) -> bool:
        """In the coroutine that ``asyncio.run`` runs: nobody but the runner awaits it."""
        return self.scope.in_main_coroutine

    @cached_property
    def awaits_cancelled_child(self) -> bool:
        """The child-cancel idiom: ``t.cancel()`` earlier in the function, then a try body that
        only awaits ``t`` (the same name or attribute chain), optionally under a timeout block.
        The handler then expects ``t``'s cancellation; CAN110 (opt-in) reports what it risks."""
        return awaits_only_cancelled(
            self.try_site.node.body, _end_of_body(self.try_site.node), self.scope
        )

    @cached_property
    def defers_reraise(self) -> bool:
        """The handler keeps the exception (``errors.append(exc)``, ``error = exc``) and the
        function raises what it kept (``raise error``, ``raise errors[0]``): nothing is lost."""
        bound = self.bound_name
        if bound is None:
            return False
        kept = set()
        for node in descendants(self.node):
            receiver = method_receiver(node, ("append", "add", "put_nowait"))
            if (
                receiver is not None
                and len(node.args) == 1  # type: ignore[attr-defined]
                and isinstance(node.args[0].value, cst.Name)  # type: ignore[attr-defined]
                and node.args[0].value.value == bound  # type: ignore[attr-defined]
            ):
                kept.add(dotted_name(receiver))
            elif (
                isinstance(node, cst.Assign)
                and isinstance(node.value, cst.Name)
                and node.value.value == bound
            ):
                kept.update(dotted_name(target.target) for target in node.targets)
        kept.discard(None)
        function = self.scope.function
        if not kept or function is None:
            return False
        # A group built of what was kept keeps it too: `group = BaseExceptionGroup("", errors)`.
        assignments = [node for node in descendants(function) if isinstance(node, cst.Assign)]
        grew = True
        while grew:
            grew = False
            for node in assignments:
                if self._a_group_of(node.value, kept):
                    for target in node.targets:
                        name = dotted_name(target.target)
                        if name is not None and name not in kept:
                            kept.add(name)
                            grew = True
        for node in descendants(function):
            if isinstance(node, cst.Raise) and node.exc is not None:
                raised = node.exc.value if isinstance(node.exc, cst.Subscript) else node.exc
                if dotted_name(raised) in kept or self._a_group_of(raised, kept):
                    return True
        return False

    def _a_group_of(self, value: cst.BaseExpression, kept: Set[Optional[str]]) -> bool:
        """``BaseExceptionGroup("...", errors)`` (or ``ExceptionGroup``) of what was kept,
        directly or in a group nested in it."""
        return any(member in kept for member in self.vocabulary.group_members(value))

    @cached_property
    def hands_on_exception(self) -> bool:
        """The handler hands what it caught on, before anything else can end it: gives the
        exception to a future (``fut.set_exception(exc)``), wraps it in an outcome that its
        consumer unwraps (``results.append(Error(exc))``, outcome's ``Error``), or cancels the
        future that this function resolves on its other paths (``future.cancel()`` where it
        also calls ``future.set_result(...)``). Whoever awaits that future or unwraps that
        outcome receives the cancellation."""
        for statement in statements(self.node.body):
            for small in small_statements(statement):
                if isinstance(small, cst.Expr) and any(
                    self._hands_on(call) for call in (small.value, *descendants(small.value))
                ):
                    return True
            if not isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                return False  # a branch or a loop first: some path may not get there
        return False

    def _hands_on(self, call: cst.CSTNode) -> bool:
        if not isinstance(call, cst.Call):
            return False
        if not call.args:
            receiver = method_receiver(call, ("cancel",))
            return receiver is not None and reference_key(receiver) in self._resolved_futures
        bound = self.bound_name
        if bound is None or len(call.args) != 1 or dotted_name(call.args[0].value) != bound:
            return False
        return method_receiver(call, ("set_exception",)) is not None or (
            self.vocabulary.bindings.resolves_to(call.func, OUTCOME_ERRORS)
        )

    @cached_property
    def _resolved_futures(self) -> FrozenSet[str]:
        """The futures whose result this function sets (``future.set_result(...)``)."""
        function = self.scope.function
        if function is None:
            return frozenset()
        return frozenset(
            key
            for node in descendants(function)
            for receiver in (method_receiver(node, ("set_result", "set_exception")),)
            if receiver is not None
            for key in (reference_key(receiver),)
            if key is not None
        )

    @cached_property
    def sees_cancellation(self) -> bool:
        """The task's cancellation can arrive in the try body and reach this clause."""
        return self.catch.catches_cancellation and not self.shielded and self.try_site.body_awaits

    @cached_property
    def swallows_cancellation(self) -> bool:
        """Some path lets a cancellation that reached this clause end here, unsanctioned."""
        return (
            self.sees_cancellation
            and bool(self.paths.swallowing)
            and not self.in_main_coroutine
            and not self.defers_reraise
            and not self.hands_on_exception
        )


class FunctionSite:
    """One ``def`` or ``async def``, in any scope: for the rules that judge a whole function
    (what it raises, what an ``__exit__`` does)."""

    def __init__(self, node: cst.FunctionDef, scope: Scope) -> None:
        self.node = node
        self.scope = scope  # the function's own scope

    @property
    def context(self) -> ModuleContext:
        return self.scope.context

    @property
    def vocabulary(self) -> Vocabulary:
        return self.scope.vocabulary

    @property
    def is_method(self) -> bool:
        """Defined directly in a class body."""
        parent = self.scope.parent
        return parent is not None and parent.function is None and parent.owner_class is not None

    @property
    def exit_exception_names(self) -> FrozenSet[str]:
        """For a class's ``__exit__``/``__aexit__``, its parameters that hold the exception type
        and the exception (``exc_type``, ``exc_val``); nothing for another function."""
        if not (self.is_method and self.node.name.value in EXIT_METHODS):
            return frozenset()
        return frozenset(positional_parameters(self.node)[1:3])



def positional_parameters(function: cst.FunctionDef) -> List[str]:
    parameters = function.params
    return [p.name.value for p in (*parameters.posonly_params, *parameters.params)]


Site = Union[HandlerSite, TrySite, WithSite, FunctionSite]


class ModuleSites(NamedTuple):
    context: ModuleContext
    try_sites: List[TrySite]
    with_sites: List[WithSite]
    function_sites: List[FunctionSite]

    def handler_sites(self) -> Iterator[HandlerSite]:
        for try_site in self.try_sites:
            for index in range(len(try_site.node.handlers)):
                yield HandlerSite(try_site, index)


def collect_sites(context: ModuleContext) -> ModuleSites:
    """The one traversal: the sites of every async scope of the module, and every function."""
    collector = _SiteCollector(context)
    collector.walk(context.module.body, Scope(context), False)
    return ModuleSites(
        context, collector.try_sites, collector.with_sites, collector.function_sites
    )


class _SiteCollector:
    """Statements only, scope by scope, pruned of everything else."""

    def __init__(self, context: ModuleContext) -> None:
        self.context = context
        self.try_sites: List[TrySite] = []
        self.with_sites: List[WithSite] = []
        self.function_sites: List[FunctionSite] = []

    def walk(self, block: Iterable[Statement], scope: Scope, in_timeout: bool) -> None:
        index = self.context.call_index
        for statement in block:
            if index is not None:
                index.record(
                    header_expressions(statement), scope.function, scope.owner_class,
                    in_timeout, scope.vocabulary,
                )
            if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                if scope.function is not None:
                    scope.record_bindings(statement)
                continue
            inner, timed = scope, in_timeout
            if isinstance(statement, cst.FunctionDef):
                is_async = self.context.is_coroutine(statement)
                inner = Scope(self.context, statement, is_async, scope, scope.owner_class)
                self.function_sites.append(FunctionSite(statement, inner))
                timed = False
            elif isinstance(statement, cst.ClassDef):
                inner = Scope(self.context, None, False, scope, statement)
                timed = False
            elif isinstance(statement, (cst.Try, cst.TryStar)) and scope.is_async:
                self.try_sites.append(TrySite(statement, scope, self.context, in_timeout))
            elif isinstance(statement, cst.With):
                if scope.is_async:
                    self.with_sites.append(WithSite(statement, scope, self.context))
                timed = in_timeout or scope.vocabulary.sets_deadline(statement)
            for block in blocks(statement):
                self.walk(statements(block.suite), inner, timed)
