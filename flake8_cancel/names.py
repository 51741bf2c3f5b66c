"""What each name means in a module, resolved from its imports and simple aliases.

A name is never guessed from its last attribute: ``foo.CancelledError`` is asyncio's only when
``foo`` is bound to ``asyncio`` (or ``asyncio.exceptions``) by an import. A name can have several
meanings at once (``try: from asyncio import timeout`` / ``except ImportError: from async_timeout
import timeout``), so resolution returns every qualified name it may stand for.

A name imported from another module of the same project (``from .const import ERRORS``) means
what its definition there means, resolved in that module's own imports: an alias, a tuple of
exception types, a function that never returns. ``Bindings`` asks for the definition through
``follow`` (modules.py reads the module); nothing here touches the filesystem.
"""

from __future__ import annotations

import builtins
import re
from functools import cached_property
from typing import (
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
)

import libcst as cst

from flake8_cancel.syntax import (
    BlockKind,
    Statement,
    blocks,
    dotted_name,
    small_statements,
    statements,
)

QualifiedNames = FrozenSet[str]
NOTHING: QualifiedNames = frozenset()

CANCELLED_ERROR: QualifiedNames = frozenset(
    {"asyncio.CancelledError", "asyncio.exceptions.CancelledError"}
)
# anyio's cancellation class is its backend's (asyncio's CancelledError, trio's Cancelled), asked
# for in the code itself: `except get_cancelled_exc_class():`. The call is named NAME().
ANYIO_CANCELLED_CLASS: QualifiedNames = frozenset(
    {"anyio.get_cancelled_exc_class()", "anyio._core._eventloop.get_cancelled_exc_class()"}
)
# trio's cancellation: level-triggered, delivered again at the next checkpoint of a cancelled scope.
TRIO_CANCELLED: QualifiedNames = frozenset(
    {"trio.Cancelled", "trio._core.Cancelled", "trio._core._exceptions.Cancelled"}
)
CANCELLATION_CLASSES: QualifiedNames = CANCELLED_ERROR | ANYIO_CANCELLED_CLASS | TRIO_CANCELLED
# Different classes from asyncio's since 3.8 (an Exception), or gone (asyncio.futures').
FUTURES_CANCELLED_ERROR: QualifiedNames = frozenset(
    {
        "concurrent.futures.CancelledError",
        "concurrent.futures._base.CancelledError",
        "asyncio.futures.CancelledError",
    }
)
BASE_EXCEPTION = "builtins.BaseException"
NORETURN_ANNOTATIONS: QualifiedNames = frozenset(
    {
        "typing.NoReturn",
        "typing.Never",
        "typing_extensions.NoReturn",
        "typing_extensions.Never",
    }
)
NEVER_RETURNING_FUNCTIONS: QualifiedNames = frozenset(
    {
        "sys.exit",
        "os._exit",
        "os.abort",
        "pytest.fail",
        "pytest.skip",
        "pytest.exit",
        "typing.assert_never",
        "typing_extensions.assert_never",
        # Raises the group's single exception, or MultipleExceptionError.
        "trio._util.raise_single_exception_from_group",
    }
)
# unittest's TestCase methods that always raise: `self.fail(...)`, `self.skipTest(...)`.
TEST_CASES: QualifiedNames = frozenset(
    {"unittest.TestCase", "unittest.IsolatedAsyncioTestCase", "unittest.case.TestCase"}
)
TEST_CASE_NEVER_RETURNING_METHODS = frozenset({"fail", "skipTest"})
EXCEPTION_GROUPS: QualifiedNames = frozenset(
    {
        "builtins.BaseExceptionGroup",
        "builtins.ExceptionGroup",
        "exceptiongroup.BaseExceptionGroup",
        "exceptiongroup.ExceptionGroup",
    }
)
# Context managers that catch what they expect (and fail otherwise), in tests.
EXPECTING: QualifiedNames = frozenset({"pytest.raises"})
SUPPRESSORS: QualifiedNames = frozenset({"contextlib.suppress"})
# Methods whose call in a handler releases a resource (CAN111).
CLEANUP_METHODS = frozenset(
    {
        "close", "aclose", "release", "cancel", "abort", "terminate", "kill", "disconnect",
        "shutdown", "unlink", "set_exception", "set_result",
    }
)
# A connection handed back to the pool or queue it was taken from releases it (CAN111).
HANDS_BACK = ("put", "put_nowait", "append", "appendleft")
# Failing a connection tears it down (`protocol.fail(code)`), when the handler then waits.
FAILS = "fail"
# The words of a name, for a cleanup word inside it (`adb_close`, `closeConnection`).
NAME_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# A context manager's exit (CAN113): these methods, and functions these decorators turn into one.
EXIT_METHODS = ("__exit__", "__aexit__")
CONTEXT_MANAGERS: QualifiedNames = frozenset(
    {"contextlib.contextmanager", "contextlib.asynccontextmanager"}
)


def cleanup_words(methods: Iterable[str]) -> FrozenSet[str]:
    """The words that make a called name a release when it holds one (``close`` in
    ``adb_close``): the cleanup methods' names without an underscore, lower-cased (CAN111)."""
    return frozenset(name.lower() for name in methods if "_" not in name)
