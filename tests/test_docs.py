"""Each rule's doc is complete, and its examples are tests: Example fires, Use instead is clean."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flake8_cancel.engine import Engine
from flake8_cancel.registry import DOC_HEADINGS, doc_code_blocks, doc_section, rule_page
from flake8_cancel.rules import all_rules
from flake8_cancel.settings import Settings

RULES = all_rules()
# Examples are read as code for Python 3.10: the target version decides only CAN202, which
# exists for code that must still run before 3.11.
ENGINE = Engine(Settings(target_version=(3, 10)))


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_doc_has_every_heading(rule):
    for heading in DOC_HEADINGS:
        assert doc_section(rule.doc(), heading), f"{rule.code} lacks '## {heading}'"


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_example_fires_its_rule(rule):
    blocks = doc_code_blocks(rule.doc(), "Example")
    assert blocks
    for block in blocks:
        codes = {finding.code for finding in ENGINE.check(textwrap.dedent(block))}
        assert rule.code in codes


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_use_instead_is_clean(rule):
    blocks = doc_code_blocks(rule.doc(), "Use instead")
    assert blocks
    for block in blocks:
        assert ENGINE.check(textwrap.dedent(block)) == []


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_first_paragraph_is_a_complete_summary(rule):
    """The README's rule table and SARIF show the first paragraph of "What it does" alone."""
    summary = doc_section(rule.doc(), "What it does").split("\n\n")[0]
    assert summary.endswith("."), f"{rule.code}: {summary[-60:]!r}"


def test_message_states_problem_then_remedy():
    for rule in RULES:
        assert ";" in rule.message and "\n" not in rule.message, rule.code


def test_every_rule_has_its_page_in_docs_rules():
    """The pages the JSON and SARIF reports link to say what the rules' docstrings say."""
    pages = Path(__file__).resolve().parent.parent / "docs" / "rules"
    expected = {f"{rule.code}.md": rule_page(rule) for rule in RULES}
    found = {path.name: path.read_text(encoding="utf-8") for path in pages.glob("*.md")}
    assert found == expected, "docs/rules is stale: run `python scripts/rule_pages.py`"
