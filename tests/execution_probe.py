"""Run a module's coroutines against probes: stand-ins for every object the code does not define.

test_fix_execution.py uses this to prove fixes by running the code before and after them.

A *probe* stands for any unknown object: a parameter, an attribute of ``self``, a global the
module never defines, a module it imports that is not one of ``REAL_MODULES`` (``print`` and
``open`` are probes too). Every call on a probe is written to the run's log (``"session.get"``,
``"log.info"``) with the module's lines on the stack, and returns a new probe. Awaiting a probe
(also ``async with`` and each step of ``async for``, and ``asyncio.sleep``) is a *suspension
point*: the run counts them, and the run's plan says what happens at which: the task waits there
until the driver cancels it (``Action.CANCEL``), or a ``ValueError`` is raised there
(``Action.RAISE``); everywhere else it yields to the loop once and returns a probe. A probe whose
``cancel()`` was called behaves like a cancelled task: awaiting it raises a ``CancelledError`` of
its own (a child's, not the current task's).

``asyncio`` is the real module but for ``sleep`` (a suspension point) and ``create_task``,
``ensure_future``, ``wait`` and ``TaskGroup.create_task``, which take a probe as a task. A name
configured as a cancellation (``--cancelled-names``) is ``asyncio.CancelledError`` itself.
The task ends "with its own cancellation" when what leaves the coroutine is the
``CancelledError`` the driver's ``cancel()`` raised, or one asyncio raised for it on the way
(``gather`` hands on a child's), not a new instance the module raised.

Everything else about a probe is fixed per run by its ``Mode``: truthiness (and the ordering
comparisons) is the mode's flag; ``len()`` and iteration give two probes when truthy, none when
falsy; ``==`` is identity; ``with`` works and suppresses nothing; ``int()`` is 1.

Names the module uses as exception classes (in ``except``, ``raise``, ``isinstance``) that it
does not define become fresh ``Exception`` subclasses, so that matching a clause against them
works.

A run cannot go on forever: after ``MAX_SUSPENSIONS`` suspension points every further one blocks
(the outcome is ``exhausted``), after ``MAX_STEPS`` probe operations each one raises
``BudgetExhausted``; and the driver gives up after ``WALL_CLOCK`` seconds (``hung``). Each run
gets its own event loop and a fresh module namespace: nothing leaks from one run to the next.
Written for Python 3.9 and newer.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import inspect
import sys
import types
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

CANCEL_MESSAGE = "probe: the current task is cancelled"
CHILD_MESSAGE = "probe: the awaited child was cancelled"
MAX_SUSPENSIONS = 60
MAX_STEPS = 3000
WALL_CLOCK = 1.0

# Imported for real: what the fixtures need to behave as the standard library does. Any other
# import (logging, sys, os, trio, a project's own modules) is a probe.
REAL_MODULES = frozenset(
    {
        "asyncio", "abc", "builtins", "collections", "concurrent", "contextlib", "dataclasses",
        "enum", "errno", "functools", "itertools", "socket", "types", "typing", "weakref",
    }
)


# trio's `Cancelled` and anyio's `get_cancelled_exc_class()` stand for asyncio.CancelledError: the
# harness drives asyncio tasks, where anyio's class is exactly that, and trio's level-triggered
# cancellation arrives the same way at the await the driver cancels (a fix must let it go on).
LIBRARY_CANCELLATION = frozenset({"Cancelled"})
LIBRARY_CANCELLATION_GETTERS = frozenset({"get_cancelled_exc_class"})


# Attributes a probe does not have: asyncio asks for them to tell a future from an awaitable.
NOT_PROBED = frozenset({"_asyncio_future_blocking", "_is_coroutine", "_loop"})


class Mode(Enum):
    TRUTHY = "truthy"
    FALSY = "falsy"


class Action(Enum):
    """What happens at a planned suspension point (elsewhere, the run just goes on)."""

    CANCEL = "cancel"  # the driver cancels the task while it waits there
    RAISE = "raise"  # a ValueError is raised there


class BudgetExhausted(BaseException):
    """Raised by a probe operation once the run has used up MAX_STEPS."""


class HarnessError(Exception):
    """The harness itself could not do what was asked (not an outcome of the code under test)."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # returned | raised | cancelled | exhausted | hung
    detail: str = ""  # the type of the return value or of the exception
    own: bool = False  # cancelled with the very cancellation the driver delivered
    raised_at: Optional[int] = field(default=None, compare=False)  # the module's line, if raised

    def __str__(self) -> str:
        if self.kind == "cancelled":
            return f"cancelled ({'its own cancellation' if self.own else 'another CancelledError'})"
        return f"{self.kind} {self.detail}".strip()

    @property
    def propagates_own_cancellation(self) -> bool:
        return self.kind == "cancelled" and self.own


