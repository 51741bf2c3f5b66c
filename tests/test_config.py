"""[tool.flake8-cancel] for the command line, and flags that override it.

Driven in process (in_process.py); standard input also through a real process, where the fixed
source goes out through a real pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from in_process import run_cli

SWALLOW = (
    "import asyncio\n\n\nasync def f():\n    try:\n        await asyncio.sleep(1)\n"
    "    except asyncio.CancelledError:\n        pass\n"
)
BARE = "async def g(c):\n    try:\n        await c.x()\n    except:\n        pass\n"


def run(*args: str, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, stdin=stdin, text=False)


def run_process(*args: str, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_cancel", *args], capture_output=True, cwd=cwd, input=stdin
    )


def codes(done: subprocess.CompletedProcess) -> list:
    return sorted(
        (line.split(b":")[0].decode(), line.split()[1].decode()) for line in done.stdout.splitlines()
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(SWALLOW + "\n\n" + BARE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_app.py").write_text(SWALLOW)
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "stub.py").write_text(BARE)
    return tmp_path


def write_config(project: Path, body: str) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.flake8-cancel]\n' + body)


def test_select_ignore_exclude_and_per_file_ignores_from_the_file(project):
    write_config(
        project,
        'select = ["CAN10"]\nignore = ["CAN104"]\nexclude = ["generated"]\n'
        'per-file-ignores = { "tests/*" = ["CAN101"] }\n',
    )
    done = run(".", cwd=project)
    assert codes(done) == [("./src/app.py", "CAN101"), ("./src/app.py", "CAN103")]


def test_flags_override_the_file(project):
    write_config(project, 'select = ["CAN101"]\n')
    assert codes(run("src", cwd=project)) == [("src/app.py", "CAN101")]
    assert codes(run("--select=CAN103", "src", cwd=project)) == [("src/app.py", "CAN103")]
    write_config(project, 'ignore = ["CAN103"]\n')
    assert codes(run("--ignore=CAN101", "src", cwd=project)) == [("src/app.py", "CAN103")]


def test_extra_names_from_the_file_and_from_flags(project):
    curio = (
        "import curio\n\n\nasync def f():\n    try:\n        await curio.sleep(1)\n"
        "    except curio.TaskCancelled:\n        pass\n"
    )
    (project / "src" / "app.py").write_text(curio)
    assert codes(run("src", cwd=project)) == []
    write_config(project, 'cancelled-names = ["curio.TaskCancelled"]\n')
    assert codes(run("src", cwd=project)) == [("src/app.py", "CAN101")]
    write_config(project, 'cancelled-names = ["other.Thing"]\n')
    assert codes(run("--cancelled-names=curio.TaskCancelled", "src", cwd=project)) == [("src/app.py", "CAN101")]


def test_exclude_applies_to_files_named_on_the_command_line(project):
    # pre-commit passes file names: an excluded file must stay excluded.
    write_config(project, 'exclude = ["generated/*"]\n')
    done = run("generated/stub.py", cwd=project)
    assert (done.returncode, done.stdout) == (0, b"")


@pytest.mark.parametrize(
    "body, named",
    [
        ('selekt = ["CAN101"]\n', "selekt"),
        ('select = "CAN999"\n', "CAN999"),
        ('target-version = "banana"\n', "target-version"),
        ('cancelled-names = ["1bad.name"]\n', "cancelled-names"),
        ('per-file-ignores = ["tests/*:CAN101"]\n', "per-file-ignores"),
        ('exclude = 3\n', "exclude"),
    ],
)
def test_a_wrong_key_or_value_is_an_error_naming_it(project, body, named):
    write_config(project, body)
    done = run("src", cwd=project)
    assert done.returncode == 2
    assert b"[tool.flake8-cancel]" in done.stderr and named.encode() in done.stderr
    assert b"Traceback" not in done.stderr


def test_standard_input_with_a_file_name_for_messages_and_configuration(project):
    write_config(project, 'per-file-ignores = { "tests/*" = ["CAN101"] }\n')
    source = (SWALLOW + "\n\n" + BARE).encode()
    done = run("-", "--stdin-filename", "src/app.py", cwd=project, stdin=source)
    assert codes(done) == [("src/app.py", "CAN101"), ("src/app.py", "CAN103")]
    ignored = run("-", "--stdin-filename", "tests/test_app.py", cwd=project, stdin=SWALLOW.encode())
    assert (ignored.returncode, ignored.stdout) == (0, b"")


@pytest.mark.parametrize(
    "runner", [run, pytest.param(run_process, marks=pytest.mark.slow)], ids=["in_process", "process"]
)
def test_standard_input_fix_writes_the_fixed_source_to_stdout(project, runner):
    done = runner("-", "--fix", "--stdin-filename", "src/app.py", cwd=project, stdin=BARE.encode())
    assert done.stdout == BARE.replace(
        "    except:\n", "    except asyncio.CancelledError:\n        raise\n    except:\n"
    ).replace("async def g", "import asyncio\n\nasync def g").encode()
    assert b"Fixed 1 finding (0 remaining)" in done.stderr
    assert (project / "src" / "app.py").read_text().startswith("import asyncio\n\n\nasync def f")


def test_isolated_reads_no_configuration_file(project):
    # A project whose flake8 selects other plugins' codes only: flake8 would report no CAN
    # finding, and neither does the command line (it warns); --isolated reads neither file.
    (project / ".flake8").write_text("[flake8]\nselect = E,F,W\n")
    write_config(project, 'exclude = ["src"]\n')
    done = run("src", cwd=project)
    assert codes(done) == [] and b"warning" in done.stderr
    isolated = run("--isolated", "src", cwd=project)
    assert codes(isolated) == [("src/app.py", "CAN101"), ("src/app.py", "CAN103")]
