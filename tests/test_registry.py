"""The registry is the single source: README table, CHANGELOG and spec slugs agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flake8_cancel.registry import rules_table
from flake8_cancel.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
RULES = all_rules()


def test_readme_rule_table_is_generated_from_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- rules-table:start -->\n(.*?)\n<!-- rules-table:end -->", readme, re.S)
    assert match, "README lacks the rules-table markers"
    assert match.group(1) == rules_table(RULES), (
        "README rule table is stale: paste the output of "
        "`python -c 'from flake8_cancel.registry import rules_table; from flake8_cancel.rules import all_rules; print(rules_table(all_rules()))'`"
    )


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_changelog_mentions_every_code(rule):
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert rule.code in changelog


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_module_is_named_after_code_and_slug(rule):
    module = rule.__module__.rsplit(".", 1)[-1]
    assert module == f"{rule.code.lower()}_{rule.slug.replace('-', '_')}"