Lines = Tuple[int, ...]


@dataclass(frozen=True)
class Entry:
    text: str  # "session.get" for a call, "await session.get()" for a suspension
    # The module's lines on the stack when it was made, innermost first (for a suspension in a
    # task of its own, such as gather's or wait_for's: where the task under test waits meanwhile).
    lines: Lines


@dataclass
class RunResult:
    outcome: Outcome
    log: Tuple[Entry, ...]
    suspensions: Tuple[Lines, ...]  # the lines of each suspension point, in order
    target_index: Optional[int]  # where in the log the last planned point is, if reached

    @property
    def calls(self) -> Tuple[str, ...]:
        return tuple(entry.text for entry in self.log)


Plan = Dict[int, Action]  # suspension point number (from 1) -> what happens there


# -- the probe ------------------------------------------------------------------------------------
def _module_lines(run: "Run") -> Lines:
    lines = []
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == run.filename:
            lines.append(frame.f_lineno)
        frame = frame.f_back
    return tuple(lines)


class Probe:
    def __init__(self, run: "Run", name: str, parent: Optional["Probe"] = None) -> None:
        object.__setattr__(self, "_probe_run", run)
        object.__setattr__(self, "_probe_name", name)
        object.__setattr__(self, "_probe_parent", parent)
        object.__setattr__(self, "_probe_attrs", {})
        object.__setattr__(self, "_probe_cancelled", False)

    # attributes
    def __getattr__(self, attr: str) -> Any:
        if (attr.startswith("__") and attr.endswith("__")) or attr in NOT_PROBED:
            raise AttributeError(attr)
        attrs = self._probe_attrs
        if attr not in attrs:
            run = self._probe_run
            if attr in run.exception_names or attr in run.cancelled_names:
                attrs[attr] = run.exception_class(attr)
            else:
                attrs[attr] = Probe(run, f"{self._probe_name}.{attr}", self)
        return attrs[attr]

    def __setattr__(self, attr: str, value: Any) -> None:
        self._probe_attrs[attr] = value

    def __delattr__(self, attr: str) -> None:
        self._probe_attrs.pop(attr, None)

    # calls
    def __call__(self, *args: Any, **kwargs: Any) -> "Probe":
        run = self._probe_run
        run.step()
        lines = _module_lines(run)
        run.record(self._probe_name, lines)
        parent = self._probe_parent
        if parent is not None and self._probe_name.endswith(".cancel"):
            object.__setattr__(parent, "_probe_cancelled", True)
        return Probe(run, f"{self._probe_name}()")

    # suspension points
    def __await__(self):
        run = self._probe_run
        return run.suspend(self, f"await {self._probe_name}", _module_lines(run)).__await__()

    def __aenter__(self):
        run = self._probe_run
        return run.suspend(self, f"async with {self._probe_name}", _module_lines(run), result=self)

    async def __aexit__(self, *exc_info: Any) -> bool:
        return False

    def __aiter__(self) -> "_AsyncIterator":
        return _AsyncIterator(self, _module_lines(self._probe_run))

    # the rest of the data model, fixed by the run's mode
    def __bool__(self) -> bool:
        self._probe_run.step()
        return self._probe_run.mode is Mode.TRUTHY

    def __len__(self) -> int:
        return 2 if self._probe_run.mode is Mode.TRUTHY else 0

    def __iter__(self):
        self._probe_run.step()
        return iter([self[index] for index in range(len(self))])

    def __contains__(self, item: Any) -> bool:
        return False

    def __getitem__(self, key: Any) -> "Probe":
        attrs = self._probe_attrs
        slot = ("[]", repr(key) if not isinstance(key, Probe) else key._probe_name)
        if slot not in attrs:
            attrs[slot] = Probe(self._probe_run, f"{self._probe_name}[{slot[1]}]", self)
        return attrs[slot]

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __delitem__(self, key: Any) -> None:
        pass

    def __enter__(self) -> "Probe":
        return self

    def __exit__(self, *exc_info: Any) -> bool:
        return False

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __ne__(self, other: Any) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return id(self)

    def _ordering(self, other: Any) -> bool:
        self._probe_run.step()
        return self._probe_run.mode is Mode.TRUTHY

    __lt__ = __le__ = __gt__ = __ge__ = _ordering

    def _arithmetic(self, *other: Any) -> "Probe":
        self._probe_run.step()
        return Probe(self._probe_run, f"({self._probe_name} op)")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _arithmetic
    __truediv__ = __rtruediv__ = __floordiv__ = __mod__ = __neg__ = __pos__ = _arithmetic
    __and__ = __or__ = __xor__ = __invert__ = __rand__ = __ror__ = _arithmetic

    def __int__(self) -> int:
        return 1

    def __float__(self) -> float:
        return 1.0

    def __index__(self) -> int:
        return len(self)

    def __str__(self) -> str:
        return f"<probe {self._probe_name}>"

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return str(self)


