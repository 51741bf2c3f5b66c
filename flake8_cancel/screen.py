"""The screen: which statements hold a site that an enabled rule could report, found on
CPython's ``ast`` before anything is parsed by libcst.

The gate (gate.py) is a text search; the screen runs on the files it lets through, on the tree
that flake8 hands the plugin (the command line parses one anyway). A module, or a top-level
statement (a method, for a class), without a *candidate* site for any enabled rule never
reaches libcst (regions.py).

Each rule declares its candidates next to its gate (``Rule.screen``), in the words of this
module: ``handler(Named.CANCELLATION)`` is an ``except`` clause, in an async function, that may
name the cancellation, of a ``try`` whose body awaits. A candidate is only a necessary condition
of a finding, and the screen never decides one: it must let every site through that the rule
could report, so each test here is looser than the rule's own. A name counts by its last part
(``asyncio.CancelledError`` and ``futures.CancelledError`` alike); a name bound anywhere in the
module (``Stop = asyncio.CancelledError``, ``from asyncio import CancelledError as Stop``,
``ERRORS = (OSError, CancelledError)``) counts for what it may be bound to; an expression of
another shape counts as anything; any ``await``, ``async for`` or ``async with`` outside a nested
scope is a cancellation point, shielded or not.
"""

from __future__ import annotations

import ast
import enum
import re
from typing import (
    Callable, Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple, Union,
)

from flake8_cancel.modules import always_raises
from flake8_cancel.names import (
    CONTEXT_MANAGERS, EXIT_METHODS, FAILS, HANDS_BACK, NAME_WORD as _WORD, cleanup_words,
    last_names,
)
from flake8_cancel.settings import Settings
from flake8_cancel.syntax import may_hold_generator_coroutines

# -- the vocabulary of the declarations ------------------------------------------------------------
HANDLER, TRY, WITH, RAISE, EXIT, FUNCTION = "handler", "try", "with", "raise", "exit", "function"


class Named(enum.Enum):
    """What a clause, a suppress() or a raise may name, or a handler call: each stands for a
    set of last parts of names under a run's settings (``Words``)."""

    CANCELLATION = "cancellation"  # CancelledError, get_cancelled_exc_class(), configured ones
    BASE_EXCEPTION = "BaseException"
    EXCEPTION = "Exception"
    TIMEOUT = "TimeoutError"
    FUTURES_CANCELLED = "futures.CancelledError"  # concurrent.futures' (last part CancelledError)
    BARE = "bare"  # a bare `except:`, which names nothing and catches everything
    ANY = "any"  # any clause, any suppress() argument; raises: any raise statement at all
    # raises: what the handler did not catch: `raise X`, or a bare `raise` in a handler inside it
    OTHER = "other"
    CLEANUP = "cleanup"  # calls: close(), release(), cancel()... and the configured methods,
    # a name with one of their words in it (`adb_close()`), `fail()`, a hand-back to a pool


class Candidate(NamedTuple):
    """A site that a rule could report: every field is a necessary condition."""

    # HANDLER, TRY, WITH or RAISE, in a coroutine function (not in a nested def or class); EXIT:
    # a function named ``__exit__``/``__aexit__`` or decorated ``@contextmanager``, async or not;
    # FUNCTION: any function
    site: str
    # the clause, or a suppress() item, may name one of these (for a with: none, any with)
    names: FrozenSet[Named] = frozenset()
    body_awaits: bool = True  # the try's (or with's) body has a cancellation point
    raises: Optional[Named] = None  # the handler raises: ANY raise, or a new CANCELLATION
    calls: Optional[Named] = None  # the handler calls a method of this group (CLEANUP)
    timed: bool = False  # the code may run under a deadline (deadlines.py)
    finally_exits: bool = False  # the try's finally holds a return, break or continue
    # every path of the handler may end propagating: its last statement may raise, or call
    # something that never returns or re-raises what it is given (flow.PROPAGATING_EXITS)
    ends_propagating: bool = False
    # some path of the handler may end without propagating (flow.SWALLOWING_EXITS): it holds a
    # return, break, continue or yield, or its end may be reached (it does not end raising)
    swallows: bool = False


Declaration = Union[Candidate, Tuple[Candidate, ...]]


