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



def test_messages_speak_the_modules_library():
    from flake8_cancel.engine import Engine
    from flake8_cancel.settings import Settings

    engine = Engine(Settings(target_version=(3, 11)))
    body = "async def f(c):\n    try:\n        await c.x()\n    except {}:\n        raise RuntimeError\n"
    trio = engine.check("import trio\n" + body.format("trio.Cancelled"))
    asyncio = engine.check("import asyncio\n" + body.format("asyncio.CancelledError"))
    assert [(f.code, "uncancel" in f.message) for f in trio] == [("CAN105", False)]
    assert [(f.code, "uncancel" in f.message) for f in asyncio] == [("CAN105", True)]
    swallow = "import trio\nasync def f(c):\n    try:\n        await c.x()\n    except trio.Cancelled:\n        pass\n"
    assert [f.message.split()[0] for f in engine.check(swallow)] == ["Cancelled"]