class _AsyncIterator:
    def __init__(self, probe: Probe, lines: Lines) -> None:
        self.probe = probe
        self.lines = lines
        self.items = list(iter(probe))

    def __aiter__(self) -> "_AsyncIterator":
        return self

    async def __anext__(self) -> Any:
        run = self.probe._probe_run
        await run.suspend(self.probe, f"async for {self.probe._probe_name}", self.lines)
        if not self.items:
            raise StopAsyncIteration
        return self.items.pop(0)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _coroutine(awaitable: Any) -> Any:
    """What create_task and friends accept, for a probe too."""
    return _awaited(awaitable) if isinstance(awaitable, Probe) else awaitable


# -- one run --------------------------------------------------------------------------------------
class Run:
    def __init__(self, filename: str, mode: Mode, plan: Plan, exception_names: FrozenSet[str],
                 cancelled_names: FrozenSet[str]) -> None:
        self.filename = filename
        self.mode = mode
        self.plan = plan
        self.exception_names = exception_names
        self.cancelled_names = cancelled_names
        self.log: List[Entry] = []
        self.suspension_lines: List[Lines] = []
        self.target_index: Optional[int] = None
        self.steps = 0
        self.over = False  # the driver has its outcome: what happens next is not recorded
        self.cancels_sent = 0  # the driver's task.cancel() calls
        self.exhausted = False
        self.escaped: Optional[BaseException] = None
        self.injected: Optional[BaseException] = None
        self.modules: Dict[str, Any] = {}
        self.exceptions: Dict[str, type] = {}
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.task: Optional[asyncio.Task] = None
        self.reached: Optional[asyncio.Event] = None
        self.stuck: Optional[asyncio.Event] = None

    def waiting_at(self) -> Lines:
        """The module's lines where the task under test is suspended, innermost first."""
        lines: List[int] = []
        task = self.task
        awaited = task.get_coro() if task is not None else None
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is None:
                break
            if frame.f_code.co_filename == self.filename:
                lines.append(frame.f_lineno)
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        return tuple(reversed(lines))

    def exception_class(self, name: str) -> Any:
        if name in self.cancelled_names:  # configured as the framework's cancellation
            return asyncio.CancelledError
        if name in LIBRARY_CANCELLATION_GETTERS:  # anyio's, on its asyncio backend
            return lambda: asyncio.CancelledError
        if name not in self.exceptions:
            self.exceptions[name] = type(name, (Exception,), {"__module__": "probe"})
        return self.exceptions[name]

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            self.exhausted = True
            raise BudgetExhausted("probe: step budget used up")

    def record(self, text: str, lines: Lines) -> None:
        if not self.over:
            self.log.append(Entry(text, lines))

    async def suspend(
        self, probe: Optional[Probe], text: str, lines: Lines, result: Any = None
    ) -> Any:
        if not lines:  # in a task of its own: where the task under test waits meanwhile
            lines = self.waiting_at()
        self.record(text, lines)
        self.suspension_lines.append(lines)
        number = len(self.suspension_lines)
        if number > MAX_SUSPENSIONS or self.over:
            self.exhausted = self.exhausted or not self.over
            self.stuck.set()
            await self.loop.create_future()  # never done: the run is over
        action = self.plan.get(number)
        if action is not None:
            self.target_index = len(self.log) - 1
            if action is Action.CANCEL:
                self.reached.set()
                try:
                    await self.loop.create_future()  # until the driver cancels the task
                except asyncio.CancelledError as cancelled:
                    self.injected = cancelled
                    raise
                raise HarnessError("the target resumed without being cancelled")
            if action is Action.RAISE:
                self.injected = ValueError("probe: raised at the target")
                raise self.injected
        await asyncio.sleep(0)
        if probe is not None and probe._probe_cancelled:
            raise asyncio.CancelledError(CHILD_MESSAGE)
        if result is not None:
            return result
        name = probe._probe_name if probe is not None else "sleep"
        return Probe(self, f"{name}*")

    # -- the namespace the module runs in
    def probe_module(self, name: str) -> Probe:
        if name not in self.modules:
            self.modules[name] = Probe(self, name)
        return self.modules[name]

    def asyncio_module(self) -> types.ModuleType:
        facade = types.ModuleType("asyncio")
        facade.__dict__.update(asyncio.__dict__)
        run = self

        async def sleeping(lines: Lines, result: Any) -> Any:
            await run.suspend(None, "await asyncio.sleep", lines, result=True)
            return result

        def sleep(delay: Any = 0, result: Any = None) -> Any:
            return sleeping(_module_lines(run), result)

        def create_task(coro: Any, **kwargs: Any) -> asyncio.Task:
            return asyncio.get_running_loop().create_task(_coroutine(coro), **kwargs)

        def ensure_future(coro: Any, **kwargs: Any) -> asyncio.Future:
            return asyncio.ensure_future(_coroutine(coro), **kwargs)

        async def wait(fs: Any, **kwargs: Any) -> Any:  # 3.11 takes futures only: a probe is a task
            return await asyncio.wait({ensure_future(f) for f in fs}, **kwargs)

        facade.sleep = sleep
        facade.wait = wait
        facade.create_task = create_task
        facade.ensure_future = ensure_future
        if hasattr(asyncio, "TaskGroup"):
            class TaskGroup(asyncio.TaskGroup):  # type: ignore[name-defined,misc]
                def create_task(self, coro: Any, **kwargs: Any) -> asyncio.Task:
                    return super().create_task(_coroutine(coro), **kwargs)

            facade.TaskGroup = TaskGroup
        return facade

    def import_(self, name: str, globals: Any = None, locals: Any = None,
                fromlist: Sequence[str] = (), level: int = 0) -> Any:
        top = name.split(".")[0]
        if level == 0 and top in REAL_MODULES:
            if top == "asyncio" and (not fromlist or name == "asyncio"):
                if "asyncio" not in self.modules:
                    self.modules["asyncio"] = self.asyncio_module()
                return self.modules["asyncio"]
            return builtins.__import__(name, globals, locals, fromlist, level)
        dotted = "." * level + name
        return self.probe_module(dotted if fromlist else dotted.split(".")[0] or dotted)

    def namespace(self) -> "_Namespace":
        own_builtins = dict(builtins.__dict__)
        own_builtins["__import__"] = self.import_
        own_builtins["print"] = Probe(self, "print")
        own_builtins["open"] = Probe(self, "open")
        own_builtins["input"] = Probe(self, "input")
        ns = _Namespace(self, own_builtins)
        ns["__builtins__"] = own_builtins
        ns["__name__"] = "probed_module"
        return ns