def handler(
    *names: Named, body_awaits: bool = True, raises: Optional[Named] = None,
    calls: Optional[Named] = None, timed: bool = False, ends_propagating: bool = False,
    swallows: bool = False,
) -> Candidate:
    """An ``except`` clause that may name one of ``names`` (BARE: a bare ``except:``)."""
    return Candidate(
        HANDLER, frozenset(names), body_awaits, raises, calls, timed,
        ends_propagating=ends_propagating, swallows=swallows,
    )


def suppressing_with(*names: Named) -> Candidate:
    """A ``with`` one of whose items is a suppressor (``contextlib.suppress``, a configured one)
    given one of ``names``, whose body awaits."""
    return Candidate(WITH, frozenset(names))


def with_statement(body_awaits: bool = True) -> Candidate:
    """Any ``with`` (whose body awaits, if ``body_awaits``)."""
    return Candidate(WITH, body_awaits=body_awaits)


def try_statement(body_awaits: bool = True, finally_exits: bool = False) -> Candidate:
    """A ``try`` (whose ``finally`` holds a return, break or continue, if ``finally_exits``)."""
    return Candidate(TRY, body_awaits=body_awaits, finally_exits=finally_exits)


def raising(*names: Named) -> Candidate:
    """A ``raise`` of something that may name one of ``names``."""
    return Candidate(RAISE, frozenset(names), body_awaits=False)


def exit_function() -> Candidate:
    """A context manager's exit: an ``__exit__``/``__aexit__`` method (with the methods of its
    class it calls, which the regions keep), or a ``@contextmanager``/``@asynccontextmanager``
    function."""
    return Candidate(EXIT, body_awaits=False)


def any_function() -> Candidate:
    """Any ``def`` or ``async def``: the loosest candidate of a rule that judges functions."""
    return Candidate(FUNCTION, body_awaits=False)


def candidates_of(declaration: Declaration) -> Tuple[Candidate, ...]:
    return (declaration,) if isinstance(declaration, Candidate) else declaration


# -- what the symbols mean under a run's settings ------------------------------------------------
def _last_parts(qualified: Iterable[str]) -> Set[str]:
    return {name[:-2] if name.endswith("()") else name for name in last_names(qualified)}


class Words(NamedTuple):
    """The last parts of names that each symbol stands for, under one run's settings."""

    by_symbol: Dict[Named, FrozenSet[str]]
    suppressors: FrozenSet[str]
    timeout_managers: FrozenSet[str]
    cleanup_words: FrozenSet[str]  # the words of the cleanup methods (`close` in `adb_close`)

    @classmethod
    def for_settings(cls, settings: Settings) -> "Words":
        cancellation = {"CancelledError", "get_cancelled_exc_class"} | _last_parts(
            settings.cancelled_names
        )
        return cls(
            {
                Named.CANCELLATION: frozenset(cancellation),
                Named.BASE_EXCEPTION: frozenset({"BaseException"}),
                Named.EXCEPTION: frozenset({"Exception"}),
                Named.TIMEOUT: frozenset({"TimeoutError", "TooSlowError"}),
                Named.FUTURES_CANCELLED: frozenset({"CancelledError"}),
                Named.CLEANUP: frozenset(_last_parts(settings.cleanup_methods)),
            },
            frozenset(_last_parts(settings.suppressors)),
            # trio's and anyio's deadline scopes, entered with a plain `with`
            frozenset(_last_parts(settings.timeout_managers) | {"fail_after", "fail_at"}),
            cleanup_words(_last_parts(settings.cleanup_methods)),
        )


# -- the screen ------------------------------------------------------------------------------------
_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_TRY = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
_WITH = (ast.With, ast.AsyncWith)
_ANYTHING = "*"  # what an expression of no known shape may name
_CONTEXT_MANAGER_NAMES = frozenset(last_names(CONTEXT_MANAGERS))


class Screen:
    """The candidates of a set of rules, looked for in one walk over a module's statements."""

    def __init__(self, declarations: Iterable[Declaration], settings: Settings) -> None:
        self.words = Words.for_settings(settings)
        self.candidates = list(
            dict.fromkeys(c for declaration in declarations for c in candidates_of(declaration))
        )
        self.looks_for_exits = any(candidate.site == EXIT for candidate in self.candidates)
        self.every_function = any(candidate.site == FUNCTION for candidate in self.candidates)

    def places_with_candidates(
        self, tree: ast.Module, source: str, imported: str = ""
    ) -> Dict[Place, bool]:
        """Where the candidates are: each top-level statement that holds one, and for a class,
        each statement of its body that does; for each, whether a candidate there asks who
        calls its function (``timed``: a deadline may be set by a caller). ``imported``: what
        the names the module imports from its project stand for (gate.GateText.imported)."""
        return _ModuleScreen(self, tree, source, imported).run()


