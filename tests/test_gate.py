"""The gate is an optimisation: splitting and ordering its searches must not change its answer."""

import ast
import re
from pathlib import Path

import pytest

from flake8_cancel.engine import Engine
from flake8_cancel.gate import Gate, InHandler, alternatives
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


def clause_of(pattern, text, also=""):
    """The clause an InHandler looks for in ``text``: any ``except`` where an alias may be."""
    widened = pattern.any_clause_if and any(
        re.search(pattern.any_clause_if, t) for t in (text, also)
    )
    return r"except\b" if widened else pattern.clause


def naive_search(pattern, text):
    """Each part searched whole; an InHandler's two searches anywhere in the text (what the
    gate must not pass more than)."""
    parts = pattern if isinstance(pattern, tuple) else (pattern,)
    return all(
        re.search(clause_of(part, text), text) and re.search(part.inside, text)
        if isinstance(part, InHandler) else re.search(part, text) for part in parts
    )


def in_a_handler(pattern, text, also=""):
    """An InHandler's searches in one handler as CPython's tree delimits it (the clause in
    its first line, the other in its lines); None for a text Python cannot parse."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    lines = text.splitlines(keepends=True)
    clause = clause_of(pattern, text, also)
    return any(
        re.match(rf"[ \t\f]*{clause}", lines[node.lineno - 1])
        and re.search(pattern.inside, "".join(lines[node.lineno - 1:node.end_lineno]))
        for node in ast.walk(tree) if isinstance(node, ast.ExceptHandler)
    )


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_each_rules_gate_answers_as_its_patterns_searched_whole(rule):
    settings = Settings(extra_cancelled_names=("curio.TaskCancelled",), extra_suppressors=("mypkg.quiet",))
    gate = Gate([rule.gate_pattern(settings)])
    pattern = rule.gate_pattern(settings)
    answers = [gate.search(text) for text in TEXTS]
    if isinstance(pattern, InHandler):
        # Never narrower than one handler as Python reads it, never wider than both anywhere.
        for text, answer in zip(TEXTS, answers):
            assert answer or not in_a_handler(pattern, text), text
            assert naive_search(pattern, text) or not answer, text
    else:
        assert answers == [naive_search(pattern, text) for text in TEXTS]
    assert any(answers), "some fixture must pass each rule's gate"


CAN111_GATE = rule_for("CAN111").gate_pattern(Settings())
SEND = "async def send(conn):\n    try:\n        await conn.send()\n"


@pytest.mark.parametrize("text, also, passes", [
    (SEND + "    except Exception:\n        await conn.aclose()\n        raise\n", "", True),
    (SEND + "    except (Exception):\n        await conn.aclose()\n        raise\n", "", True),
    (SEND + "    except Exception:\n        await conn.connClose()\n        raise\n", "", True),
    (SEND + "    except OSError:\n        await conn.aclose()\n        raise\n", "", False),
    # an alias of Exception, here or imported from the project, and builtins under a name
    ("Broad = Exception\n" + SEND + "    except Broad:\n        await conn.aclose()\n"
     "        raise\n", "", True),
    (SEND + "    except Broad:\n        await conn.aclose()\n        raise\n",
     "Broad = (builtins.Exception,)\n", True),
    ("import builtins as b\n" + SEND + "    except b.Exception:\n        await conn.aclose()\n"
     "        raise\n", "", True),
    (SEND + "    except Broad:\n        await conn.aclose()\n        raise\n",
     "Broad = (builtins.OSError,)\n", False),
])
def test_cleanup_in_a_handler_of_exception_in_any_spelling_passes(text, also, passes):
    assert CAN111_GATE.search(text, also=also) is passes
    assert bool(in_a_handler(CAN111_GATE, text, also)) is passes


RELEASE = InHandler(r"except\s*Exception\b", r"close\s*\(")
HANDLERS = [
    # (text, passes): the call in the handler, or after it
    ("try:\n    f()\nexcept Exception:\n    conn.close()\n    raise\n", True),
    ("try:\n    f()\nexcept Exception:\n    log()\nconn.close()\n", False),
    ("try:\n    f()\nexcept OSError:\n    conn.close()\n    raise\n", False),  # another class
    ("try:\n    f()\nexcept Exception: conn.close(); raise\nx = 1\n", True),
    ("try:\n    f()\nexcept Exception as exc:\n    pass\nfinally:\n    conn.close()\n", False),
    # lines that continue one of the handler's, however little indented
    ('try:\n    f()\nexcept Exception:\n    log("""\nx""", (\n1))\n    conn.close()\n', True),
    ("try:\n    f()\nexcept Exception:\n    log(1,\n2)\n    conn.close()\n", True),
    ("try:\n    f()\nexcept Exception:\n    log(1, \\\n2)\n    conn.close()\n", True),
    ("try:\n    f()\nexcept Exception:\n    log(')')\n    conn.close()\n", True),
    ("try:\n    f()\nexcept Exception:\n    log()  # (\n    conn.close()\n", True),
    ("try:\n    f()\nexcept Exception:\n    log(\"(\")\nconn.close()\n", False),
    ("try:\n    f()\nexcept Exception:\n    log()\n\n# a comment\n    \n    conn.close()\n", True),
    # a comment line less indented does not end the handler; a statement does
    ("if x:\n    try:\n        f()\n    except Exception:\n        pass\n# note\n        conn.close()\n", True),
    ("if x:\n    try:\n        f()\n    except Exception:\n        pass\n    conn.close()\n", False),
    # tabs count to the next multiple of 8; a lone carriage return ends a line
    ("if x:\n\ttry:\n\t\tf()\n\texcept Exception:\n\t\tconn.close()\n", True),
    ("try:\r    f()\rexcept Exception:\r    conn.close()\r    raise\r", True),
    ("try:\r    f()\rexcept Exception:\r    log()\rconn.close()\r", False),
]


@pytest.mark.parametrize("text, passes", HANDLERS)
def test_a_search_in_a_handler_reads_where_the_handler_ends(text, passes):
    assert RELEASE.search(text) is passes
    assert bool(in_a_handler(RELEASE, text.replace("\r", "\n"))) is passes


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