class _Namespace(dict):
    """Module globals in which every name the module never defines is a probe."""

    def __init__(self, run: Run, own_builtins: Dict[str, Any]) -> None:
        super().__init__()
        self.run = run
        self.own_builtins = own_builtins

    def __missing__(self, name: str) -> Any:
        if name in self.own_builtins:
            raise KeyError(name)  # found in the builtins next
        if name in self.run.exception_names or name in self.run.cancelled_names:
            value: Any = self.run.exception_class(name)
        else:
            value = self.run.probe_module(name)
        self[name] = value
        return value


# -- the module -----------------------------------------------------------------------------------
def _dotted(node: ast.AST) -> Optional[str]:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return None


def exception_names(tree: ast.AST) -> FrozenSet[str]:
    """The last part of every name used as an exception class (clauses, raise, isinstance), and
    the original name of each import aliased to one."""
    found: Set[str] = set()

    def add(node: Optional[ast.AST]) -> None:
        if isinstance(node, ast.Tuple):
            for element in node.elts:
                add(element)
        elif node is not None:
            name = _dotted(node)
            if name:
                found.add(name)

    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler):
            add(node.type)
        elif isinstance(node, ast.Raise):
            add(node.exc)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("isinstance", "issubclass") and len(node.args) == 2):
            add(node.args[1])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname in found:
                    found.add(alias.name)
    return frozenset(found)


