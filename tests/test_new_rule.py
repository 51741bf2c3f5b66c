"""scripts/new_rule.py scaffolds a rule that registers, sits in the rules' layer, and a fixture."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def scaffold(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    for folder in ("flake8_cancel", "scripts"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "fixtures").mkdir(exist_ok=True)
    shutil.copy(ROOT / "CHANGELOG.md", tmp_path / "CHANGELOG.md")
    return subprocess.run(
        [sys.executable, str(tmp_path / "scripts" / "new_rule.py"), *arguments],
        capture_output=True, text=True, cwd=tmp_path,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "site, hook",
    [("handler", "check_handler"), ("with", "report_with"), ("function", "report_function")],
)
def test_the_scaffold_registers_a_rule_with_a_fixture_and_a_changelog_line(tmp_path, site, hook):
    done = scaffold(tmp_path, "CAN199", "example-thing", "--site", site)
    assert done.returncode == 0, done.stderr
    module = tmp_path / "flake8_cancel" / "rules" / "can199_example_thing.py"
    probe = (
        "from flake8_cancel.rules import rule_for\n"
        "rule = rule_for('CAN199')\n"
        f"print(rule.slug, '{hook}' in vars(rule), rule.fix_safety.value)\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert loaded.stdout.split() == ["example-thing", "True", "none"], loaded.stderr
    assert "## Not reported" in module.read_text(encoding="utf-8")
    assert "# error: CAN199" in (tmp_path / "fixtures" / "CAN199.py").read_text(encoding="utf-8")
    assert "- CAN199 `example-thing`" in (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_scaffold_refuses_a_code_in_use(tmp_path):
    done = scaffold(tmp_path, "CAN101", "something-new")
    assert done.returncode == 2
    assert "CAN101 cancelled-error-swallowed exists already" in done.stderr
    assert not list((tmp_path / "fixtures").iterdir())
