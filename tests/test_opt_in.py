"""CAN110 is opt-in: off unless its full code is selected, in flake8 and in the CLI alike.

Driven through flake8 and the command line in process (in_process.py), and once through both in
processes of their own.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, Set

import pytest

from flake8_cancel.rules import rule_for
from in_process import run_cli, run_flake8

SOURCE = '''\
import asyncio
from contextlib import suppress


async def stop(worker):
    worker.cancel()
    try:
        await worker
    except asyncio.CancelledError:  # child-cancel
        pass


async def stop_with_suppress(worker):
    worker.cancel()
    with suppress(asyncio.CancelledError):  # child-cancel
        await worker


async def stop_partially(worker, strict):
    worker.cancel()
    try:
        await worker
    except asyncio.CancelledError:  # child-cancel
        if strict:
            raise


async def not_the_idiom(worker, other):
    worker.cancel()
    try:
        await other
    except asyncio.CancelledError:  # twin: CAN101
        pass
    with suppress(asyncio.CancelledError):  # twin: CAN107
        await other
'''
# The lines of the child-cancel idiom (CAN110's) and of its twins that await something else.
LINES = list(enumerate(SOURCE.splitlines(), start=1))
CHILD_CANCEL = {number for number, text in LINES if text.endswith("# child-cancel")}
NOT_THE_IDIOM = {
    number: text.rsplit(" ", 1)[-1] for number, text in LINES if "# twin: " in text
}
OUTPUT = re.compile(r"^[^:]+:(?P<line>\d+):\d+: (?P<code>CAN\d+) ", re.M)


@pytest.fixture
def checked(tmp_path: Path) -> Path:
    (tmp_path / "child.py").write_text(SOURCE)
    return tmp_path


def findings(tool: str, cwd: Path, *options: str, in_process: bool = True) -> Dict[int, Set[str]]:
    """Line -> codes that ``tool`` ("flake8" or "cli") reports for child.py."""
    if not in_process:
        module = "flake8" if tool == "flake8" else "flake8_cancel"
        isolated = ["--isolated"] if tool == "flake8" else []
        done = subprocess.run(
            [sys.executable, "-m", module, *isolated, *options, "child.py"],
            capture_output=True, text=True, cwd=cwd,
        )
    elif tool == "flake8":
        done = run_flake8("--isolated", *options, "child.py", cwd=cwd)
    else:
        done = run_cli(*options, "child.py", cwd=cwd)
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    found: Dict[int, Set[str]] = defaultdict(set)
    for match in OUTPUT.finditer(done.stdout):
        found[int(match.group("line"))].add(match.group("code"))
    return dict(found)


TOOLS = ["flake8", "cli"]


def test_can110_is_registered_off_by_default():
    assert rule_for("CAN110").default_enabled is False


# flake8 itself turns an `extend_default_ignore` code on whenever `select` names a prefix of it
# (an explicit select beats an implicit ignore, whatever the lengths), and drops the extended
# default ignore list altogether as soon as `ignore` is given (`ignore = E203` in a config file).
# The plugin keeps CAN110 off there itself, by checking that the full code was selected (as
# flake8-bugbear does for its B9 codes).


@pytest.mark.parametrize(
    "tool, options",
    [
        pytest.param("flake8", (), id="flake8-default"),
        pytest.param("cli", (), id="cli-default"),
        pytest.param("flake8", ("--select=CAN",), id="flake8-select-CAN"),
        pytest.param("cli", ("--select=CAN",), id="cli-select-CAN"),
        pytest.param("flake8", ("--select=CAN1",), id="flake8-select-CAN1"),
        pytest.param("cli", ("--select=CAN1",), id="cli-select-CAN1"),
        pytest.param("flake8", ("--ignore=E501",), id="flake8-ignore"),
        pytest.param("flake8", ("--extend-ignore=E501",), id="flake8-extend-ignore"),
        pytest.param("cli", ("--ignore=CAN2",), id="cli-ignore"),
    ],
)
def test_off_by_default(checked, tool, options):
    found = findings(tool, checked, *options)
    assert found == {line: {code} for line, code in NOT_THE_IDIOM.items()}


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize(
    "options",
    [("--extend-select=CAN110",), ("--select=CAN", "--extend-select=CAN110"), ("--select=CAN110",)],
    ids=["extend-select", "select-CAN-extend-select", "select-CAN110"],
)
def test_naming_the_code_turns_it_on(checked, tool, options):
    found = findings(tool, checked, *options)
    for line in CHILD_CANCEL:
        assert found.get(line) == {"CAN110"}, line
    if "--select=CAN110" in options:
        assert set(found) == CHILD_CANCEL
    else:
        assert {line: codes for line, codes in found.items() if line not in CHILD_CANCEL} == {
            line: {code} for line, code in NOT_THE_IDIOM.items()
        }


@pytest.mark.parametrize("tool", TOOLS)
def test_ignore_wins_over_extend_select_of_a_prefix(checked, tool):
    found = findings(tool, checked, "--extend-select=CAN1", "--ignore=CAN110")
    assert not any("CAN110" in codes for codes in found.values())


@pytest.mark.parametrize("tool", TOOLS)
def test_a_site_is_never_both_can110_and_can101_or_can107(checked, tool):
    everything = findings(tool, checked, "--select=CAN", "--extend-select=CAN110")
    for line, codes in everything.items():
        assert not ("CAN110" in codes and codes & {"CAN101", "CAN102", "CAN107"}), (line, codes)
    # Turning CAN110 off does not hand the idiom to another rule.
    default = findings(tool, checked)
    assert not set(default) & CHILD_CANCEL


@pytest.mark.parametrize(
    "in_process", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["in_process", "process"]
)
def test_both_tools_agree(checked, in_process):
    for options in [(), ("--extend-select=CAN110",)]:
        by_flake8 = findings("flake8", checked, *options, in_process=in_process)
        assert by_flake8 == findings("cli", checked, *options, in_process=in_process)
        # Off by default, on when named: the two runs differ on exactly the idiom's lines.
        assert (set(by_flake8) & CHILD_CANCEL) == (CHILD_CANCEL if options else set())