@dataclass(eq=False)
class Module:
    """A module's text, compiled once, run afresh in each run (hashed by identity)."""

    text: str
    label: str
    # The last part of each name configured as a cancellation (--cancelled-names): here, an alias
    # of asyncio.CancelledError.
    cancelled_names: FrozenSet[str] = frozenset()
    tree: ast.Module = field(init=False)
    code: types.CodeType = field(init=False)
    exceptions: FrozenSet[str] = field(init=False)

    def __post_init__(self) -> None:
        self.tree = ast.parse(self.text)
        self.code = compile(self.text, self.filename, "exec")
        self.exceptions = exception_names(self.tree)

    @property
    def filename(self) -> str:
        return f"<probed {self.label}>"


def _probe_arguments(run: Run, function: Callable[..., Any]) -> Tuple[list, dict]:
    args: list = []
    kwargs: dict = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            args.append(Probe(run, parameter.name))
        elif parameter.kind is parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = Probe(run, parameter.name)
    return args, kwargs


def _instance(run: Run, cls: type) -> Any:
    """An instance of ``cls`` made without its ``__init__``, whose missing attributes are probes."""

    def __getattr__(self: Any, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        value = Probe(run, f"self.{attr}")
        try:
            object.__setattr__(self, attr, value)
        except (AttributeError, TypeError):
            pass
        return value

    probed = type(cls.__name__, (cls,), {"__getattr__": __getattr__})
    return probed.__new__(probed)


def _entry(run: Run, ns: Dict[str, Any], qualname: str) -> Tuple[Callable[..., Any], List[str]]:
    """The callable for the module-level function or the method of a module-level class that
    ``qualname`` names (or encloses), and the names of the nested functions still to reach."""
    parts = qualname.split(".")
    top = dict.get(ns, parts[0])
    if top is None:
        raise HarnessError(f"{parts[0]} is not defined at module level")
    if isinstance(top, type):
        if len(parts) < 2:
            raise HarnessError(f"{qualname} is a class")
        return getattr(_instance(run, top), parts[1]), parts[2:]
    return top, parts[1:]


async def _call(run: Run, function: Callable[..., Any]) -> Any:
    args, kwargs = _probe_arguments(run, function)
    result = function(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def _raised_at(run: Run, error: BaseException) -> Optional[int]:
    """The module's innermost line in the exception's traceback."""
    line = None
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == run.filename:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _raised_in(run: Run, error: BaseException) -> Optional[int]:
    """The module's line that raised the exception first, if the module did."""
    traceback = error.__traceback__
    if traceback is None:
        return None
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback.tb_lineno if traceback.tb_frame.f_code.co_filename == run.filename else None


async def _drive(run: Run, ns: Dict[str, Any], qualname: str) -> Outcome:
    loop = asyncio.get_running_loop()
    run.loop = loop
    run.reached = asyncio.Event()
    run.stuck = asyncio.Event()
    function, nested = _entry(run, ns, qualname)

    async def body() -> Any:
        try:
            result = await _call(run, function)
            for name in nested:  # the enclosing function hands back the nested one
                if not (inspect.isfunction(result) and result.__name__ == name):
                    raise HarnessError(f"{qualname}: the enclosing function does not return {name}")
                result = await _call(run, result)
            return result
        except BaseException as escaped:
            run.escaped = escaped
            raise

    task = run.task = loop.create_task(body())
    stuck = loop.create_task(run.stuck.wait())
    while True:
        reached = loop.create_task(run.reached.wait())
        done, _ = await asyncio.wait({task, stuck, reached}, timeout=WALL_CLOCK,
                                     return_when=asyncio.FIRST_COMPLETED)
        reached.cancel()
        if run.reached.is_set() and not task.done() and not run.stuck.is_set():
            run.reached.clear()
            run.cancels_sent += 1
            task.cancel(CANCEL_MESSAGE)
            continue
        break
    stuck.cancel()
    run.over = True
    if isinstance(run.escaped, HarnessError):
        raise run.escaped
    if run.exhausted:
        return Outcome("exhausted")
    if not task.done():
        return Outcome("hung")
    if task.cancelled():
        escaped = run.escaped
        # Its own: the CancelledError the driver's cancel() raised, carrying its message, or one
        # that asyncio raised for it on the way (gather hands on a child's) rather than a new
        # instance the module raised itself.
        own = escaped is not None and (
            escaped is run.injected
            or CANCEL_MESSAGE in getattr(escaped, "args", ())
            or (run.cancels_sent > 0 and _raised_in(run, escaped) is None)
        )
        return Outcome("cancelled", "CancelledError", own)
    error = task.exception()
    if error is not None:
        return Outcome("raised", type(error).__name__, raised_at=_raised_at(run, error))
    return Outcome("returned", type(task.result()).__name__)


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """Stop what the run left behind (a task that swallows every cancellation is abandoned)."""
    for _ in range(3):
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not pending:
            break
        for task in pending:
            task.cancel()
        for _ in range(3):
            loop.run_until_complete(asyncio.sleep(0))
    for task in asyncio.all_tasks(loop):
        if not task.done():
            try:
                task.get_coro().close()
            except RuntimeError:
                pass
            task._log_destroy_pending = False  # type: ignore[attr-defined]
    try:
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


def execute(module: Module, qualname: str, mode: Mode, plan: Optional[Plan] = None) -> RunResult:
    """Run ``qualname`` (a coroutine function of ``module``) once, from a fresh namespace and a
    fresh event loop; ``plan`` says what happens at which suspension points (none: it runs to
    its end)."""
    run = Run(module.filename, mode, dict(plan or {}), module.exceptions, module.cancelled_names)
    ns = run.namespace()
    exec(module.code, ns)  # noqa: S102 - the fixture's own code, with probes for what it lacks
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: None)  # children's errors are the code's
    try:
        outcome = loop.run_until_complete(_drive(run, ns, qualname))
        result = RunResult(outcome, tuple(run.log), tuple(run.suspension_lines), run.target_index)
    finally:
        _finish(loop)
    return result


# -- where a finding is in the code ---------------------------------------------------------------
@dataclass(frozen=True)
class Site:
    """The code a finding is about: the ``try`` (or ``with``) whose body is awaited, and the
    handler's lines."""

    body: Tuple[int, int]  # first and last line of the awaited block
    handler: Optional[Tuple[int, int]]  # the handler's lines (None for a ``with``)
    statement: ast.stmt  # the whole try / with statement
    outer: Optional["Site"]  # the handler this statement is in, if any: reached only through it

    def in_body(self, lines: Lines) -> bool:
        return any(self.body[0] <= line <= self.body[1] for line in lines)

    def in_handler(self, lines: Lines) -> bool:
        handler = self.handler
        return handler is not None and any(handler[0] <= line <= handler[1] for line in lines)


def _parents(tree: ast.AST) -> Dict[ast.AST, ast.AST]:
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _end(node: ast.AST) -> int:
    return getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]