class Place(NamedTuple):
    """A top-level statement (its index in the module's body) or, for a class, a statement of
    the class's body (its index there too)."""

    statement: int
    member: Optional[int] = None


class _Scope(NamedTuple):
    function: Optional[ast.AST]  # the innermost def; None at module level or in a class body
    is_async: bool
    in_timeout: bool  # inside `async with <timeout manager>(...)` of the same function


class _ModuleScreen:
    """One module: its aliases, and the walk."""

    def __init__(self, screen: Screen, tree: ast.Module, source: str, imported: str) -> None:
        self.screen = screen
        self.words = screen.words
        self.tree = tree
        self.source = source
        self.bound = _bindings(tree)
        # What names imported from the project stand for (`ERRORS` of `.const`), as tuples of
        # the names their definitions hold; a definition that cannot be read defines nothing,
        # as for the analysis. A dotted use (`const.ERRORS`) is looked up by its last part.
        self.imported: Bindings = {}
        for definition in ast.parse(imported).body if imported else ():
            assert isinstance(definition, ast.Assign)
            for target in definition.targets:
                name = target.attr if isinstance(target, ast.Attribute) else target.id  # type: ignore[attr-defined]
                self.imported.setdefault(name, []).append(definition.value)
                if isinstance(target, ast.Name):
                    self.bound.setdefault(name, []).append(definition.value)
        # A generator may be a coroutine (`@asyncio.coroutine`, or run by `wait_for`).
        self.generators_may_be_coroutines = may_hold_generator_coroutines(source)
        self._meanings: Dict[str, FrozenSet[str]] = {}
        self._timed: Optional[Set[str]] = None
        self._awaits: Dict[int, bool] = {}  # id() of a block -> has a cancellation point

    def run(self) -> Dict[Place, bool]:
        found: Dict[Place, bool] = {}
        outside = _Scope(None, False, False)  # the module, or a class body
        for index, statement in enumerate(self.tree.body):
            pieces = (
                [(Place(index, member), inner) for member, inner in enumerate(statement.body)]
                if isinstance(statement, ast.ClassDef) else [(Place(index), statement)]
            )
            for place, piece in pieces:
                holds, asks_callers = self._judge(piece, outside)
                if holds:
                    found[place] = asks_callers
        return found

    def _judge(self, statement: ast.stmt, scope: _Scope) -> Tuple[bool, bool]:
        """Does the statement hold a candidate, and does one of them ask who calls its
        function (a deadline set by a caller, ``timed``)?"""
        holds = False
        for node, where in _statements(statement, scope, self._opens_timeout, self._is_coroutine):
            if isinstance(node, _FUNCTIONS):
                holds = holds or self.screen.every_function or (
                    self.screen.looks_for_exits and self._is_exit(node)
                )
                continue
            if isinstance(node, ast.Raise):
                holds = holds or where.is_async and node.exc is not None and any(
                    candidate.site == RAISE and self._may_name(node.exc, candidate.names)
                    for candidate in self.screen.candidates
                )
                continue
            if not where.is_async or not isinstance(node, (*_TRY, *_WITH)):
                continue
            for candidate in self.screen.candidates:
                if self._holds(node, candidate, where):
                    if candidate.timed and not where.in_timeout:
                        return True, True
                    holds = True
        return holds, False

    def _is_coroutine(self, function: ast.AST) -> bool:
        """An ``async def``, or a generator that may be a generator-based coroutine."""
        if isinstance(function, ast.AsyncFunctionDef):
            return True
        return self.generators_may_be_coroutines and any(
            isinstance(node, (ast.Yield, ast.YieldFrom))
            for node in _run_here(function.body)  # type: ignore[attr-defined]
        )

    def _is_exit(self, function: ast.AST) -> bool:
        """An exit that may convert a cancellation: ``__exit__``/``__aexit__`` or a function
        decorated as a context manager, that raises (or, for the methods, passes what it is
        given to a method of its class, ``self.m(exc)``) and may test for the cancellation."""
        is_exit_method = function.name in EXIT_METHODS  # type: ignore[attr-defined]
        if not is_exit_method and not any(
            self._may_be(decorator, _CONTEXT_MANAGER_NAMES)
            for decorator in function.decorator_list  # type: ignore[attr-defined]
        ):
            return False
        own = list(_run_here(function.body))  # type: ignore[attr-defined]
        if is_exit_method:
            if any(
                isinstance(node, ast.Call) and node.args and _callee_name(node.func) is not None
                and isinstance(node.func, ast.Attribute)
                for node in own
            ):
                return True  # the method it calls is kept with it, and judged (regions.py)
        cancellation = self.words.by_symbol[Named.CANCELLATION]
        # A test for the cancellation names its class (names.Vocabulary.tests_cancellation):
        # a name bound to a constant or a call result counts for nothing here.
        return any(isinstance(node, ast.Raise) and node.exc is not None for node in own) and any(
            isinstance(node, (ast.Name, ast.Attribute))
            and not self._expression_meanings(node).isdisjoint(cancellation)
            for node in own
        )

    # -- a statement -----------------------------------------------------------------------------
    def _holds(self, statement: ast.stmt, candidate: Candidate, scope: _Scope) -> bool:
        if isinstance(statement, _TRY):
            return self._try_candidate(statement, candidate, scope)
        return self._with_candidate(statement, candidate)

    def _body_awaits(self, statement: ast.stmt) -> bool:
        body = statement.body  # type: ignore[attr-defined]
        known = self._awaits.get(id(body))
        if known is None:
            known = self._awaits[id(body)] = _has_cancellation_point(body)
        return known

    def _try_candidate(self, statement: ast.stmt, candidate: Candidate, scope: _Scope) -> bool:
        if candidate.site not in (HANDLER, TRY):
            return False
        if candidate.body_awaits and not self._body_awaits(statement):
            return False
        if candidate.site == TRY:
            finalbody = statement.finalbody  # type: ignore[attr-defined]
            return not candidate.finally_exits or _has_exit(finalbody)
        if not any(
            self._handler_candidate(clause, candidate)
            for clause in statement.handlers  # type: ignore[attr-defined]
        ):
            return False
        return not candidate.timed or scope.in_timeout or self._may_be_timed(scope.function)

    def _handler_candidate(self, clause: ast.ExceptHandler, candidate: Candidate) -> bool:
        if clause.type is None:
            if Named.BARE not in candidate.names and Named.ANY not in candidate.names:
                return False
        elif not self._may_name(clause.type, candidate.names):
            return False
        if candidate.raises is not None and not self._raises(clause.body, candidate.raises):
            return False
        if candidate.ends_propagating and not _may_end_propagating(clause.body):
            return False
        if candidate.swallows and not _may_swallow(clause.body):
            return False
        if candidate.calls is not None:
            return any(
                isinstance(node, ast.Call) and self._may_release(node.func)
                for node in _run_here(clause.body)
            )
        return True

    def _may_release(self, func: ast.expr) -> bool:
        """May a call of ``func`` release a resource, as CAN111 judges: a cleanup method, a
        name with a cleanup word in it (or ``fail``), a hand-back to a pool?"""
        if isinstance(func, ast.Attribute):
            name = func.attr
        elif isinstance(func, ast.Name):
            name = func.id
        else:
            return False
        if name in self.words.by_symbol[Named.CLEANUP] or name in HANDS_BACK:
            return True
        words = {word.lower() for word in _WORD.findall(name)}
        return FAILS in words or not words.isdisjoint(self.words.cleanup_words)

    def _with_candidate(self, statement: ast.stmt, candidate: Candidate) -> bool:
        if candidate.site != WITH:
            return False
        suppressing = not candidate.names or any(
            isinstance(item.context_expr, ast.Call)
            and self._may_be(item.context_expr.func, self.words.suppressors)
            and any(
                self._may_name(argument, candidate.names)
                for argument in (
                    *item.context_expr.args,
                    *(keyword.value for keyword in item.context_expr.keywords),
                )
            )
            for item in statement.items  # type: ignore[attr-defined]
        )
        return suppressing and (not candidate.body_awaits or self._body_awaits(statement))

    def _raises(self, body: List[ast.stmt], what: Named) -> bool:
        if what is Named.OTHER:
            return _may_raise_another(body)
        for node in _run_here(body):
            if isinstance(node, ast.Raise) and (
                what is Named.ANY
                or node.exc is not None and self._may_name(node.exc, frozenset({what}))
            ):
                return True
        return False

    def _opens_timeout(self, statement: ast.stmt) -> bool:
        return isinstance(statement, _WITH) and any(
            isinstance(item.context_expr, ast.Call)
            and self._may_be(item.context_expr.func, self.words.timeout_managers)
            for item in statement.items
        )

    def _may_be_timed(self, function: Optional[ast.AST]) -> bool:
        """May a deadline be set on the function by a caller (deadlines.py)?"""
        if self._timed is None:
            self._timed = self._timed_names()
        return isinstance(function, _FUNCTIONS) and function.name in self._timed

    def _timed_names(self) -> Set[str]:
        """The names of the functions that may run under a deadline, as deadlines.CallIndex
        finds them but by name alone (a method of one class counts for every function of its
        name): run by ``wait_for(f(...))`` (``self.f``, ``cls.f``), awaited in a timeout block,
        or awaited by such a function, transitively. The awaits of a function are searched in
        its text (with those of the functions nested in it)."""
        wait_for = "|".join(map(re.escape, aliases_of("wait_for", self.bound)))
        seeds = set(re.findall(rf"\b(?:{wait_for})[\s\\(]*\(\s*{_CALLEE}", self.source))
        for statement, scope in _statements_of(
            self.tree.body, self._opens_timeout, self._is_coroutine
        ):
            if scope.in_timeout:
                seeds.update(
                    _callee_name(node.value.func)
                    for node in _own_nodes(statement)
                    if isinstance(node, ast.Await) and isinstance(node.value, ast.Call)
                )
        awaits: Dict[str, Set[str]] = {}
        lines = self.source.splitlines(keepends=True)
        for function in _functions_and_methods(self.tree.body):
            text = "".join(lines[function.lineno - 1:function.end_lineno])
            awaited = re.findall(rf"\bawait\b[\s\\(]*{_CALLEE}", text)
            awaits.setdefault(function.name, set()).update(awaited)
        timed = set()
        pending = [name for name in seeds if name]
        while pending:
            name = pending.pop()
            if name not in timed:
                timed.add(name)
                pending.extend(awaits.get(name, ()))
        return timed

    # -- names -------------------------------------------------------------------------------------
    def _may_name(self, expression: ast.expr, symbols: FrozenSet[Named]) -> bool:
        """May ``expression`` (an except clause's type, a suppress() argument, what is raised)
        name something that one of ``symbols`` stands for?"""
        if Named.ANY in symbols:
            return True
        wanted = set()
        for symbol in symbols:
            wanted |= self.words.by_symbol.get(symbol, frozenset())
        return self._may_be(expression, wanted)

    def _may_be(self, expression: ast.expr, last_parts: Iterable[str]) -> bool:
        meanings = self._expression_meanings(expression)
        return _ANYTHING in meanings or not meanings.isdisjoint(last_parts)

    def _expression_meanings(self, expression: ast.expr) -> FrozenSet[str]:
        """The last parts of the names ``expression`` may stand for."""
        if isinstance(expression, ast.Name):
            return self._name_meanings(expression.id)
        if isinstance(expression, ast.Attribute):
            found = {expression.attr}
            for value in self.imported.get(expression.attr, ()):
                found |= _spelled(value)
            return frozenset(found)
        if isinstance(expression, ast.Call):
            return self._expression_meanings(expression.func)
        if isinstance(expression, (ast.Tuple, ast.List, ast.Set)):
            found: Set[str] = set()
            for element in expression.elts:
                found |= self._expression_meanings(element)
            return frozenset(found)
        if isinstance(expression, ast.Starred):
            return self._expression_meanings(expression.value)
        return frozenset({_ANYTHING})

    def _name_meanings(self, name: str) -> FrozenSet[str]:
        """The name itself, and what it may be bound to, followed through other names."""
        known = self._meanings.get(name)
        if known is None:
            found: Set[str] = set()
            pending = [name]
            while pending:  # each name once: aliases can refer to each other in a cycle
                current = pending.pop()
                if current in found:
                    continue
                found.add(current)
                for value in self.bound.get(current, ()):
                    if isinstance(value, str):
                        pending.append(value)
                    else:
                        pending.extend(self._value_names(value, found))
            known = self._meanings[name] = frozenset(found)
        return known

    def _value_names(self, value: ast.expr, found: Set[str]) -> List[str]:
        """The names an assigned value may stand for; what is not a name goes into ``found``."""
        if isinstance(value, ast.Name):
            return [value.id]
        if isinstance(value, ast.Call):
            return self._value_names(value.func, found)
        if isinstance(value, (ast.Tuple, ast.List, ast.Set)):
            return [name for element in value.elts for name in self._value_names(element, found)]
        if isinstance(value, ast.Starred):
            return self._value_names(value.value, found)
        found |= self._expression_meanings(value)
        return []