# asyncio's own TimeoutError: a class of its own before Python 3.11, the builtin since.
ASYNCIO_TIMEOUT_ERROR: QualifiedNames = frozenset(
    {"asyncio.TimeoutError", "asyncio.exceptions.TimeoutError"}
)
BUILTIN_TIMEOUT_ERROR = "builtins.TimeoutError"
# What trio's fail_after/fail_at raise outside their block (anyio's raise the builtin).
TRIO_TIMEOUT_ERROR: QualifiedNames = frozenset({"trio.TooSlowError", "trio._timeouts.TooSlowError"})
TIMEOUT_ERROR: QualifiedNames = ASYNCIO_TIMEOUT_ERROR | TRIO_TIMEOUT_ERROR | {
    BUILTIN_TIMEOUT_ERROR,
    "concurrent.futures.TimeoutError",
    "concurrent.futures._base.TimeoutError",
}
WAIT_FOR: QualifiedNames = frozenset({"asyncio.wait_for", "asyncio.tasks.wait_for"})
ASYNC_TIMEOUT_MANAGERS: QualifiedNames = frozenset(
    {"async_timeout.timeout", "async_timeout.timeout_at"}
)
TIMEOUT_MANAGERS: QualifiedNames = ASYNC_TIMEOUT_MANAGERS | {
    "asyncio.timeout",
    "asyncio.timeout_at",
    "asyncio.timeouts.timeout",
    "asyncio.timeouts.timeout_at",
}

# trio's and anyio's scopes that, given `shield=True`, keep every outer cancellation out of their
# body (their own cancellation, by deadline or cancel(), ends at the scope: it never leaves it).
SHIELDING_SCOPES: QualifiedNames = frozenset(
    {
        f"{library}.{scope}"
        for library in ("trio", "trio._core", "trio._core._run", "anyio", "anyio._core._tasks")
        for scope in ("CancelScope", "move_on_after", "move_on_at", "fail_after", "fail_at")
    }
)
# Their scopes, shielded or not: `with CancelScope() as scope: scope.cancel()`.
CANCEL_SCOPES: QualifiedNames = SHIELDING_SCOPES
# Awaits that are a scheduling point but never a cancellation point.
UNCANCELLABLE_AWAITS: QualifiedNames = frozenset(
    {
        "trio.lowlevel.cancel_shielded_checkpoint",
        "trio._core.cancel_shielded_checkpoint",
        "trio._core._traps.cancel_shielded_checkpoint",
        "anyio.lowlevel.cancel_shielded_checkpoint",
    }
)

# trio's and anyio's deadline scopes, entered with a plain `with`: inside, the deadline arrives as
# the library's cancellation; the timeout exception exists only outside.
DEADLINE_SCOPES: QualifiedNames = frozenset(
    {
        f"{library}.{scope}"
        for library in ("trio", "anyio")
        for scope in ("fail_after", "fail_at")
    }
    | {"trio._timeouts.fail_after", "trio._timeouts.fail_at", "anyio._core._tasks.fail_after"}
)
LIBRARIES = ("asyncio", "anyio", "trio")
# Generator-based coroutines (before `async def`; asyncio.coroutine is gone since 3.11).
COROUTINE_DECORATORS: QualifiedNames = frozenset(
    {"asyncio.coroutine", "asyncio.coroutines.coroutine", "types.coroutine"}
)
# What runs a coroutine object given to it: `asyncio.wait_for(fetch(), 10)`.
COROUTINE_RUNNERS: QualifiedNames = frozenset(
    {
        "asyncio.wait_for", "asyncio.tasks.wait_for", "asyncio.ensure_future",
        "asyncio.tasks.ensure_future", "asyncio.create_task", "asyncio.tasks.create_task",
        "asyncio.gather", "asyncio.tasks.gather", "asyncio.shield", "asyncio.tasks.shield",
        "asyncio.run", "asyncio.runners.run",
    }
)
RUNNER_METHODS = ("run_until_complete", "create_task", "ensure_future")

_BUILTIN_NAMES = frozenset(dir(builtins))
# What `from MODULE import *` is known to bind; enough for the names the rules care about.
_STAR_EXPORTS: Dict[str, FrozenSet[str]] = {
    "asyncio": frozenset(
        {"CancelledError", "TimeoutError", "run", "wait_for", "timeout", "timeout_at", "shield"}
    ),
    "asyncio.exceptions": frozenset({"CancelledError", "TimeoutError"}),
    "concurrent.futures": frozenset({"CancelledError", "TimeoutError"}),
    "contextlib": frozenset({"suppress"}),
}


def _import_target(node: cst.BaseExpression) -> str:
    # Import and ImportFrom module names are always Name/Attribute chains.
    name = dotted_name(node)
    assert name is not None
    return name


def last_names(qualified: Iterable[str]) -> List[str]:
    """``trio.Cancelled`` -> ``Cancelled``: what the cheap gates look for in the text."""
    return [name.rsplit(".", 1)[-1] for name in qualified]


class Element(NamedTuple):
    """One exception type of a tuple defined in another module: how it is written there
    (``asyncio.TimeoutError``; None for an expression that is no name) and what it means there."""

    written: Optional[str]
    meanings: QualifiedNames