def _site(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> Site:
    if isinstance(node, ast.ExceptHandler):
        statement = parents[node]
        handler: Optional[Tuple[int, int]] = (node.lineno, _end(node))
    else:
        statement, handler = node, None
    body = (statement.body[0].lineno, _end(statement.body[-1]))  # type: ignore[attr-defined]
    outer = None
    ancestor = parents.get(statement)
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef)
    while ancestor is not None and not isinstance(ancestor, scopes):
        if isinstance(ancestor, ast.ExceptHandler):
            outer = _site(ancestor, parents)
            break
        ancestor = parents.get(ancestor)
    return Site(body, handler, statement, outer)  # type: ignore[arg-type]


def site_of(tree: ast.Module, line: int) -> Optional[Site]:
    """The site of a finding at ``line``: the ``with`` statement that starts there, else the
    smallest handler that contains it."""
    parents = _parents(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.With, ast.AsyncWith)) and node.lineno == line:
            return _site(node, parents)
    handlers = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler) and node.lineno <= line <= _end(node)
    ]
    if not handlers:
        return None
    return _site(min(handlers, key=lambda node: _end(node) - node.lineno), parents)


def functions(tree: ast.Module) -> Dict[str, ast.AST]:
    """Every function by its dotted name (``Class.method``, ``outer.inner``)."""
    found: Dict[str, ast.AST] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[prefix + child.name] = child
                walk(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return found


def function_at(tree: ast.Module, line: int) -> Optional[str]:
    """The innermost function that contains ``line``."""
    best: Optional[Tuple[str, ast.AST]] = None
    for name, node in functions(tree).items():
        if node.lineno <= line <= (node.end_lineno or node.lineno):
            if best is None or node.lineno >= best[1].lineno:
                best = (name, node)
    return best[0] if best else None