def _spelled(definition: ast.expr) -> Set[str]:
    """The last parts of the names that an imported definition (modules.py writes each as a
    tuple of qualified names, already followed) holds."""
    elements = definition.elts if isinstance(definition, ast.Tuple) else [definition]
    return {
        element.attr if isinstance(element, ast.Attribute)
        else element.id if isinstance(element, ast.Name) else _ANYTHING
        for element in elements
    }


def aliases_of(
    name: str, bound: Optional[Bindings] = None, tree: Optional[ast.Module] = None
) -> Set[str]:
    """``name`` and the names the module binds to it, anywhere, through other names
    (``wf = asyncio.wait_for``, ``from asyncio import wait_for as wf``); ``bound``: the module's
    bindings (``_bindings``), else found in ``tree``."""
    if bound is None:
        assert tree is not None
        bound = _bindings(tree)
    found = {name}
    grew = True
    while grew:
        grew = False
        for local, values in bound.items():
            if local not in found and any(_names_one_of(value, found) for value in values):
                found.add(local)
                grew = True
    return found


def _names_one_of(value: Union[str, ast.expr], names: Set[str]) -> bool:
    """Is the bound value one of ``names`` (by its last part)?"""
    if isinstance(value, str):
        return value in names
    if isinstance(value, ast.Name):
        return value.id in names
    return isinstance(value, ast.Attribute) and value.attr in names


