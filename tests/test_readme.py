"""The README's example is one that was run: its "before" fixes into its "after"."""

from __future__ import annotations

import re
from pathlib import Path

from in_process import run_cli

ROOT = Path(__file__).resolve().parent.parent


def block_after(marker: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\n```python\n(.*?)```", readme, re.S)
    assert match, f"README lacks the {marker} example"
    return match.group(1)


def test_before_reports_the_marked_lines_and_fixes_into_after(tmp_path):
    before = block_after("before")
    target = tmp_path / "example.py"
    target.write_text(before)
    marked = [
        (number, re.search(r"# (CAN\d+)", line).group(1))
        for number, line in enumerate(before.splitlines(), start=1)
        if re.search(r"# CAN\d+", line)
    ]
    lint = run_cli("example.py", cwd=tmp_path)
    assert [(int(line.split(":")[1]), line.split()[1]) for line in lint.stdout.splitlines()] == marked
    fix = run_cli("--fix", "--unsafe-fixes", "example.py", cwd=tmp_path)
    assert fix.returncode in (0, 1) and fix.stderr.startswith("Fixed "), fix.stderr
    fixed = re.sub(r"  # CAN\d+:.*", "", target.read_text())
    assert fixed == block_after("after")


def test_configuration_example_is_accepted_by_the_loader(tmp_path):
    """Every key of the README's [tool.flake8-cancel] example is one the CLI accepts."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```toml\n(\[tool\.flake8-cancel\]\n.*?)```", readme, re.S)
    assert match, "README lacks the configuration example"
    (tmp_path / "pyproject.toml").write_text(match.group(1))
    (tmp_path / "app.py").write_text("x = 1\n")
    done = run_cli("app.py", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")


def test_the_setup_cfg_example_means_what_the_pyproject_example_means(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    toml = re.search(r"```toml\n(\[tool\.flake8-cancel\]\n.*?)```", readme, re.S).group(1)
    ini = re.search(r"```ini\n(\[flake8\]\n.*?)```", readme, re.S).group(1)
    shown = {}
    for name, text in (("pyproject.toml", toml), ("setup.cfg", ini)):
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        (folder / name).write_text(text)
        done = run_cli("--show-settings", ".", cwd=folder)
        assert done.returncode == 0, done.stderr
        shown[name] = [
            re.sub(r"  \[.*\]$| \(from .*?\)", "", line) for line in done.stdout.splitlines()[1:]
        ]
    assert shown["pyproject.toml"] == shown["setup.cfg"]