class Definition(NamedTuple):
    """What a name defined at the top level of another module of the project stands for, as
    that module's own imports resolve it: an alias of other names, a tuple of exception types,
    or a function that never returns."""

    meanings: QualifiedNames = NOTHING
    elements: Optional[Tuple[Element, ...]] = None
    never_returns: bool = False


# Reads the definition of a qualified name of the project (``pkg.const.ERRORS``) from its module.
Follow = Callable[[str], Optional[Definition]]


class Bindings:
    """Names bound in one scope: imports, and module-level aliases of other names.

    With ``follow``, a name that an import brings from another module of the same project means
    what its definition there means: an alias, a tuple of exception types or a function that
    never returns, exactly as if it were defined here."""

    def __init__(
        self,
        parent: Optional["Bindings"] = None,
        package: Optional[str] = None,
        follow: Optional[Follow] = None,
    ) -> None:
        self.parent = parent
        # The dotted package the module is in, when known from its path: relative imports
        # resolve against it (`from .._core import X` in anyio/streams is anyio._core.X).
        self.package = package if parent is None else parent.package
        # Reads the definition of a name of another module of the project (modules.py).
        self.follow = follow if parent is None else parent.follow
        self._project_prefix = f"{self.project}." if self.project else None
        self._names: Dict[str, QualifiedNames] = {}
        self._tuples: Dict[str, Tuple[cst.BaseExpression, ...]] = {}
        self._star_modules: Tuple[str, ...] = ()
        # Stand-ins for the elements of tuples defined in other modules, shared by the scopes
        # of one module: each by its key (`pkg.const.ERRORS[2]`), and what each means there.
        self._stand_ins: Dict[str, cst.BaseExpression] = {} if parent is None else parent._stand_ins
        self._elsewhere: Dict[str, Element] = {} if parent is None else parent._elsewhere

    # -- recording ---------------------------------------------------------------------------
    def _bind(self, name: str, meanings: QualifiedNames, fallback: bool) -> None:
        if fallback and name in self._names:
            # `except ImportError: from backport import X` must not hide the primary import.
            self._names[name] = self._names[name] | meanings
        else:
            self._names[name] = meanings

    def add_import(self, node: cst.CSTNode, fallback: bool = False) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                asname = None
                if alias.asname is not None:
                    asname = dotted_name(alias.asname.name)  # type: ignore[arg-type]
                    if asname is None:
                        continue
                self.bind_import(_import_target(alias.name), asname, fallback)
        elif isinstance(node, cst.ImportFrom):
            module = self.absolute_module(
                len(node.relative), _import_target(node.module) if node.module else None
            )
            if isinstance(node.names, cst.ImportStar):
                self.bind_from_import(module, None, fallback)
                return
            imported = []
            for alias in node.names:
                name = _import_target(alias.name)
                asname = None
                if alias.asname is not None:
                    asname = dotted_name(alias.asname.name)  # type: ignore[arg-type]
                imported.append((name, asname))
            self.bind_from_import(module, imported, fallback)

    def bind_import(self, full: str, asname: Optional[str], fallback: bool = False) -> None:
        """``import full`` (binds its top-level package) or ``import full as asname``."""
        if asname is not None:
            self._bind(asname, frozenset({full}), fallback)
        else:
            top = full.split(".", 1)[0]
            self._bind(top, frozenset({top}), fallback)

    def bind_from_import(
        self,
        module: Optional[str],
        imported: Optional[Sequence[Tuple[str, Optional[str]]]],
        fallback: bool = False,
    ) -> None:
        """``from module import name [as asname], ...``, or ``import *`` when ``imported`` is
        None. ``module`` is absolute (see ``absolute_module``), None when it cannot be named."""
        if module is None:
            # This project's own code, from a package we cannot name: what the names mean is
            # unknown, but they are bound (`from .compat import TimeoutError` is no longer the
            # builtin).
            for name, asname in imported or ():
                self._bind(asname or name, NOTHING, fallback)
            return
        if imported is None:
            self._star_modules += (module,)
            return
        for name, asname in imported:
            self._bind(asname or name, frozenset({f"{module}.{name}"}), fallback)

    def absolute_module(self, level: int, module: Optional[str]) -> Optional[str]:
        """The module that ``from <level dots><module> import ...`` names: a relative one
        resolved against the package, None where it cannot be."""
        if not level:
            return module
        if self.package is None:
            return None
        parts = self.package.split(".")
        up = level - 1
        if up >= len(parts):
            return None
        base = parts[: len(parts) - up]
        if module is not None:
            base.append(module)
        return ".".join(base)

    @property
    def project(self) -> Optional[str]:
        """The top-level package of the module's own project, when known."""
        return self.package.split(".", 1)[0] if self.package else None

    def add_alias(self, name: str, value: cst.BaseExpression, fallback: bool = False) -> None:
        """Record ``name = value``: a dotted name or a tuple of them gives ``name`` their meaning,
        anything else leaves it none. In a fallback branch (``else:`` of a version check,
        ``except ImportError:``) the meanings add up instead."""
        if isinstance(value, cst.Tuple):
            elements = tuple(element.value for element in value.elements)
            if fallback and name in self._tuples:
                elements = self._tuples[name] + elements
            self._tuples[name] = elements
            if not fallback:
                self._names.pop(name, None)  # the tuple replaces an imported name
            return
        if not fallback:
            self._tuples.pop(name, None)
        self._bind(name, self.resolve(value), fallback)

    # -- lookup ------------------------------------------------------------------------------
    def _innermost(
        self, name: str
    ) -> Tuple[Optional[QualifiedNames], Optional[Tuple[cst.BaseExpression, ...]]]:
        """What the innermost scope that binds ``name`` binds it to: meanings (an import or an
        alias), or the elements of a tuple. A primary import wins over a tuple assigned in a
        fallback branch of the same scope."""
        scope: Optional[Bindings] = self
        while scope is not None:
            if name in scope._names:
                return scope._names[name], None
            if name in scope._tuples:
                return None, scope._tuples[name]
            scope = scope.parent
        return None, None

    def _lookup(self, name: str) -> Optional[QualifiedNames]:
        meanings, elements = self._innermost(name)
        return NOTHING if elements is not None else meanings

    def _star_meaning(self, name: str) -> QualifiedNames:
        scope: Optional[Bindings] = self
        while scope is not None:
            for module in scope._star_modules:
                if name in _STAR_EXPORTS.get(module, ()):
                    return frozenset({f"{module}.{name}"})
                if self._definition(f"{module}.{name}") is not None:
                    return frozenset({f"{module}.{name}"})
            scope = scope.parent
        return NOTHING

    def visible_names(self) -> Iterator[Tuple[str, QualifiedNames]]:
        """Every imported or aliased name visible here, innermost scope first, each once."""
        seen = set()
        scope: Optional[Bindings] = self
        while scope is not None:
            for name, meanings in scope._names.items():
                if name not in seen:
                    seen.add(name)
                    yield name, meanings
            scope = scope.parent

    def tuple_alias(self, name: str) -> Optional[Tuple[cst.BaseExpression, ...]]:
        """The elements of the tuple that ``name`` stands for: one assigned in this scope or an
        enclosing one, or one imported from another module of the project (its elements then
        stand-ins that mean what they mean there)."""
        _, elements = self._innermost(name)
        if elements is not None or self.follow is None:
            return elements
        imported, _ = self._imported_tuple_elements(self._resolve_name(name))
        return tuple(imported) if imported else None

    def resolve(self, node: cst.BaseExpression) -> QualifiedNames:
        """Every qualified name that ``node`` (a Name or Attribute chain) may stand for. A call
        without arguments stands for what that function returns, named ``NAME()``:
        ``anyio.get_cancelled_exc_class()`` is the cancellation class of anyio's backend."""
        if isinstance(node, cst.Call):
            if node.args:
                return NOTHING
            return frozenset(f"{meaning}()" for meaning in self.resolve(node.func))
        if isinstance(node, cst.Name):
            return self._resolve_name(node.value)
        if isinstance(node, cst.Attribute) and not isinstance(node.value, cst.Call):
            stood_in = self._stood_in(node)
            if stood_in is not None:
                return stood_in.meanings
            return self._attribute(self.resolve(node.value), node.attr.value)
        return NOTHING

    def resolve_dotted(self, name: str) -> QualifiedNames:
        """What a dotted name written here (``const.ERRORS``) may stand for, as ``resolve``."""
        head, *attributes = name.split(".")
        meanings = self._resolve_name(head)
        for attribute in attributes:
            meanings = self._attribute(meanings, attribute)
        return meanings

    def _resolve_name(self, name: str) -> QualifiedNames:
        found = self._lookup(name)
        if found is not None:
            return self._followed(found)
        star = self._star_meaning(name)
        if star:
            return self._followed(star)
        if name in _BUILTIN_NAMES:
            return frozenset({f"builtins.{name}"})
        return NOTHING

    def _attribute(self, bases: QualifiedNames, attribute: str) -> QualifiedNames:
        return self._followed(frozenset(f"{base}.{attribute}" for base in bases))

    def resolves_to(self, node: cst.BaseExpression, wanted: Iterable[str]) -> bool:
        return not self.resolve(node).isdisjoint(wanted)

    # -- names defined in other modules of the project ----------------------------------------
    def _definition(self, meaning: str) -> Optional[Definition]:
        """The definition of a qualified name of this project, read from its module."""
        if self.follow is None or self._project_prefix is None:
            return None
        if not meaning.startswith(self._project_prefix):
            return None  # another library's or the standard library's: never followed
        return self.follow(meaning)

    def _followed(self, meanings: QualifiedNames) -> QualifiedNames:
        """``meanings`` with each alias defined in another module of the project replaced by
        what it stands for there (``pkg.compat.Cancelled`` -> ``asyncio.CancelledError``)."""
        if self.follow is None:
            return meanings
        followed: List[str] = []
        changed = False
        for meaning in meanings:
            definition = self._definition(meaning)
            if definition is not None and definition.meanings:
                followed.extend(definition.meanings)
                changed = True
            else:
                followed.append(meaning)
        return frozenset(followed) if changed else meanings

    def imported_tuples(self, meanings: QualifiedNames) -> Tuple[List[Tuple[str, Element]], bool]:
        """The elements of the tuples among ``meanings`` that other modules of the project
        define, each with a key of its own (``pkg.const.ERRORS[2]``); and whether some meaning
        is no such tuple."""
        found: List[Tuple[str, Element]] = []
        other = False
        for meaning in sorted(meanings):
            definition = self._definition(meaning)
            if definition is None or definition.elements is None:
                other = True
                continue
            found.extend(
                (f"{meaning}[{index}]", element)
                for index, element in enumerate(definition.elements)
            )
        return found, other

    def _imported_tuple_elements(
        self, meanings: QualifiedNames
    ) -> Tuple[List[cst.BaseExpression], bool]:
        if self.follow is None:
            return [], True
        found, other = self.imported_tuples(meanings)
        return [self._stand_in(key, element) for key, element in found], other

    def _stand_in(self, key: str, element: Element) -> cst.BaseExpression:
        """An expression that means here what ``element`` means in the module that defines its
        tuple (``resolve`` answers for it), spelled ``_flake8_cancel_elsewhere_N.OSError``: a
        name no code binds, then the element's own last name (an unknown class is judged by its
        name, as it would be here)."""
        found = self._stand_ins.get(key)
        if found is not None:
            return found
        if element.written is None and not element.meanings:
            found = cst.Ellipsis()  # an expression we cannot name: any class at all
        else:
            holder = f"_flake8_cancel_elsewhere_{len(self._stand_ins)}"
            self._elsewhere[holder] = element
            last = (element.written or "").rsplit(".", 1)[-1].rstrip("()") or "_"
            found = cst.Attribute(cst.Name(holder), cst.Name(last))
        self._stand_ins[key] = found
        return found

    def _stood_in(self, node: cst.BaseExpression) -> Optional[Element]:
        """The element that ``node`` stands in for, if it is a stand-in."""
        if self._elsewhere and isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            return self._elsewhere.get(node.value.value)
        return None

    def element(self, node: cst.BaseExpression) -> Element:
        """An exception type written here, as a module that imports its tuple sees it."""
        stood_in = self._stood_in(node)
        if stood_in is not None:
            return stood_in
        return Element(dotted_name(node), self.resolve(node))

    def defined_never_returning(self, meanings: QualifiedNames) -> bool:
        """Is one of ``meanings`` a function of another module of the project that never
        returns?"""
        for meaning in meanings:
            definition = self._definition(meaning)
            if definition is not None and definition.never_returns:
                return True
        return False

    def exception_types(self, node: Optional[cst.BaseExpression]) -> Iterator[cst.BaseExpression]:
        """The individual exception expressions of an ``except`` clause's type, tuples expanded:
        written ones, tuple aliases, and tuples imported from other modules of the project."""
        if node is None:
            return
        if isinstance(node, cst.Tuple):
            for element in node.elements:
                yield from self.exception_types(element.value)
            return
        if self._stood_in(node) is not None:
            yield node  # already one exception type
            return
        if isinstance(node, cst.Name):
            _, elements = self._innermost(node.value)
            if elements is not None:
                for element in elements:
                    yield from self.exception_types(element)
                return
        if self.follow is not None and isinstance(node, (cst.Name, cst.Attribute)):
            imported, other = self._imported_tuple_elements(self.resolve(node))
            if imported:
                yield from imported
                if other:
                    yield node
                return
        yield node