Bindings = Dict[str, List[Union[str, ast.expr]]]


def _bindings(tree: ast.Module) -> Bindings:
    """Every name the module binds by an import or an assignment, anywhere, to what: an
    imported name (its last part) or an assigned expression."""
    bound: Bindings = {}
    for statement in _all_statements(tree.body):
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                if alias.name == "*":
                    continue
                if alias.asname is not None:
                    bound.setdefault(alias.asname, []).append(alias.name.rsplit(".", 1)[-1])
                elif isinstance(statement, ast.ImportFrom):
                    bound.setdefault(alias.name, []).append(alias.name)
        elif isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(statement.value)
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            if isinstance(statement.target, ast.Name):
                bound.setdefault(statement.target.id, []).append(statement.value)
    return bound


# A callee as deadlines.CallIndex resolves one: `f(`, `self.f(`, `cls.f(` (the name captured).
_CALLEE = r"(?:(?:self|cls)[\s\\]*\.[\s\\]*)?(\w+)[\s\\]*\("


def _callee_name(func: ast.expr) -> Optional[str]:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.attr if func.value.id in ("self", "cls") else None
    return None


def _functions_and_methods(body: List[ast.stmt]) -> Iterator[ast.AST]:
    """The module-level functions and the methods of module-level classes."""
    for statement in body:
        if isinstance(statement, _FUNCTIONS):
            yield statement
        elif isinstance(statement, ast.ClassDef):
            yield from (member for member in statement.body if isinstance(member, _FUNCTIONS))


