"""The flake8 plugin, through the real flake8."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flake8_cancel import __version__


def flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args], capture_output=True, text=True, cwd=cwd
    )


def test_version_lists_the_plugin(tmp_path):
    done = flake8("--version", cwd=tmp_path)
    assert f"flake8-cancel: {__version__}" in done.stdout


def test_unparsable_file_yields_only_e999(tmp_path):
    (tmp_path / "bad.py").write_text("async def f(:\n    try:\n        await x\n    except:\n        pass\n")
    done = flake8("--select=E9,CAN", "bad.py", cwd=tmp_path)
    assert [line.split()[1] for line in done.stdout.splitlines()] == ["E999"]
    assert "Traceback" not in done.stderr


def test_file_flake8_parses_but_libcst_cannot_is_skipped_silently(tmp_path):
    # Deep nesting beyond what libcst accepts must not crash flake8.
    depth = 60
    lines = ["async def f():"]
    for level in range(1, depth):
        lines.append("    " * level + "if x:")
    lines.append("    " * depth + "try:\n" + "    " * (depth + 1) + "await x\n"
                 + "    " * depth + "except:\n" + "    " * (depth + 1) + "pass")
    (tmp_path / "deep.py").write_text("\n".join(lines) + "\n")
    done = flake8("--select=CAN", "deep.py", cwd=tmp_path)
    assert done.returncode in (0, 1)
    assert "Traceback" not in done.stderr
    assert all(" CAN103 " in line for line in done.stdout.splitlines())


def test_bad_target_version_is_a_usage_error(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    done = flake8("--cancel-target-version=banana", "ok.py", cwd=tmp_path)
    assert done.returncode != 0
    assert "--cancel-target-version" in done.stderr and "Traceback" not in done.stderr


def test_options_from_flake8_config(tmp_path):
    (tmp_path / "setup.cfg").write_text("[flake8]\ncancel-cancelled-names = trio.Cancelled\nselect = CAN\n")
    (tmp_path / "t.py").write_text(
        "import trio\n\n\nasync def f():\n    try:\n        await trio.sleep(1)\n"
        "    except trio.Cancelled:\n        pass\n"
    )
    done = subprocess.run([sys.executable, "-m", "flake8", "t.py"], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.startswith("t.py:7:5: CAN101 ")


def test_an_internal_error_is_one_line_on_stderr_never_a_traceback(tmp_path):
    # A bug of ours must cost one file's findings, not the user's flake8 run or a traceback.
    (tmp_path / "boom.py").write_text(
        "import asyncio\n\nasync def f():\n    try:\n        await asyncio.sleep(1)\n"
        "    except asyncio.CancelledError:\n        pass\n"
    )
    (tmp_path / "run.py").write_text(
        "import sys\n"
        "from flake8_cancel.engine import Engine\n"
        "def broken(self, *args, **kwargs):\n"
        "    raise KeyError('deliberate')\n"
        "Engine.analyze = broken\n"
        "from flake8.main.cli import main\n"
        "sys.exit(main(['--isolated', '--select=CAN,E9', 'boom.py']))\n"
    )
    done = subprocess.run(
        [sys.executable, "run.py"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0
    assert done.stdout == ""
    assert done.stderr == (
        "flake8-cancel: boom.py not checked: internal error: KeyError: 'deliberate'\n"
    )
