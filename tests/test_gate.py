"""The gate is an optimisation: splitting and ordering its searches must not change its answer."""

import re
from pathlib import Path

import pytest

from flake8_cancel.engine import Engine
from flake8_cancel.gate import Gate, alternatives
from flake8_cancel.rules import all_rules, rule_for
from flake8_cancel.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "fixtures").glob("*.py"))]
TEXTS += [
    "",
    "async def f():\n    pass\n",
    "x = 'CancelledError'\n",
    "try:\n    pass\nexcept:\n    pass\n",
    "finally:\n    return\n",
    "with suppress(BaseException):\n    await x\n",
]


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("CancelledError|BaseException|except\\s*:", ["CancelledError", "BaseException", "except\\s*:"]),
        ("a(?:b|c)|d", ["a(?:b|c)", "d"]),
        ("[|]x|y", ["[|]x", "y"]),
        ("[]|]x|y", ["[]|]x", "y"]),
        ("a\\|b|c", ["a\\|b", "c"]),
        ("(a|b)\\1", ["(a|b)\\1"]),  # a group: kept whole
        ("(?m)^a|b", ["(?m)^a|b"]),  # inline flags: kept whole
        ("plain", ["plain"]),
    ],
)
def test_alternatives_split_only_at_the_top_level(pattern, expected):
    assert alternatives(pattern) == expected


def naive_search(pattern, text):
    parts = (pattern,) if isinstance(pattern, str) else pattern
    return all(re.search(part, text) for part in parts)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_each_rules_gate_answers_as_its_patterns_searched_whole(rule):
    settings = Settings(extra_cancelled_names=("curio.TaskCancelled",), extra_suppressors=("mypkg.quiet",))
    gate = Gate([rule.gate_pattern(settings)])
    pattern = rule.gate_pattern(settings)
    answers = [gate.search(text) for text in TEXTS]
    assert answers == [naive_search(pattern, text) for text in TEXTS]
    assert any(answers), "some fixture must pass each rule's gate"


ALIAS_ONLY = (
    "import asyncio\n\nasync def f():\n    try:\n        await asyncio.wait_for(future, 1)\n"
    "    except TimeoutError:\n        pass\n"
)


def test_a_rule_that_cannot_fire_for_the_target_version_leaves_the_gate():
    assert not rule_for("CAN202").applies_to((3, 11))
    for target, passed, findings in (((3, 9), 1, ["CAN202"]), ((3, 11), 0, [])):
        engine = Engine(Settings(target_version=target))
        assert [finding.code for finding in engine.check(ALIAS_ONLY)] == findings
        assert engine.statistics.counts["gate passed"] == passed