def _statements_of(
    body: List[ast.stmt], opens_timeout, is_coroutine
) -> Iterator[Tuple[ast.stmt, "_Scope"]]:
    outside = _Scope(None, False, False)
    for statement in body:
        yield from _statements(statement, outside, opens_timeout, is_coroutine)


def _own_nodes(statement: ast.stmt) -> Iterator[ast.AST]:
    """The nodes a statement evaluates itself: not the statements of its blocks, nor nested
    scopes."""
    stack: List[ast.AST] = [
        child for child in ast.iter_child_nodes(statement) if not isinstance(child, ast.stmt)
    ]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _NESTED_SCOPES):
            stack.extend(ast.iter_child_nodes(node))


# -- walking -----------------------------------------------------------------------------------
_BLOCK_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _blocks(statement: ast.stmt) -> Iterator[List[ast.stmt]]:
    """The statement lists a compound statement holds."""
    kind = type(statement)
    fields = _BLOCK_FIELDS.get(kind)
    if fields is None:
        wanted = ("body", "orelse", "finalbody", "handlers", "cases")
        fields = _BLOCK_FIELDS[kind] = tuple(f for f in wanted if f in kind._fields)
    for field in fields:
        block = getattr(statement, field)
        if field in ("handlers", "cases"):
            yield from (clause.body for clause in block)
        elif block:
            yield block


