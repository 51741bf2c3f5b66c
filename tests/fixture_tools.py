"""Run fixtures through the real flake8 (with the installed plugin) and the real CLI.

A fixture is ``fixtures/*.py`` (not ``*.fixed.py``). A line ending in ``# error: CAN101`` (or
``# error: CAN101, CAN103``) must get exactly those findings; every other line must get none.
A first line ``# options: --target-version=3.10 --cancelled-names=trio.Cancelled`` passes CLI
options; flake8 gets the same ones with its ``--cancel-`` prefix.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ANNOTATION = re.compile(r"# error: (?P<codes>CAN\d+(?:\s*,\s*CAN\d+)*)\s*$")
OPTIONS = re.compile(r"# options: (?P<options>.*)$")
OUTPUT = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>CAN\d+) ")

# (path relative to the run's root, line, column, code)
Reported = Tuple[str, int, int, str]


def fixture_files() -> List[Path]:
    return sorted(p for p in FIXTURES.glob("*.py") if not p.name.endswith(".fixed.py"))


def expected_findings(source: str) -> Set[Tuple[int, str]]:
    expected = set()
    for number, line in enumerate(source.splitlines(), start=1):
        match = ANNOTATION.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group("codes")):
                expected.add((number, code))
    return expected


def cli_options(source: str) -> Tuple[str, ...]:
    """The fixture's options line; the target version is 3.11 unless it says otherwise, so that
    fixtures do not depend on the pyproject.toml they happen to sit under."""
    first = source.split("\n", 1)[0]
    match = OPTIONS.match(first)
    options = tuple(shlex.split(match.group("options"))) if match else ()
    if not any(option.startswith("--target-version") for option in options):
        options += ("--target-version=3.11",)
    return options


def flake8_options(options: Iterable[str]) -> Tuple[str, ...]:
    return tuple(re.sub(r"^--", "--cancel-", option) for option in options)


def all_codes() -> str:
    from flake8_cancel.rules import all_rules

    return ",".join(rule.code for rule in all_rules())


def _parse(output: str, root: Path) -> List[Reported]:
    found = []
    for line in output.splitlines():
        match = OUTPUT.match(line)
        if match:
            path = Path(match.group("path"))
            relative = str(path.resolve().relative_to(root.resolve()))
            found.append((relative, int(match.group("line")), int(match.group("col")), match.group("code")))
    return found


def run_tools(root: Path, files: Iterable[Path]) -> Dict[str, Dict[str, List[Reported]]]:
    """Findings of {"flake8", "cli"} for each file, grouping files by their options line."""
    groups: Dict[Tuple[str, ...], List[Path]] = defaultdict(list)
    for path in files:
        groups[cli_options(path.read_text(encoding="utf-8", errors="replace"))].append(path)
    results: Dict[str, Dict[str, List[Reported]]] = {"flake8": defaultdict(list), "cli": defaultdict(list)}
    select = f"--select={all_codes()}"
    for options, paths in groups.items():
        names = [str(p) for p in paths]
        commands = {
            "flake8": [sys.executable, "-m", "flake8", "--isolated", select,
                       *flake8_options(options), *names],
            "cli": [sys.executable, "-m", "flake8_cancel", select, *options, *names],
        }
        for tool, command in commands.items():
            done = subprocess.run(command, capture_output=True, text=True, cwd=root)
            assert done.returncode in (0, 1), f"{tool} failed:\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stderr, done.stderr
            for reported in _parse(done.stdout, root):
                results[tool][reported[0]].append(reported)
    return results
