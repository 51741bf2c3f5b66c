"""The fix-safety model: a fix is safe only when it changes nothing but letting the task's own
cancellation go on, after the handler's own work; each doubt makes it unsafe, and a fix that
would add a finding is not applied at all (flake8_cancel/fix_safety.py, fixer.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from flake8_cancel.engine import Engine
from flake8_cancel.fix_safety import doubts
from flake8_cancel.fixer import fix_availability, fix_bytes
from flake8_cancel.rules import all_rules
from flake8_cancel.settings import Settings

ENGINE = Engine(Settings(target_version=(3, 11)), all_rules())


def availability(source: str) -> dict:
    return {
        issue.finding.line: (issue.finding.code, fix_availability(issue), doubts(issue.site))
        for issue in ENGINE.analyze(textwrap.dedent(source))
        if issue.finding.code in ("CAN101", "CAN103", "CAN104")
    }


def test_a_handler_with_nothing_after_it_gets_a_safe_fix():
    found = availability("""\
        import asyncio
        async def f(q):
            try:
                await q.get()
            except asyncio.CancelledError:
                pass
    """)
    assert found == {5: ("CAN101", "safe", [])}


@pytest.mark.parametrize(
    "after, doubt",
    [
        ("    q.task_done()\n", "code after the handler would be skipped: q.task_done()"),
        ("    return await q.flush()\n", "code after the handler would be skipped"),
    ],
)
def test_work_after_the_handler_makes_the_fix_unsafe(after, doubt):
    source = (
        "import asyncio\nasync def f(q):\n    try:\n        await q.get()\n"
        "    except asyncio.CancelledError:\n        pass\n" + after
    )
    ((code, fix, found),) = availability(source).values()
    assert (code, fix) == ("CAN101", "unsafe") and found[0].startswith(doubt)


@pytest.mark.parametrize("after", ["    log.info('stopped')\n", "    return None\n", ""])
def test_logging_or_a_plain_return_after_the_handler_is_no_work(after):
    source = (
        "import asyncio\nasync def f(q):\n    try:\n        await q.get()\n"
        "    except asyncio.CancelledError:\n        pass\n" + after
    )
    ((code, fix, found),) = availability(source).values()
    assert (code, fix, found) == ("CAN101", "safe", [])


def test_the_rest_of_a_for_loop_is_work_but_a_while_loop_is_the_swallowing_itself():
    found = availability("""\
        import asyncio
        async def close_all(connections):
            for connection in connections:
                try:
                    await connection.close()
                except asyncio.CancelledError:
                    pass
        async def worker(q):
            while True:
                try:
                    await q.get()
                except asyncio.CancelledError:
                    pass
    """)
    assert found[6][:2] == ("CAN101", "unsafe") and "the rest of the loop" in found[6][2][0]
    assert found[12] == ("CAN101", "safe", [])


def test_awaiting_an_existing_task_may_catch_its_cancellation():
    found = availability("""\
        import asyncio
        async def f(task):
            try:
                await task
            except asyncio.CancelledError:
                pass
    """)
    ((code, fix, found_doubts),) = found.values()
    assert (code, fix) == ("CAN101", "unsafe")
    assert found_doubts == ["the CancelledError may be a task's or future's it awaits, not this task's"]


def test_an_enclosing_handler_of_the_cancellation_makes_the_fix_unsafe():
    found = availability("""\
        import asyncio
        async def f(q):
            try:
                try:
                    await q.get()
                except asyncio.CancelledError:
                    pass
            except BaseException:
                raise
    """)
    assert found[6][:2] == ("CAN101", "unsafe")
    assert "an enclosing handler of the function would catch the cancellation" in found[6][2]


def test_a_fix_that_would_add_a_finding_is_not_applied_and_says_why():
    # Renaming the futures CancelledError lets CAN101 see the handler, but CAN101's own fix is
    # unsafe there (the next try would be skipped): the rename alone would add a finding.
    source = textwrap.dedent("""\
        from concurrent.futures import CancelledError
        async def f(c):
            try:
                await c.get()
            except CancelledError:
                pass
            await c.close()
    """).encode()
    result = fix_bytes(source, ENGINE)
    assert result.data == source
    assert [(f.code, why) for f, why in result.not_applied] == [("CAN109", "it would add CAN101")]
    assert [(f.code, fix) for f, fix in result.remaining] == [("CAN109", None)]


@pytest.mark.slow
def test_the_command_line_names_a_fix_it_did_not_apply(tmp_path):
    target = tmp_path / "m.py"
    target.write_text(
        "from concurrent.futures import CancelledError\nasync def f(c):\n    try:\n"
        "        await c.get()\n    except CancelledError:\n        pass\n    await c.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "flake8_cancel", "--target-version=3.11", "--fix", "m.py"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "m.py:5:5: CAN109 fix not applied: it would add CAN101" in done.stderr


@pytest.mark.parametrize(
    "settings, path_files, fixable",
    [
        (Settings(target_version=(3, 11)), {}, "unsafe"),
        (Settings(), {"setup.cfg": "[options]\npython_requires = >=3.11\n"}, "unsafe"),
        (Settings(), {"setup.py": "setup(python_requires='>=3.12')\n"}, "unsafe"),
        # Assumed, not declared: cancelling() may not exist where the code runs.
        (Settings(), {}, None),
        (Settings(), {"setup.cfg": "[options]\npython_requires = >=3.10\n"}, None),
    ],
)
def test_the_cancelling_guard_needs_a_declared_3_11_target(tmp_path, settings, path_files, fixable):
    for name, text in path_files.items():
        (tmp_path / name).write_text(text)
    module = tmp_path / "m.py"
    module.write_text(
        "import asyncio\nasync def f(t):\n    t.cancel()\n    try:\n        await t\n"
        "    except asyncio.CancelledError:\n        pass\n"
    )
    engine = Engine(settings, all_rules())
    issues = engine.analyze(module.read_text(), path=str(module))
    assert [(i.finding.code, fix_availability(i)) for i in issues] == [("CAN110", fixable)]


def test_a_task_made_by_a_framework_wrapper_has_an_owner_too():
    found = availability("""\
        import asyncio
        class Monitor:
            def start(self):
                self.task = self.hass.async_create_task(self.run())
            async def run(self):
                try:
                    await self.device.read()
                except asyncio.CancelledError:
                    pass
            async def stop(self):
                self.task.cancel()
                await self.task
    """)
    ((code, fix, found_doubts),) = found.values()
    assert (code, fix) == ("CAN101", "unsafe")
    assert found_doubts == ["a task running this coroutine is cancelled and awaited without a handler"]


@pytest.mark.parametrize(
    "package, fixed",
    [
        # trio's own modules name its Cancelled through their relative imports;
        ("trio", "        if isinstance(exc, _core.Cancelled):\n            raise\n"),
        # anyio's cannot name get_cancelled_exc_class() without importing anyio into itself.
        ("anyio", None),
    ],
)
def test_a_fix_in_a_trio_or_anyio_package_speaks_its_language(tmp_path, package, fixed):
    # Their own modules import themselves relatively, so no import names them: the package does.
    module = tmp_path / "src" / package / "_core" / "m.py"
    module.parent.mkdir(parents=True)
    (module.parent.parent / "__init__.py").write_text("")
    (module.parent / "__init__.py").write_text("")
    source = (
        "from .. import _core\nasync def f(c):\n    try:\n        await c.x()\n"
        "    except BaseException:\n        c.log()\n"
    )
    module.write_text(source)
    issues = ENGINE.analyze(source, path=str(module))
    assert [i.finding.code for i in issues] == ["CAN104"]
    result = fix_bytes(source.encode(), ENGINE, path=str(module), unsafe=True).data.decode()
    assert "asyncio" not in result
    if fixed is None:
        assert result == source
    else:
        assert fixed in result


def test_no_fix_brings_asyncio_into_a_module_that_uses_trio(tmp_path):
    source = (
        "import trio\nasync def f(c):\n    try:\n        await trio.sleep(1)\n"
        "    except BaseException:\n        pass\n"
    )
    result = fix_bytes(source.encode(), ENGINE, unsafe=True).data.decode()
    assert "asyncio" not in result and "except trio.Cancelled:\n        raise" in result


def test_the_function_around_a_nested_coroutine_can_be_its_owner():
    found = availability("""\
        import asyncio
        async def test_external_cancellation(channel, result):
            async def callback():
                try:
                    await channel.publish()
                except BaseException as exc:
                    result.set_result(exc)
            task = asyncio.create_task(callback())
            task.cancel()
            await task
    """)
    ((code, fix, found_doubts),) = found.values()
    assert (code, fix) == ("CAN104", "unsafe")
    assert found_doubts == ["a task running this coroutine is cancelled and awaited without a handler"]