def _all_statements(block: List[ast.stmt]) -> Iterator[ast.stmt]:
    stack = list(reversed(block))
    while stack:
        statement = stack.pop()
        yield statement
        for inner in _blocks(statement):
            stack.extend(reversed(inner))


def _statements(
    statement: ast.stmt,
    scope: _Scope,
    opens_timeout: Callable[[ast.stmt], bool],
    is_coroutine: Callable[[ast.AST], bool],
) -> Iterator[Tuple[ast.stmt, _Scope]]:
    """``statement`` and every statement inside it, each with its scope."""
    stack = [(statement, scope)]
    while stack:
        current, where = stack.pop()
        yield current, where
        if isinstance(current, _FUNCTIONS):
            inner = _Scope(current, is_coroutine(current), False)
        elif isinstance(current, ast.ClassDef):
            inner = _Scope(None, False, False)
        elif where.is_async and not where.in_timeout and opens_timeout(current):
            inner = where._replace(in_timeout=True)
        else:
            inner = where
        for block in _blocks(current):
            stack.extend((child, inner) for child in reversed(block))


def _run_here(block: List[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of the block, nested scopes not entered."""
    stack: List[ast.AST] = list(block)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _NESTED_SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _has_cancellation_point(block: List[ast.stmt]) -> bool:
    """An ``await``, ``async for``, ``async with`` or async comprehension outside nested scopes
    (shields and generator expressions are syntax.has_cancellation_point's to judge)."""
    for node in _run_here(block):
        # `yield from` suspends a generator-based coroutine
        if isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith, ast.YieldFrom)):
            return True
        if isinstance(node, ast.comprehension) and node.is_async:
            return True
    return False


def _may_end_propagating(block: List[ast.stmt]) -> bool:
    """May every path through the block end propagating an exception? Not when its last
    statement is a simple one that neither raises nor calls nor awaits (``return``, ``pass``,
    an assignment of a constant): the path through it falls off the end or returns."""
    last = block[-1]
    if not isinstance(last, _SIMPLE):
        return True
    return any(isinstance(node, _MAY_PROPAGATE) for node in _run_here([last]))


def _may_raise_another(block: List[ast.stmt]) -> bool:
    """Does the handler's block hold a raise that may raise what it did not catch: one that
    names an exception, or a bare ``raise`` inside a handler of its own (which raises that
    handler's exception)? A bare ``raise`` elsewhere in it raises what it caught."""
    stack: List[Tuple[ast.AST, bool]] = [(statement, False) for statement in block]
    while stack:
        node, in_inner_handler = stack.pop()
        if isinstance(node, ast.Raise) and (node.exc is not None or in_inner_handler):
            return True
        if isinstance(node, _NESTED_SCOPES):
            continue
        inner = in_inner_handler or isinstance(node, ast.ExceptHandler)
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))
    return False


def _may_swallow(block: List[ast.stmt]) -> bool:
    """May a path through the block end without propagating? Not when it holds no
    ``return``, ``break``, ``continue`` or ``yield`` (nested scopes aside) and ends raising on
    every path, as a handler ending in ``raise`` does."""
    if any(isinstance(node, _LEAVES) for node in _run_here(block)):
        return True
    return not always_raises(block, through_blocks=False)


_LEAVES = (ast.Return, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom)
_SIMPLE = (
    ast.Return, ast.Pass, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Delete,
    ast.Break, ast.Continue, ast.Global, ast.Nonlocal, ast.Import, ast.ImportFrom, ast.Raise,
    ast.Assert,
)
_MAY_PROPAGATE = (ast.Raise, ast.Call, ast.Await, ast.YieldFrom)


def _has_exit(block: List[ast.stmt]) -> bool:
    return any(isinstance(node, (ast.Return, ast.Break, ast.Continue)) for node in _run_here(block))
