"""Every fixture, in process: exactly the annotated findings, at the rule's anchor, and silenced by
``# noqa``. (test_front_ends.py checks that real flake8 and the real command line report the same.)
"""

from __future__ import annotations

import re

import pytest

from fixture_tools import (
    FIXTURE_NAMES,
    NOQA_MARKERS,
    all_fixtures,
    engine_for,
    fixture,
    lint,
    linted,
    run_config,
    with_noqa,
)
from flake8_cancel.fixer import fix_bytes
from flake8_cancel.gate import Gate
from flake8_cancel.rules import all_rules, rule_for


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_findings_are_exactly_the_annotations(name):
    assert {(finding.line, finding.code) for finding in linted(name)} == fixture(name).expected


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_column_points_at_the_rule_anchor(name):
    lines = fixture(name).text.splitlines()
    for finding in linted(name):
        at = lines[finding.line - 1][finding.column:]
        assert re.match(rule_for(finding.code).anchor, at), (finding.line, finding.code, at)


def test_every_code_has_a_firing_fixture():
    annotated = set()
    for item in all_fixtures():
        annotated |= {code for _, code in item.expected}
    assert {rule.code for rule in all_rules()} <= annotated


@pytest.mark.parametrize("marker", NOQA_MARKERS)
def test_noqa_variants_are_silent(marker):
    """Each `# error: CODES` annotation turned into a noqa comment silences that finding."""
    replaced = 0
    for item in all_fixtures():
        text, count = with_noqa(item.text, marker)
        replaced += count
        assert lint(text.encode("utf-8"), item.options) == [], item.name
    assert replaced > 20


def test_nothing_a_noqa_comment_names_is_fixed():
    """The fixer, unsafe fixes included, leaves a file whose every finding is marked as it is.
    (The codes named: the spelling where the fixer must match each finding's code.)"""
    for item in all_fixtures():
        data = with_noqa(item.text, "# noqa: {codes}")[0].encode("utf-8")
        result = fix_bytes(data, engine_for(item.options), unsafe=True)
        fixed_nothing = (result.data, sum(result.fixed.values()), result.remaining) == (data, 0, [])
        assert fixed_nothing, item.name


def test_noqa_for_another_code_does_not_silence():
    item = fixture("CAN101.py")
    text = re.sub(r"# error: CAN\d+(?:\s*,\s*CAN\d+)*", "# noqa: E501", item.text)
    found = lint(text.encode("utf-8"), item.options)
    assert {(finding.line, finding.code) for finding in found} == item.expected


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_each_rules_own_gate_admits_the_files_it_reports_in(name):
    """The cheap gate is an optimisation: it must never hide a finding. Checked rule by rule,
    so that another rule's looser gate cannot hide a gate that is too strict."""
    item = fixture(name)
    settings = run_config(item.options).settings
    for code in {code for _, code in item.expected}:
        assert Gate([rule_for(code).gate_pattern(settings)]).search(item.text), code