def collect_module_bindings(
    module: cst.Module, package: Optional[str] = None, follow: Optional[Follow] = None
) -> Bindings:
    """Imports and aliases at module level, including inside module-level if/try blocks.
    ``package`` (the module's dotted package, if known) resolves relative imports; ``follow``
    reads what a name of another module of the project is defined as there."""
    bindings = Bindings(package=package, follow=follow)
    _collect_block(module.body, bindings, fallback=False)
    return bindings


def _collect_block(block: Sequence[Statement], bindings: Bindings, fallback: bool) -> None:
    for statement in block:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            record_simple_statement(statement, bindings, fallback)
        elif isinstance(statement, (cst.Try, cst.TryStar, cst.If)):
            # Imports guarded by a try or a version check. What a handler or a later branch
            # imports is an alternative (`except ImportError: from backport import X`), not a
            # replacement of what the first branch imported.
            for block_kind, suite, _ in blocks(statement):
                if block_kind is BlockKind.FINALLY:
                    continue
                alternative = block_kind in (BlockKind.HANDLER, BlockKind.ALTERNATIVE)
                _collect_block(statements(suite), bindings, fallback or alternative)


def record_simple_statement(
    line: Statement, bindings: Bindings, fallback: bool = False
) -> None:
    for small in small_statements(line):
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            bindings.add_import(small, fallback)
        elif (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
        ):
            bindings.add_alias(small.targets[0].target.value, small.value, fallback)


