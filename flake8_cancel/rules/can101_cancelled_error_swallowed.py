from __future__ import annotations

from flake8_cancel.edits import reraise_at_end
from flake8_cancel.gate import cancellation_names
from flake8_cancel.registry import FixSafety, Rule, register
from flake8_cancel.screen import Named, handler
from flake8_cancel.sites import HandlerSite


@register
class CancelledErrorSwallowed(Rule):
    """
    ## What it does
    Checks for `except asyncio.CancelledError:` handlers in async code that never re-raise the
    cancellation: every path through the handler falls off its end, returns, or leaves a loop.

    ## Why is this bad?
    `Task.cancel()` works by raising `CancelledError` at the task's current `await`. A handler
    that swallows it makes the task carry on as if nothing happened: `asyncio.timeout()` and
    `wait_for` no longer time out, `TaskGroup` cannot stop its children, and `asyncio.run` hangs on
    shutdown. On Python 3.11+ the task's `cancelling()` count also stays raised, which breaks the
    next `timeout()` or `TaskGroup` the task enters.

    Any spelling counts: `asyncio.CancelledError`, `asyncio.exceptions.CancelledError`, an
    imported or aliased name, a tuple containing it, and `except*`. Names are resolved from the
    module's imports, so `concurrent.futures.CancelledError` (a different class) is not reported
    here. A name imported from another module of the same project, relative or absolute
    (`from .const import CONNECT_ERRORS`), means what its definition there means, resolved in
    that module's own imports: a tuple `CONNECT_ERRORS = (OSError, asyncio.CancelledError)` in
    `const.py` catches the cancellation wherever it is imported, as if it were defined there.

    ## Example
    ```python
    import asyncio


    async def consume(queue):
        try:
            item = await queue.get()
        except asyncio.CancelledError:
            print("consumer stopped")
    ```

    ## Use instead
    ```python
    import asyncio


    async def consume(queue):
        try:
            item = await queue.get()
        except asyncio.CancelledError:
            print("consumer stopped")
            raise
    ```

    ## Fix safety
    Safe where nothing stands against it, else unsafe. When every swallowing path falls off the
    end of the handler, a bare `raise` is appended after the handler's own code (replacing a lone
    `pass` or `...`; a comment on the placeholder stays, on the `raise`). A clause that also
    catches other exceptions, such as `except (OSError, CancelledError):`, must keep swallowing
    those, so it gets `if isinstance(exc, asyncio.CancelledError): raise` instead, binding a fresh
    name (`as exc`) when it has none. A handler that swallows with `return`, `break` or
    `continue`, or that deliberately ends the cancellation on another path (`uncancel()`, a
    `cancelling()` guard), gets no fix: where to re-raise is a decision for a person.

    The fix is safe only where nothing stands against it: it is unsafe where the `try` awaits
    an existing task or future (the `CancelledError` may be the child's), where code after the
    handler would be skipped (statements after the `try`, the rest of a `for` loop), where an
    enclosing handler of the function would catch the re-raise, where a task running this
    coroutine is cancelled and awaited by its owner without a handler, where the `try` is in a
    trio or anyio scope that the function cancels itself, or where the clause lists
    `CancelledError` among a library's errors (`except (OSError, asyncio.CancelledError):`).
    Never in an `except*` clause (a bare `raise` there ends the task with a
    `BaseExceptionGroup`), nor where it would add `import asyncio` to a trio or anyio module, nor
    where the result would have a new finding (the README's *Fixing* section).

    ## Not reported
    - handlers whose `try` body has no `await`, `async for` or `async with`: the task's
      cancellation cannot arrive there (for example `fut.result()` in a done-callback);
    - code in a sync `def`, a `lambda` or a class body nested in a coroutine;
    - deliberate suppression: a path that calls `<task>.uncancel()`, or that runs only when
      `<task>.cancelling()` is false;
    - handlers in the program's main coroutine, awaited by nobody but the runner: a coroutine
      function of the module (nested ones too) or a method called on a new instance, that the
      module runs with `asyncio.run(main())`, `loop.run_until_complete(main())` (also of
      `loop.create_task(main())`), `asyncio.run(App(args).run())`, `trio.run(main)` or
      `anyio.run(main)`;
    - a clause shielded by an earlier clause of the same `try` that catches `CancelledError`;
    - a tuple of the same name imported from another package (another library's `const.py`, the
      standard library): only the module's own project is read; a tuple imported and then
      assigned again in the module or the function (`ERRORS = (OSError,)`): the new one counts;
      a tuple from a module of the project that is missing, does not parse or is circular;
    - the child-cancel idiom: the function cancelled `t` earlier and the `try` body only awaits
      `t` (CAN110's doc says which forms count): the handler expects `t`'s own cancellation. Its
      remaining risk, swallowing a cancellation of the current task that arrives meanwhile, is
      the opt-in rule CAN110;
    - a `try` body that only awaits what is already done (a plain future the function cancelled
      or completed, tasks an earlier `gather()` finished): it cannot suspend;
    - awaits that no outer cancellation reaches: inside a trio or anyio scope given
      `shield=True` (`with CancelScope(shield=True):`, `move_on_after(5, shield=True)`; a
      shield given by a variable may be off and does not count), whose own cancellation ends at
      the scope, and `await cancel_shielded_checkpoint()`;
    - a path that runs only when `isinstance(exc, asyncio.CancelledError)` is false, for the name
      `exc` the clause binds: it is not the cancellation;
    - a handler that keeps the exception (`errors.append(exc)`, `error = exc`) in a function that
      later raises what it kept (`raise error`, `raise errors[0]`,
      `raise BaseExceptionGroup("...", errors)`, also through a group built first or nested in
      another group);
    - a handler that first hands what it caught on: to a future (`fut.set_exception(exc)`), in
      an outcome that its consumer unwraps (outcome's `Error(exc)`), or by cancelling the future
      that the function resolves on its other paths (`future.cancel()` where it also calls
      `future.set_result(...)`). Whoever awaits that future receives the cancellation (a task
      wrapper); the wrapper task itself then ends normally, which only its owner could notice;
    - a handler that gives the exception to a helper of the module or of its class that raises
      it again wherever it is a cancellation (`await self._handle_error(exc)`, whose body ends
      in `if not isinstance(exc, Exception): raise`), and a path that a context manager's exit,
      called by hand with the exception, chose (`if scope.__exit__(type(exc), exc, tb): return
      True`): the manager decides, as in a `with` statement;
    - a `cancelling()` guard combined with `and` only with checks that the same task exists
      (`(task := asyncio.current_task()) and task.cancelling()`) or with `sys.version_info`
      comparisons: below 3.11 there is no `cancelling()` to ask, and the author has decided what
      older versions do, or with `isinstance(exc, asyncio.CancelledError)` (false: not the
      cancellation). `flag and task.cancelling()` is not a guard: it is false whenever `flag`
      is, cancelling or not.

    anyio's cancellation class is `anyio.get_cancelled_exc_class()`: that call, or a name bound to
    it, counts as `CancelledError` in an `except` clause, an earlier shielding clause and an
    `isinstance` test. Relative imports are followed within the module's package
    (`from .._core import CancelScope` in a package's module).

    ## Libraries
    Every library: asyncio's `CancelledError`, anyio's `get_cancelled_exc_class()` and trio's
    `Cancelled` (any spelling; other libraries through `--cancelled-names`). In trio,
    cancellation is level-triggered: a swallowed `Cancelled` is raised again at the next
    checkpoint inside the cancelled scope, so a handler that goes on awaiting only delays it;
    but one that returns or breaks out ends the task (or leaves the scope) normally, which is
    why trio's documentation and flake8-async (ASYNC103/ASYNC104) say to re-raise it. It is
    reported the same way there, and the fix (a bare `raise`) is the same. trio has no
    `uncancel()`: a deliberate swallow there takes `# noqa: CAN101`. In a trio module, a path of
    the handler that reaches one of trio's own checkpoints (`await trio.aclose_forcefully(s)`,
    outside a shielded scope) ends there, for every rule: the scope is still cancelled, and the
    checkpoint raises `Cancelled` again.

    ## Known problems
    A task's top-level coroutine that ends quietly on cancellation (`except CancelledError:
    return`) is reported: awaiting that task then returns normally instead of raising, and a caller
    that awaits the coroutine directly loses its own cancellation. If the swallowing is
    deliberate, call `asyncio.current_task().uncancel()` (3.11+) to say so, or add `# noqa: CAN101`.

    A name from another module is followed only within the module's own top-level package,
    found from the `__init__.py` files above the file: a module outside a package, in a namespace
    package without `__init__.py`, or read from standard input without `--stdin-filename`
    follows none. Only that module's top level is read (`ERRORS = (...)`, re-exports through
    `from .x import ERRORS` or `import *`, at most 8 in a chain), and a module bigger than
    256 KiB is not read: a tuple built otherwise (`BASE + (CancelledError,)`, in a function) is
    not seen there, as it is not here.
    """

    code = "CAN101"
    slug = "cancelled-error-swallowed"
    message = "CancelledError is swallowed; re-raise it with bare 'raise' after cleanup"
    fix_safety = FixSafety.SOMETIMES
    gate = r"CancelledError"
    screen = handler(Named.CANCELLATION, swallows=True)

    @classmethod
    def gate_pattern(cls, settings):
        return cancellation_names(settings)

    def check_handler(self, site: HandlerSite) -> bool:
        return (
            site.catch.names_cancellation
            and site.swallows_cancellation
            and not site.paths.reraises
            and not site.awaits_cancelled_child
        )

    def build_fix(self, site: HandlerSite, node=None):
        return reraise_at_end(site)
