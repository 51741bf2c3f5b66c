"""The flake8 plugin, through flake8 (in process, see in_process.py; test_front_ends.py runs the
real flake8 over every fixture)."""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import pytest

from flake8_cancel import __version__
from flake8_cancel.engine import Engine
from flake8_cancel.plugin import Plugin
from in_process import run_flake8

HANDLER = "async def f(c):\n    try:\n        await c.x()\n    except:\n        pass\n"
BARE_MESSAGE = (
    "CAN103 bare 'except:' around an await swallows cancellation; re-raise CancelledError first"
)


def flake8(*args: str, cwd: Path):
    return run_flake8("--isolated", *args, cwd=cwd)


def test_version_lists_the_plugin(tmp_path):
    done = flake8("--version", cwd=tmp_path)
    assert f"flake8-cancel: {__version__}" in done.stdout


def test_unparsable_file_yields_only_e999(tmp_path):
    (tmp_path / "bad.py").write_text("async def f(:\n    try:\n        await x\n    except:\n        pass\n")
    done = flake8("--select=E9,CAN", "bad.py", cwd=tmp_path)
    assert [line.split()[1] for line in done.stdout.splitlines()] == ["E999"]
    assert "Traceback" not in done.stderr


# Valid Python that libcst's parser refuses: thousands of adjacent string literals.
LIBCST_REFUSES = HANDLER + "y = (" + " ".join(['"a"'] * 5000) + ")\n"


def test_valid_python_that_libcst_cannot_parse_is_a_can001_finding(tmp_path):
    ast.parse(LIBCST_REFUSES)  # Python accepts it ...
    with pytest.raises(cst.ParserSyntaxError):  # ... and libcst does not: the case is real
        cst.parse_module(LIBCST_REFUSES)

    # The plugin cannot judge the file's handler: it says so with a finding at 1:1, which fails
    # the run (as flake8's own E902 does), and never raises.
    plugin = Plugin(ast.parse(LIBCST_REFUSES), LIBCST_REFUSES.splitlines(keepends=True), "s.py")
    [(line, column, message, _)] = list(plugin.run())
    assert (line, column) == (1, 0)
    assert message.startswith("CAN001 file not checked: skipped: libcst cannot parse it (line 6: ")

    (tmp_path / "strings.py").write_text(LIBCST_REFUSES)
    done = flake8("--select=CAN,E9", "strings.py", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout.startswith("strings.py:1:1: CAN001 file not checked: skipped: libcst ")


def test_deep_nesting_that_libcst_parses_is_reported_where_it_is(tmp_path):
    depth = 60
    lines = ["async def f():"]
    for level in range(1, depth):
        lines.append("    " * level + "if x:")
    lines.append("    " * depth + "try:\n" + "    " * (depth + 1) + "await x\n"
                 + "    " * depth + "except:\n" + "    " * (depth + 1) + "pass")
    source = "\n".join(lines) + "\n"
    cst.parse_module(source)  # within what libcst parses: the handler must be judged
    (tmp_path / "deep.py").write_text(source)
    done = flake8("--select=CAN", "deep.py", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout == f"deep.py:{depth + 3}:{4 * depth + 1}: {BARE_MESSAGE}\n"


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
    done = run_flake8("t.py", cwd=tmp_path)  # not --isolated: the configuration is the point
    assert done.stdout.startswith("t.py:7:5: CAN101 ")


def test_an_internal_error_is_a_can001_finding_never_a_traceback(tmp_path, monkeypatch):
    # A bug of ours must cost one file's findings, not the user's flake8 run or a traceback,
    # and the run must not pass as if the file were clean.
    (tmp_path / "boom.py").write_text(
        "import asyncio\n\nasync def f():\n    try:\n        await asyncio.sleep(1)\n"
        "    except asyncio.CancelledError:\n        pass\n"
    )

    def broken(self, *args, **kwargs):
        raise KeyError("deliberate")

    monkeypatch.setattr(Engine, "analyze", broken)
    done = flake8("--select=CAN,E9", "boom.py", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout == "boom.py:1:1: CAN001 file not checked: internal error: KeyError: 'deliberate'\n"