class Catch:
    """What an ``except`` clause (or a ``suppress(...)`` call) catches, as far as the rules care."""

    __slots__ = (
        "bare", "base_exception", "names_cancellation", "exception", "timeout", "asyncio_timeout",
        "builtin_timeout", "futures_cancelled", "catches_every_cancellation",
    )

    def __init__(self, bare: bool = False) -> None:
        self.bare = bare
        self.base_exception = False
        self.names_cancellation = False  # names the cancellation exception explicitly
        self.exception = False  # builtins.Exception
        self.timeout = False  # any spelling of TimeoutError
        self.asyncio_timeout = False  # asyncio.TimeoutError (its own class before 3.11)
        self.builtin_timeout = False  # the builtin TimeoutError
        self.futures_cancelled = False  # concurrent.futures' or the legacy asyncio.futures' one
        # Catches whichever library's cancellation can arrive in the module (all it uses): what
        # an earlier clause must do to shield the later ones. `except trio.Cancelled:` in a
        # module that also runs asyncio does not.
        self.catches_every_cancellation = bare

    @property
    def catches_everything(self) -> bool:
        return self.bare or self.base_exception

    @property
    def catches_cancellation(self) -> bool:
        return self.bare or self.base_exception or self.names_cancellation

    def __repr__(self) -> str:
        flags = [name for name in self.__slots__ if getattr(self, name)]
        return f"Catch({', '.join(flags)})"


