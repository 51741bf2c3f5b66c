"""The libcst codemod, run as its users run it: it reads the project's configuration as the
command line does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

SWALLOW = (
    "import asyncio\n\n\nasync def f():\n    try:\n        await asyncio.sleep(1)\n"
    "    except asyncio.CancelledError:\n        pass\n"
)
FILES = {
    "pyproject.toml": (
        '[tool.flake8-cancel]\nignore = ["CAN103"]\nexclude = ["generated"]\n'
        'per-file-ignores = { "quiet/*" = ["CAN101"] }\ntarget-version = "3.10"\n'
        'cancelled-names = ["curio.TaskCancelled"]\n'
    ),
    # CAN103, which `ignore` turns off
    "bare.py": "async def g(c):\n    try:\n        await c.x()\n    except:\n        pass\n",
    # CAN101 only with `cancelled-names`
    "curio_swallow.py": (
        "import curio\n\n\nasync def f():\n    try:\n        await curio.sleep(1)\n"
        "    except curio.TaskCancelled:\n        pass\n"
    ),
    "quiet/swallow.py": SWALLOW,  # per-file-ignores
    "generated/swallow.py": SWALLOW,  # exclude
    # CAN202 only with target-version before 3.11
    "timeout.py": (
        "import asyncio\n\n\nasync def f(reader):\n    try:\n"
        "        return await asyncio.wait_for(reader.read(), 5)\n"
        "    except TimeoutError:\n        return b''\n"
    ),
}


def make_project(folder: Path) -> Path:
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def contents(folder: Path) -> Dict[str, str]:
    return {name: (folder / name).read_text(encoding="utf-8") for name in FILES}


@pytest.mark.slow
def test_the_codemod_fixes_what_the_command_line_fixes_under_the_same_configuration(tmp_path):
    codemodded = make_project(tmp_path / "codemod")
    fixed = make_project(tmp_path / "cli")
    done = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "--no-format",
         "-x", "flake8_cancel.codemod.FixCancellation", "."],
        capture_output=True, text=True, cwd=codemodded,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    subprocess.run([sys.executable, "-m", "flake8_cancel", "--fix", "."], cwd=fixed,
                   capture_output=True, check=False)

    changed = sorted(name for name, text in contents(codemodded).items() if text != FILES[name])
    assert changed == ["curio_swallow.py", "timeout.py"]
    assert contents(codemodded) == contents(fixed)
    assert "except asyncio.TimeoutError:" in contents(codemodded)["timeout.py"]


@pytest.mark.slow
def test_a_configuration_error_skips_the_file_and_names_the_key(tmp_path):
    project = make_project(tmp_path)
    (project / "pyproject.toml").write_text('[tool.flake8-cancel]\nignore = ["CAN999"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "--no-format",
         "-x", "flake8_cancel.codemod.FixCancellation", "bare.py"],
        capture_output=True, text=True, cwd=project,
    )
    assert "[tool.flake8-cancel] ignore: 'CAN999'" in done.stderr
    assert "Traceback" not in done.stderr
    assert (project / "bare.py").read_text() == FILES["bare.py"]
