"""Every fixture, through the real flake8 and the real CLI: exact findings, and both agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fixture_tools import FIXTURES, ROOT, expected_findings, fixture_files, run_tools
from flake8_cancel.rules import rule_for

FILES = fixture_files()


@pytest.fixture(scope="module")
def reported():
    return run_tools(ROOT, FILES)


def _relative(path: Path) -> str:
    return str(path.resolve().relative_to(ROOT))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_flake8_reports_exactly_the_annotations(path, reported):
    expected = expected_findings(path.read_text(encoding="utf-8"))
    got = {(line, code) for _, line, _, code in reported["flake8"][_relative(path)]}
    assert got == expected


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_cli_agrees_with_flake8(path, reported):
    key = _relative(path)
    assert sorted(reported["cli"][key]) == sorted(reported["flake8"][key])


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_column_points_at_the_rule_anchor(path, reported):
    lines = path.read_text(encoding="utf-8").splitlines()
    for _, line, column, code in reported["flake8"][_relative(path)]:
        assert re.match(rule_for(code).anchor, lines[line - 1][column - 1:]), (line, code)


def test_every_code_has_a_firing_fixture():
    from flake8_cancel.rules import all_rules

    annotated = set()
    for path in FILES:
        annotated |= {code for _, code in expected_findings(path.read_text(encoding="utf-8"))}
    assert {rule.code for rule in all_rules()} <= annotated


@pytest.mark.parametrize("marker", ["# noqa: {codes}", "# noqa", "# NOQA:{codes}"])
def test_noqa_variants_are_silent(tmp_path, marker):
    """Each `# error: CODES` annotation turned into a noqa comment silences that finding."""
    copies = []
    replaced = 0
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        text, count = re.subn(
            r"# error: (CAN\d+(?:\s*,\s*CAN\d+)*)",
            lambda m: marker.format(codes=m.group(1).replace(" ", "")),
            text,
        )
        replaced += count
        copy = tmp_path / path.name
        copy.write_text(text, encoding="utf-8")
        copies.append(copy)
    assert replaced > 20
    results = run_tools(tmp_path, copies)
    assert dict(results["flake8"]) == {}
    assert dict(results["cli"]) == {}


def test_noqa_for_another_code_does_not_silence(tmp_path):
    source = (FIXTURES / "CAN101.py").read_text(encoding="utf-8")
    copy = tmp_path / "other_code.py"
    copy.write_text(re.sub(r"# error: CAN\d+(?:\s*,\s*CAN\d+)*", "# noqa: E501", source), encoding="utf-8")
    expected = expected_findings(source)
    results = run_tools(tmp_path, [copy])
    for tool in ("flake8", "cli"):
        assert {(line, code) for _, line, _, code in results[tool]["other_code.py"]} == expected


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_each_rules_own_gate_admits_the_files_it_reports_in(path):
    """The cheap gate is an optimisation: it must never hide a finding. Checked rule by rule,
    so that another rule's looser gate cannot hide a gate that is too strict."""
    from fixture_tools import cli_options
    from flake8_cancel.cli import _overrides, _parser
    from flake8_cancel.config import build_config
    from flake8_cancel.gate import Gate

    text = path.read_text(encoding="utf-8")
    settings = build_config({}, str(ROOT), "<fixture>", _overrides(_parser().parse_args(list(cli_options(text))))).settings
    for code in {code for _, code in expected_findings(text)}:
        assert Gate([rule_for(code).gate_pattern(settings)]).search(text), code