class Vocabulary:
    """A module's bindings plus the configured names: what the rules ask of a name."""

    def __init__(
        self,
        bindings: Bindings,
        cancelled: QualifiedNames = CANCELLATION_CLASSES,
        never_returning: QualifiedNames = NEVER_RETURNING_FUNCTIONS,
        local_never_returning: FrozenSet[str] = frozenset(),
        suppressors: QualifiedNames = SUPPRESSORS,
        timeout_managers: QualifiedNames = TIMEOUT_MANAGERS,
        callee_never_returns: Optional[Callable[[cst.BaseExpression], bool]] = None,
        callee_reraises: Optional[Callable[[cst.BaseExpression, str], bool]] = None,
    ) -> None:
        self.bindings = bindings
        self.cancelled = cancelled
        self.never_returning = never_returning
        self.local_never_returning = local_never_returning
        # Asked about a callee that no name resolves (a function or method of this module), by
        # whoever can read its body: the site model does.
        self.callee_never_returns = callee_never_returns
        # Asked whether a call that is given the caught exception (by its name) raises it
        # again on every path where it is a cancellation: `await self._handle_error(exc)`.
        self.callee_reraises = callee_reraises
        self.suppressors = suppressors
        self.timeout_managers = timeout_managers

    def catch_of(self, exception_type: Optional[cst.BaseExpression]) -> Catch:
        if exception_type is None:
            return Catch(bare=True)
        return self._catch_of_types(self.bindings.exception_types(exception_type))

    def suppression_of(
        self, node: cst.With
    ) -> Optional[Tuple[Catch, List[cst.BaseExpression]]]:
        """What the suppressing context managers of this ``with`` swallow (and the exception
        expressions they name), or None when nothing there suppresses."""
        suppressed: List[cst.BaseExpression] = []
        found = False
        for item in node.items:
            call = item.item
            if isinstance(call, cst.Call) and self.bindings.resolves_to(call.func, self.suppressors):
                found = True
                for argument in call.args:
                    suppressed.extend(self.bindings.exception_types(argument.value))
        return (self._catch_of_types(suppressed), suppressed) if found else None

    def _catch_of_types(self, types: Iterable[cst.BaseExpression]) -> Catch:
        catch = Catch()
        named: Set[str] = set()  # the libraries whose cancellation the clause names
        for single in types:
            meanings = self.bindings.resolve(single)
            if BASE_EXCEPTION in meanings:
                catch.base_exception = True
            for meaning in meanings & self.cancelled:
                named.add(
                    "asyncio" if meaning in CANCELLED_ERROR
                    else "trio" if meaning in TRIO_CANCELLED
                    else "any"  # anyio's class is its backend's; a configured one, trusted
                )
            if "builtins.Exception" in meanings:
                catch.exception = True
            if not meanings.isdisjoint(self.cancelled):
                catch.names_cancellation = True
            if not meanings.isdisjoint(FUTURES_CANCELLED_ERROR):
                catch.futures_cancelled = True
            if not meanings.isdisjoint(TIMEOUT_ERROR):
                catch.timeout = True
                catch.asyncio_timeout |= not meanings.isdisjoint(ASYNCIO_TIMEOUT_ERROR)
                catch.builtin_timeout |= BUILTIN_TIMEOUT_ERROR in meanings
        catch.catches_every_cancellation = catch.base_exception or (
            "any" in named or bool(named) and self.running_libraries <= named
        )
        return catch

    @property
    def running_libraries(self) -> FrozenSet[str]:
        """Whose cancellation can arrive here: asyncio's, trio's, or both where the module uses
        both (anyio runs on either; a module of neither is taken for asyncio)."""
        running = self.libraries & {"asyncio", "trio"}
        return running or frozenset({"asyncio"})

    def is_cancelled_error(self, node: cst.BaseExpression) -> bool:
        return self.bindings.resolves_to(node, self.cancelled)

    def is_new_cancellation(self, raised: Optional[cst.BaseExpression]) -> bool:
        """Does ``raise <raised>`` raise a new cancellation: ``CancelledError`` or
        ``CancelledError(...)`` in any spelling (or a configured cancellation class)?"""
        if raised is None:
            return False
        if self.is_cancelled_error(raised):  # `raise get_cancelled_exc_class()`: the class
            return True
        target = raised.func if isinstance(raised, cst.Call) else raised
        return self.is_cancelled_error(target)

    def names_a_cancellation_class(self, classes: cst.BaseExpression) -> bool:
        """Is one of the classes named (a tuple, a list or set, a tuple alias) a cancellation?"""
        if isinstance(classes, (cst.List, cst.Set)):
            return any(self.names_a_cancellation_class(item.value) for item in classes.elements)
        return any(self.is_cancelled_error(t) for t in self.bindings.exception_types(classes))

    def tests_cancellation(self, test: cst.BaseExpression, names: Set[str]) -> Optional[bool]:
        """What a test says of the exception (or exception type) held by one of ``names``: True
        when it holds only for the cancellation (``exc_type is CancelledError``, ``==``, ``in
        (...)``, ``issubclass(exc_type, ...)``, ``isinstance(exc, ...)``, an ``and`` with one of
        them), False when it fails only for it (their negations, an ``or`` with one), else None."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            inner = self.tests_cancellation(test.expression, names)
            return None if inner is None else not inner
        if isinstance(test, cst.BooleanOperation):
            sides = tuple(self.tests_cancellation(side, names) for side in (test.left, test.right))
            if isinstance(test.operator, cst.And):
                return True if True in sides else None
            return False if False in sides else (True if sides == (True, True) else None)
        if isinstance(test, cst.Call):
            return True if self._class_check(test, names) else None
        if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
            return None
        left, target = test.left, test.comparisons[0]
        right = target.comparator
        if isinstance(right, cst.Name) and right.value in names:
            left, right = right, left
        if not (isinstance(left, cst.Name) and left.value in names):
            return None
        if not self.names_a_cancellation_class(right):
            return None
        if isinstance(target.operator, (cst.Is, cst.Equal, cst.In)):
            return True
        return False if isinstance(target.operator, (cst.IsNot, cst.NotEqual, cst.NotIn)) else None

    def _class_check(self, test: cst.Call, names: Set[str]) -> bool:
        """``isinstance(exc, CancelledError)``, ``issubclass(exc_type, (..., CancelledError))``."""
        return (
            isinstance(test.func, cst.Name)
            and test.func.value in ("isinstance", "issubclass")
            and self.bindings.resolves_to(test.func, ("builtins.isinstance", "builtins.issubclass"))
            and len(test.args) == 2
            and isinstance(test.args[0].value, cst.Name)
            and test.args[0].value.value in names
            and self.names_a_cancellation_class(test.args[1].value)
        )

    def never_matches_cancellation(self, classes: cst.BaseExpression) -> bool:
        """Is ``isinstance(cancellation, classes)`` false whatever the cancellation? True when
        every class named (a tuple and tuple aliases expanded) is known and is none of the
        cancellation classes, ``BaseException``, or a builtin that is no exception class
        (``object``). A name of unknown meaning counts as another class unless it is named
        like a cancellation (``CancelledError``, ``Cancelled``, a configured name)."""
        types = list(self.bindings.exception_types(classes))
        return bool(types) and all(self._never_a_cancellation_class(single) for single in types)

    def _never_a_cancellation_class(self, node: cst.BaseExpression) -> bool:
        meanings = self.bindings.resolve(node)
        name = dotted_name(node)
        if name is None and not meanings:
            return False  # a call or another expression: any class at all
        project = self.bindings.project
        if not meanings or all(
            project is not None and meaning.split(".", 1)[0] == project for meaning in meanings
        ):
            # Unknown, or a class of this project: judged by its name.
            cancellation_names = {"CancelledError", "Cancelled", "BaseException"}
            cancellation_names.update(last_names(self.cancelled))
            last = (name or next(iter(meanings))).rsplit(".", 1)[-1]
            return last not in cancellation_names
        for meaning in meanings:
            if meaning in self.cancelled or meaning == BASE_EXCEPTION:
                return False
            if meaning.startswith("builtins."):
                value = getattr(builtins, meaning[len("builtins."):], None)
                if not (isinstance(value, type) and issubclass(value, BaseException)):
                    return False
        return True

    def is_timeout_manager(self, node: cst.BaseExpression) -> bool:
        """``asyncio.timeout(...)`` and the like, as a call."""
        return isinstance(node, cst.Call) and self.bindings.resolves_to(
            node.func, self.timeout_managers
        )

    def is_deadline_scope(self, node: cst.BaseExpression) -> bool:
        """``trio.fail_after(...)``, ``anyio.fail_at(...)``: a plain ``with``'s deadline."""
        return isinstance(node, cst.Call) and self.bindings.resolves_to(node.func, DEADLINE_SCOPES)

    def sets_deadline(self, node: cst.With) -> bool:
        """Does this ``with`` put a deadline on its body (``async with asyncio.timeout()``,
        ``with trio.fail_after()``), that arrives there as the cancellation?"""
        if node.asynchronous is not None:
            return any(self.is_timeout_manager(item.item) for item in node.items)
        return any(self.is_deadline_scope(item.item) for item in node.items)

    @cached_property
    def libraries(self) -> FrozenSet[str]:
        """Which of asyncio, anyio and trio the module uses (imports, or is part of)."""
        roots = {
            meaning.split(".", 1)[0]
            for _, meanings in self.bindings.visible_names()
            for meaning in meanings
        }
        if self.bindings.project is not None:
            roots.add(self.bindings.project)
        return frozenset(roots & set(LIBRARIES))

    @property
    def library(self) -> Optional[str]:
        """The library whose cancellation this module's code sees, for messages and fixes:
        anyio wherever it is used (its cancellation class is right on either backend), else
        trio or asyncio alone; asyncio where none is imported; None where trio and asyncio mix
        (which cancellation arrives depends on the code path)."""
        used = self.libraries
        if "anyio" in used:
            return "anyio"
        if "trio" in used:
            return None if "asyncio" in used else "trio"
        return "asyncio"

    def shields(self, node: cst.CSTNode) -> bool:
        """Is ``node`` out of the reach of an outer cancellation: a ``with`` of a shielding
        scope (``trio.CancelScope(shield=True)``, ``anyio.move_on_after(1, shield=True)``),
        or an await of ``cancel_shielded_checkpoint()``? A shield given by a variable
        (``shield=not cancellable``) may be off: it does not count."""
        if isinstance(node, cst.With):
            return node.asynchronous is None and any(
                isinstance(item.item, cst.Call)
                and self.bindings.resolves_to(item.item.func, SHIELDING_SCOPES)
                and any(
                    argument.keyword is not None
                    and argument.keyword.value == "shield"
                    and isinstance(argument.value, cst.Name)
                    and argument.value.value == "True"
                    for argument in item.item.args
                )
                for item in node.items
            )
        return (
            isinstance(node, cst.Await)
            and isinstance(node.expression, cst.Call)
            and self.bindings.resolves_to(node.expression.func, UNCANCELLABLE_AWAITS)
        )

    def catches_in_block(self, node: cst.With) -> bool:
        """Does a context manager of this ``with`` catch exceptions of its block: a suppressor,
        or ``pytest.raises(...)``?"""
        return any(
            isinstance(item.item, cst.Call)
            and self.bindings.resolves_to(item.item.func, self.suppressors | EXPECTING)
            for item in node.items
        )

    def is_cancel_scope(self, node: cst.BaseExpression) -> bool:
        """A trio or anyio cancel scope: ``CancelScope()``, ``move_on_after(...)``, ..."""
        return isinstance(node, cst.Call) and self.bindings.resolves_to(node.func, CANCEL_SCOPES)

    def is_exception_group(self, node: cst.BaseExpression) -> bool:
        """``BaseExceptionGroup(...)`` or ``ExceptionGroup(...)`` (builtin or backport)."""
        return isinstance(node, cst.Call) and self.bindings.resolves_to(node.func, EXCEPTION_GROUPS)

    def group_members(self, group: cst.BaseExpression) -> Iterator[str]:
        """The names an exception group is built of: ``BaseExceptionGroup("", [exc, other])``,
        ``ExceptionGroup("", errors)``, and groups nested in it (nothing for another call)."""
        if not self.is_exception_group(group):
            return
        stack = [argument.value for argument in group.args]  # type: ignore[attr-defined]
        while stack:
            current = stack.pop()
            name = dotted_name(current)
            if name is not None:
                yield name
            elif isinstance(current, (cst.List, cst.Tuple, cst.Set)):
                stack.extend(element.value for element in current.elements)
            elif self.is_exception_group(current):
                stack.extend(argument.value for argument in current.args)  # type: ignore[attr-defined]

    def is_wait_for(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Call) and self.bindings.resolves_to(node.func, WAIT_FOR)

    def is_never_returning_call(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Await):
            node = node.expression
        if not isinstance(node, cst.Call):
            return False
        func = node.func
        if isinstance(func, cst.Name) and func.value in self.local_never_returning:
            return True
        meanings = self.bindings.resolve(func)
        if not meanings.isdisjoint(self.never_returning):
            return True
        if self.bindings.defined_never_returning(meanings):
            return True
        return self.callee_never_returns is not None and self.callee_never_returns(func)


def never_returning_functions(module: cst.Module, bindings: Bindings) -> FrozenSet[str]:
    """Module-level functions annotated ``-> NoReturn`` or ``-> Never``."""
    return frozenset(
        statement.name.value
        for statement in module.body
        if isinstance(statement, cst.FunctionDef) and annotated_never_returning(statement, bindings)
    )


def annotated_never_returning(function: cst.FunctionDef, bindings: Bindings) -> bool:
    """Is the function annotated ``-> NoReturn`` or ``-> Never`` (also as a string)?"""
    if function.returns is None:
        return False
    annotation = function.returns.annotation
    if isinstance(annotation, cst.SimpleString):
        text = annotation.evaluated_value
        return isinstance(text, str) and text.rsplit(".", 1)[-1] in ("NoReturn", "Never")
    return bindings.resolves_to(annotation, NORETURN_ANNOTATIONS)
