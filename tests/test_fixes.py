"""--fix, --diff and the codemod: expected outputs, idempotence, and the invariants of fixing.

The fixtures are fixed in process, once per session (fixture_tools); test_front_ends.py checks
that the real command line and codemod write the same bytes. The command line's own behaviour
(--diff, the summary, encodings, file modes) is driven in process too (in_process.py).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fixture_tools import (
    FIXTURE_NAMES,
    FIXTURES,
    SELECT_ALL,
    engine_for,
    fixture,
    fixed,
    lint,
    linted,
)
from flake8_cancel.edits import Fix
from flake8_cancel.engine import Engine
from flake8_cancel.fixer import FileChanged, fix_bytes, write_atomically
from in_process import run_cli, run_flake8


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(SELECT_ALL, *args, cwd=cwd, text=False)


def _expected_path(name: str, unsafe: bool) -> Path:
    return FIXTURES / (name[: -len(".py")] + (".unsafe" if unsafe else "") + ".fixed.py")


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixed_output_matches_the_expected_file(name, unsafe, request):
    """`X.fixed.py` holds the safe fixes; `X.unsafe.fixed.py` exists where unsafe fixes differ."""
    result = fixed(name, unsafe)
    assert result.problem is None
    got = result.data
    reference = fixed(name, False).data if unsafe else fixture(name).data
    expected_file = _expected_path(name, unsafe)
    if request.config.getoption("--regenerate-fixed"):
        if got != reference:
            expected_file.write_bytes(got)
        elif expected_file.exists():
            expected_file.unlink()
        return
    if got == reference:
        assert not expected_file.exists(), f"{expected_file.name} is stale: nothing to fix"
    else:
        assert expected_file.exists(), f"missing {expected_file.name}; run pytest --regenerate-fixed"
        assert got == expected_file.read_bytes()


def test_expected_outputs_have_no_orphans():
    stems = {name[: -len(".py")] for name in FIXTURE_NAMES}
    for fixed_file in FIXTURES.glob("*.fixed.py"):
        stem = fixed_file.name[: -len(".fixed.py")].removesuffix(".unsafe")
        assert stem in stems, f"{fixed_file.name} has no fixture"


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_second_fix_changes_nothing(name, unsafe):
    first = fixed(name, unsafe)
    if first.data == fixture(name).data:
        # A second run would repeat the first on the same bytes; what can go wrong is a count
        # of fixes that changed nothing.
        assert first.fixed == Counter()
        return
    again = fix_bytes(first.data, engine_for(fixture(name).options), unsafe=unsafe)
    assert again.problem is None
    assert again.data == first.data
    assert again.fixed == Counter()
    assert again.remaining == first.remaining  # and what the first run said remains, remains


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixes_add_no_finding_of_another_code(name):
    item = fixture(name)
    before = Counter(code for _, code in item.expected)
    data = fixed(name, True).data
    found = linted(name) if data == item.data else lint(data, item.options)
    after = Counter(finding.code for finding in found)
    assert not (after - before), f"fixing added {after - before}"


def test_diff_writes_nothing_and_exits_one(tmp_path):
    source = (FIXTURES / "CAN103.py").read_bytes()
    target = tmp_path / "CAN103.py"
    target.write_bytes(source)
    before = os.stat(target)
    done = cli("--target-version=3.11", "--diff", "CAN103.py", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith(b"--- CAN103.py\n+++ CAN103.py\n")
    assert b"+    except asyncio.CancelledError:\n" in done.stdout
    assert target.read_bytes() == source and os.stat(target).st_mtime_ns == before.st_mtime_ns
    assert b"Would fix" in done.stderr
    clean = tmp_path / "clean.py"
    clean.write_text("async def f():\n    await g()\n")
    assert cli("--diff", "clean.py", cwd=tmp_path).returncode == 0


def test_summary_line(tmp_path):
    shutil.copyfile(Path(__file__).parent.parent / "examples" / "shutdown_hang.py", tmp_path / "x.py")
    done = cli("--fix", "x.py", cwd=tmp_path)
    assert done.stderr.decode().strip() == "Fixed 3 findings (1 remaining)"
    assert done.returncode == 1
    assert [line.split()[1] for line in done.stdout.decode().splitlines()] == [b"CAN102".decode()]


def test_noqa_marked_findings_are_never_fixed(tmp_path):
    for marker in ("# noqa", "# noqa: CAN103", "# noqa:CAN103"):
        source = "async def f(c):\n    try:\n        await c.x()\n    except:  " + marker + "\n        pass\n"
        target = tmp_path / "n.py"
        target.write_text(source)
        cli("--fix", "n.py", cwd=tmp_path)
        assert target.read_text() == source
    other = "async def f(c):\n    try:\n        await c.x()\n    except:  # noqa: CAN101\n        pass\n"
    target.write_text(other)
    cli("--fix", "n.py", cwd=tmp_path)
    assert "except asyncio.CancelledError:" in target.read_text()


BARE = "async def f(c):{nl}\ttry:{nl}\t\tawait c.x(){nl}\texcept:{nl}\t\tpass{nl}"


@pytest.mark.parametrize(
    "name, original, expected",
    [
        ("crlf.py", b"import asyncio\r\n" + BARE.format(nl="\r\n").encode(),
         b"import asyncio\r\nasync def f(c):\r\n\ttry:\r\n\t\tawait c.x()\r\n"
         b"\texcept asyncio.CancelledError:\r\n\t\traise\r\n\texcept:\r\n\t\tpass\r\n"),
        ("bom.py", b"\xef\xbb\xbfimport asyncio\n" + BARE.format(nl="\n").encode(),
         b"\xef\xbb\xbfimport asyncio\nasync def f(c):\n\ttry:\n\t\tawait c.x()\n"
         b"\texcept asyncio.CancelledError:\n\t\traise\n\texcept:\n\t\tpass\n"),
        ("latin1.py", b"# -*- coding: latin-1 -*-\nimport asyncio\nS = '\xe9'\n" + BARE.format(nl="\n").encode(),
         b"# -*- coding: latin-1 -*-\nimport asyncio\nS = '\xe9'\nasync def f(c):\n\ttry:\n\t\tawait c.x()\n"
         b"\texcept asyncio.CancelledError:\n\t\traise\n\texcept:\n\t\tpass\n"),
        ("no_final_newline.py", b"import asyncio\n" + BARE.format(nl="\n").encode().rstrip(b"\n"),
         b"import asyncio\nasync def f(c):\n\ttry:\n\t\tawait c.x()\n"
         b"\texcept asyncio.CancelledError:\n\t\traise\n\texcept:\n\t\tpass"),
    ],
)
def test_bytes_outside_the_edit_are_kept(tmp_path, name, original, expected):
    target = tmp_path / name
    target.write_bytes(original)
    done = cli("--fix", name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == expected


def test_import_is_added_when_the_module_has_no_name_for_it(tmp_path):
    target = tmp_path / "m.py"
    target.write_text('"""Doc."""\nimport logging\n\n\nasync def f(c):\n    try:\n        await c.x()\n    except BaseException:\n        logging.exception("x")\n')
    cli("--fix", "m.py", cwd=tmp_path)
    assert target.read_text() == (
        '"""Doc."""\nimport logging\nimport asyncio\n\n\nasync def f(c):\n    try:\n        await c.x()\n'
        '    except BaseException as exc:\n        logging.exception("x")\n'
        '        if isinstance(exc, asyncio.CancelledError):\n            raise\n'
    )


def test_existing_names_are_reused(tmp_path):
    target = tmp_path / "m.py"
    target.write_text("from asyncio import CancelledError as Stop\n\n\nasync def f(c):\n    try:\n        await c.x()\n    except:\n        pass\n")
    cli("--fix", "m.py", cwd=tmp_path)
    assert "    except Stop:\n        raise\n    except:\n" in target.read_text()
    target.write_text("import asyncio as aio\n\n\nasync def f(c):\n    try:\n        await c.x()\n    except:\n        pass\n")
    cli("--fix", "m.py", cwd=tmp_path)
    assert "    except aio.CancelledError:\n        raise\n" in target.read_text()
    assert "import asyncio\n" not in target.read_text()


def test_file_mode_and_symlink_are_kept_and_no_temporary_file_is_left(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(BARE.format(nl="\n"))
    real.chmod(0o754)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    cli("--fix", "link.py", cwd=tmp_path)
    assert link.is_symlink()
    assert "CancelledError" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o754
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.py", "real.py"]


def test_a_file_changed_since_it_was_read_is_not_overwritten(tmp_path):
    target = tmp_path / "t.py"
    target.write_bytes(b"changed by someone else\n")
    with pytest.raises(FileChanged):
        write_atomically(str(target), b"fixed\n", expected=b"what we read\n")
    assert target.read_bytes() == b"changed by someone else\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.py"]


def test_a_fix_that_breaks_the_code_leaves_the_file_unchanged(monkeypatch):
    import libcst as cst

    from flake8_cancel.rules.can103_bare_except_swallows_cancellation import (
        BareExceptSwallowsCancellation,
    )

    def broken_fix(self, site, node=None):
        def rebuild(handler):
            return handler.with_changes(type=cst.Name("await"))  # `except await:`

        return Fix(((site.node, rebuild),))

    monkeypatch.setattr(BareExceptSwallowsCancellation, "build_fix", broken_fix)
    source = BARE.format(nl="\n").encode()
    result = fix_bytes(source, Engine())
    assert result.data == source
    assert result.problem is not None and "file left unchanged" in result.problem


def test_unsafe_fixes_need_the_flag(tmp_path):
    target = tmp_path / "t.py"
    source = (
        "import asyncio\n\n\nasync def f(c):\n    async with asyncio.timeout(1):\n        try:\n"
        "            await c.x()\n        except TimeoutError:\n            c.cleanup()\n"
    )
    target.write_text(source)
    cli("--fix", "t.py", cwd=tmp_path)
    assert target.read_text() == source
    cli("--fix", "--unsafe-fixes", "t.py", cwd=tmp_path)
    assert target.read_text() == source.replace(
        "except TimeoutError:\n            c.cleanup()\n",
        "except asyncio.CancelledError:\n            c.cleanup()\n            raise\n",
    )


@pytest.mark.slow
def test_codemod_command_applies_the_same_fixes(tmp_path):
    """The codemod as libcst's tool runs it, in a process of its own."""
    example = Path(__file__).parent.parent / "examples" / "shutdown_hang.py"
    for name in ("by_cli.py", "by_codemod.py"):
        shutil.copyfile(example, tmp_path / name)
    cli("--fix", "by_cli.py", cwd=tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "--no-format", "--hide-progress", "-x",
         "flake8_cancel.codemod.FixCancellation", "by_codemod.py"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "by_codemod.py").read_bytes() == (tmp_path / "by_cli.py").read_bytes()
    assert (tmp_path / "by_cli.py").read_bytes() != example.read_bytes()


def test_flake8_never_writes(tmp_path):
    target = tmp_path / "t.py"
    target.write_text(BARE.format(nl="\n"))
    before = target.read_bytes()
    done = run_flake8("--select=CAN", "t.py", cwd=tmp_path)
    assert done.stdout.startswith("t.py:4:2: CAN103 ")  # it found what --fix would fix
    assert target.read_bytes() == before


def test_a_fix_builder_that_fails_leaves_the_file_unchanged(monkeypatch):
    from flake8_cancel.rules.can103_bare_except_swallows_cancellation import (
        BareExceptSwallowsCancellation,
    )

    def failing_fix(self, site, node=None):
        def rebuild(handler):
            raise ValueError("cannot build")

        return Fix(((site.node, rebuild),))

    monkeypatch.setattr(BareExceptSwallowsCancellation, "build_fix", failing_fix)
    source = BARE.format(nl="\n").encode()
    result = fix_bytes(source, Engine())
    assert result.data == source
    assert result.problem is not None and "cannot build" in result.problem
