"""``# noqa`` as flake8 reads it, checked against flake8 itself: the command line (and the
fixer) silence exactly what flake8 silences; and ``--add-noqa``, whose comments flake8 honours.

In process (in_process.py), both front ends on the same files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Set, Tuple

import pytest

from in_process import run_cli, run_flake8

HANDLER = "    try:\n        await asyncio.sleep(1)\n    except asyncio.CancelledError:{}\n        pass\n"


def swallow(comment: str = "", name: str = "f") -> str:
    return f"\n\nasync def {name}():\n" + HANDLER.format(comment)


HEAD = "import asyncio\n"
CASES = {
    "bare.py": HEAD + swallow("  # noqa"),
    "capitals.py": HEAD + swallow("  # NOQA"),
    "code.py": HEAD + swallow("  # noqa:CAN101"),
    "code_and_space.py": HEAD + swallow("  # noqa: E501 CAN101"),
    "prefix.py": HEAD + swallow("  # noqa: CAN1"),
    "lower_case_code.py": HEAD + swallow("  # noqa: can101"),  # flake8 silences nothing
    "other_code.py": HEAD + swallow("  # noqa: E501"),
    "after_a_comment.py": HEAD + swallow("  # why # noqa: CAN101"),
    "no_space.py": HEAD + swallow("  #noqa"),  # not flake8's spelling
    # flake8: noqa only on a line of its own turns the whole file off ...
    "file_noqa.py": "# flake8: noqa\n" + HEAD + swallow(),
    "file_noqa_codes.py": "# flake8: noqa: E501\n" + HEAD + swallow(),
    "file_noqa_equals.py": "# FLAKE8=NOQA\n" + HEAD + swallow(),
    # ... and is nothing after code.
    "file_noqa_after_code.py": HEAD.rstrip("\n") + "  # flake8: noqa\n" + swallow(),
    # A string over several lines is one range: a noqa after it counts for its first line; a
    # line break inside brackets is not (flake8 ends a range at every NL token).
    "tuple_over_lines.py": HEAD + "\n\nasync def f():\n    try:\n        await asyncio.sleep(1)\n"
    "    except (asyncio.CancelledError,\n            KeyboardInterrupt):  # noqa: CAN101\n        pass\n",
    "string_over_lines.py": HEAD + "\n\nasync def f():\n    try:\n        await asyncio.sleep(1)\n"
    "    except asyncio.CancelledError:\n        raise asyncio.CancelledError('''a\nb''')  "
    "# noqa: CAN106\n",
}
FINDING = re.compile(r"^(?:\./)?([^:]+):(\d+):\d+: (CAN\d+) ", re.M)


def found(stdout: str) -> Set[Tuple[str, int, str]]:
    return {(path, int(line), code) for path, line, code in FINDING.findall(stdout)}


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    for name, text in CASES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_command_line_silences_what_flake8_silences(cases):
    by_flake8 = found(run_flake8("--isolated", "--select=CAN", *CASES, cwd=cases).stdout)
    by_cli = found(run_cli(*CASES, cwd=cases).stdout)
    assert by_cli == by_flake8
    # The cases are not all alike: some are silenced, some not.
    assert {path for path, _, _ in by_flake8} == {
        "lower_case_code.py", "other_code.py", "no_space.py", "file_noqa_after_code.py",
        "tuple_over_lines.py",
    }


def test_the_fixer_leaves_what_flake8_silences(cases):
    run_cli("--fix", *CASES, cwd=cases)
    unchanged = {name for name, text in CASES.items() if (cases / name).read_text() == text}
    assert unchanged == set(CASES) - {
        "lower_case_code.py", "other_code.py", "no_space.py", "file_noqa_after_code.py",
        "tuple_over_lines.py",
    }


ADOPT = {
    "plain.py": HEAD + swallow() + swallow(name="g"),
    "merged.py": HEAD + swallow("  # noqa: E501"),
    "commented.py": HEAD + swallow("  # keep this"),
    "string.py": CASES["string_over_lines.py"].replace("  # noqa: CAN106", ""),
}


def test_add_noqa_silences_every_finding_for_both_front_ends(tmp_path):
    for name, text in ADOPT.items():
        (tmp_path / name).write_text(text)
    before = found(run_cli(*ADOPT, cwd=tmp_path).stdout)
    assert {path for path, _, _ in before} == set(ADOPT)
    done = run_cli("--add-noqa", *ADOPT, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == f"Added {len(before)} noqa comments\n"
    assert run_cli(*ADOPT, cwd=tmp_path).stdout == ""
    assert run_flake8("--isolated", "--select=CAN", *ADOPT, cwd=tmp_path).stdout == ""
    merged = (tmp_path / "merged.py").read_text()
    assert "except asyncio.CancelledError:  # noqa: CAN101, E501\n" in merged
    assert "  # keep this  # noqa: CAN101\n" in (tmp_path / "commented.py").read_text()
    # After the string that spans lines, never inside it.
    assert "b''')  # noqa: CAN106\n" in (tmp_path / "string.py").read_text()
    again = run_cli("--add-noqa", *ADOPT, cwd=tmp_path)
    assert again.stderr == "Added 0 noqa comments\n"


def test_a_noqa_on_the_first_line_silences_can001_for_both_front_ends(tmp_path):
    # Valid Python that libcst refuses (thousands of adjacent strings): the plugin and the
    # command line cannot check it, and report CAN001 at 1:1, which a noqa there silences.
    refused = HEAD + swallow() + "y = (" + " ".join(['"a"'] * 5000) + ")\n"
    (tmp_path / "loud.py").write_text(refused)
    (tmp_path / "quiet.py").write_text(refused.replace(HEAD, "import asyncio  # noqa: CAN001\n"))
    for done in (run_flake8("--isolated", "--select=CAN", "loud.py", "quiet.py", cwd=tmp_path),
                 run_cli("loud.py", "quiet.py", cwd=tmp_path)):
        assert found(done.stdout) == {("loud.py", 1, "CAN001")}
