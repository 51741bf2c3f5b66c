"""--format=text|full|json|sarif|github, --statistics, --output-file, colours, and --list-rules.

tests/data/sarif-schema-2.1.0.json is the official OASIS SARIF 2.1.0 schema (errata 01, as
published at docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/), kept here so that
the SARIF output is validated on every Python the tests run on.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from flake8_cancel.reporting import Style, colours_wanted
from flake8_cancel.rules import all_rules
from in_process import run_cli

SOURCE = (
    "import asyncio\n\n\nasync def f(c):\n    try:\n        await c.x()\n"
    "    except asyncio.CancelledError:\n        return None\n    try:\n        await c.x()\n"
    "    except:\n        pass\n"
)
SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)
CAN101_MESSAGE = "CancelledError is swallowed; re-raise it with bare 'raise' after cleanup"
CAN103_MESSAGE = (
    "bare 'except:' around an await swallows cancellation; re-raise CancelledError first"
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd)


@pytest.fixture
def checked(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(SOURCE)
    (tmp_path / "pkg" / "broken.py").write_bytes(b"async def f():\n    x = '\xff'\n")
    return tmp_path


def test_text_marks_what_fix_would_fix_and_sums_up(checked):
    done = run("pkg/m.py", cwd=checked)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"pkg/m.py:7:5: CAN101 {CAN101_MESSAGE}",
        f"pkg/m.py:11:5: CAN103 [*] {CAN103_MESSAGE}",
    ]
    assert done.stderr == "Found 2 findings (1 fixable with --fix).\n"


def test_a_file_not_checked_is_can001_at_1_1_and_exit_2(checked):
    done = run("pkg", cwd=checked)
    assert done.returncode == 2
    assert done.stdout.splitlines()[0] == (
        "pkg/broken.py:1:1: CAN001 file not checked: cannot decode as UTF-8"
    )


def test_full_shows_the_source_line_and_a_caret(checked):
    for args in (("--format=full",), ("--show-source",)):
        done = run(*args, "pkg/m.py", cwd=checked)
        assert done.stdout.splitlines()[:3] == [
            f"pkg/m.py:7:5: CAN101 {CAN101_MESSAGE}",
            "    except asyncio.CancelledError:",
            "    ^",
        ]


def test_json_has_positions_fix_edits_and_the_rule(checked):
    done = run("--format=json", "pkg", cwd=checked)
    assert done.returncode == 2
    entries = json.loads(done.stdout)
    assert [(e["filename"], e["code"], e["name"]) for e in entries] == [
        ("pkg/broken.py", "CAN001", "file-not-checked"),
        ("pkg/m.py", "CAN101", "cancelled-error-swallowed"),
        ("pkg/m.py", "CAN103", "bare-except-swallows-cancellation"),
    ]
    can101, can103 = entries[1:]
    assert (can101["location"], can101["end_location"]) == (
        {"row": 7, "column": 5}, {"row": 7, "column": 11}  # the `except` keyword
    )
    assert can101["message"] == CAN101_MESSAGE and can101["fix"] is None
    assert can103["fix"]["applicability"] == "safe"
    # The edits, applied to the file, give what --fix writes.
    lines = SOURCE.splitlines(keepends=True)
    for edit in reversed(can103["fix"]["edits"]):
        start, end = edit["location"], edit["end_location"]
        assert start["column"] == end["column"] == 1
        lines[start["row"] - 1:end["row"] - 1] = [edit["content"]]
    fixed = run("--fix", "pkg/m.py", cwd=checked)
    assert fixed.returncode == 1
    assert "".join(lines) == (checked / "pkg" / "m.py").read_text()
    assert set(can101) == {"filename", "location", "end_location", "code", "name", "message",
                           "fix", "url"}


def test_github_errors_with_end_positions_and_paths_from_the_workspace(checked, monkeypatch):
    monkeypatch.setenv("GITHUB_WORKSPACE", str(checked))
    done = run("--format=github", str(checked / "pkg"), cwd=checked / "pkg")
    assert done.stdout.splitlines() == [
        "::error file=pkg/broken.py,line=1,col=1,endLine=1,endColumn=2,title=CAN001 "
        "file-not-checked::CAN001 file not checked: cannot decode as UTF-8",
        "::error file=pkg/m.py,line=7,col=5,endLine=7,endColumn=11,title=CAN101 "
        f"cancelled-error-swallowed::CAN101 {CAN101_MESSAGE}",
        "::error file=pkg/m.py,line=11,col=5,endLine=11,endColumn=11,title=CAN103 "
        f"bare-except-swallows-cancellation::CAN103 {CAN103_MESSAGE}",
    ]


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_sarif_is_valid_sarif_2_1_0_with_notifications_for_files_not_checked(checked, absolute):
    target = str(checked / "pkg") if absolute else "pkg"
    done = run("--format=sarif", target, cwd=checked)
    document = json.loads(done.stdout)
    jsonschema.validate(document, SCHEMA)
    sarif_run = document["runs"][0]
    assert [rule["id"] for rule in sarif_run["tool"]["driver"]["rules"]] == [
        r.code for r in all_rules()
    ]
    assert all(rule["help"]["text"] for rule in sarif_run["tool"]["driver"]["rules"])
    results = sarif_run["results"]
    assert [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"])
            for r in results] == [
        ("CAN101", "error", {"startLine": 7, "startColumn": 5, "endLine": 7, "endColumn": 11}),
        ("CAN103", "error", {"startLine": 11, "startColumn": 5, "endLine": 11, "endColumn": 11}),
    ]
    uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == ((checked / "pkg" / "m.py").as_uri() if absolute else "pkg/m.py")
    [invocation] = sarif_run["invocations"]
    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert notification["message"]["text"] == "file not checked: cannot decode as UTF-8"
    assert notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "pkg/broken.py"
    )


def test_sarif_of_a_clean_run_is_valid_and_successful(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    done = run("--format=sarif", "ok.py", cwd=tmp_path)
    document = json.loads(done.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["runs"][0]["invocations"][0]["executionSuccessful"] is True
    assert done.returncode == 0


def test_statistics_count_each_code(checked):
    (checked / "pkg" / "more.py").write_text(SOURCE.replace("return None", "pass"))
    done = run("--statistics", "pkg/m.py", "pkg/more.py", cwd=checked)
    assert done.returncode == 1
    assert [line.split("\t") for line in done.stdout.splitlines()] == [
        ["2", "CAN101", "    cancelled-error-swallowed"],  # one of the two has no fix
        ["2", "CAN103", "[*] bare-except-swallows-cancellation"],
    ]


def test_output_file_takes_the_report(checked):
    done = run("--format=json", "--output-file=report.json", "pkg/m.py", cwd=checked)
    assert done.returncode == 1 and done.stdout == ""
    assert [e["code"] for e in json.loads((checked / "report.json").read_text())] == [
        "CAN101", "CAN103",
    ]


def test_exit_zero_keeps_exit_2_for_a_file_not_checked(checked):
    assert run("--exit-zero", "pkg/m.py", cwd=checked).returncode == 0
    assert run("--exit-zero", "pkg", cwd=checked).returncode == 2


@pytest.mark.parametrize(
    "terminal, environ, expected",
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": ""}, True),  # no-color.org: set and not empty
        (False, {"FORCE_COLOR": "1"}, True),
        (False, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    ],
)
def test_colours_on_a_terminal_unless_no_color(terminal, environ, expected):
    assert colours_wanted(terminal, environ) is expected


def test_forced_colours_paint_the_text_report(checked, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    done = run("pkg/m.py", cwd=checked)
    assert Style(True).paint("CAN101", "1;31") in done.stdout
    json_done = run("--format=json", "pkg/m.py", cwd=checked)
    assert "\033[" not in json_done.stdout


def test_list_rules(tmp_path):
    done = run("--list-rules", cwd=tmp_path)
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["code", "name", "default", "fix"]
    assert [line.split()[0] for line in lines[1:]] == [rule.code for rule in all_rules()]
    for line, rule in zip(lines[1:], all_rules()):
        assert line.split()[1:] == [rule.slug, "on" if rule.default_enabled else "off", rule.fix_safety.value]


def test_json_and_sarif_link_each_rule_to_its_page(checked, monkeypatch):
    from flake8_cancel import reporting

    monkeypatch.setattr(reporting, "_documentation_base", lambda: "https://example.org/docs/")
    entries = json.loads(run("--format=json", "pkg/m.py", cwd=checked).stdout)
    assert entries[0]["url"] == "https://example.org/docs/rules/CAN101.md"
    document = json.loads(run("--format=sarif", "pkg/m.py", cwd=checked).stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] == (
        "https://example.org/docs/rules/CAN101.md"
    )
