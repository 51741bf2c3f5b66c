"""Real flake8 (with the installed plugin), the real command line and the real codemod, in
processes of their own, against what the engine and the fixer give in process on every fixture.

Each tool runs once per pass over all the fixtures, not once per fixture: a process costs half a
second before it reads a file.

- Linting: flake8 and ``python -m flake8_cancel`` once per options line (flags cannot differ
  between the files of one run), over the fixtures as they are, a copy of each with every
  annotation turned into a ``# noqa`` comment (the spellings taking turns: test_fixtures.py
  tries each spelling on every annotation, in process), and a copy of CAN101.py whose noqa
  comments name another code.
- Fixing: ``--fix``, ``--fix --unsafe-fixes`` and the codemod (safe, and ``--unsafe-fixes``) once
  each over all the fixtures, each options line's fixtures in a folder whose pyproject.toml holds
  the same options: the codemod has no other way to be configured, and so the command line's
  reading of ``[tool.flake8-cancel]`` is checked against its reading of the flags. Then
  ``--fix`` once more over what the first run wrote.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Hashable, List, NamedTuple, Sequence, Set, Tuple

import pytest

from fixture_tools import (
    ALL_CODES,
    FIXTURE_NAMES,
    NOQA_MARKERS,
    SELECT_ALL,
    Fixture,
    Options,
    all_fixtures,
    by_options,
    fixed,
    fixture,
    flake8_options,
    linted,
    printed,
    with_noqa,
)

pytestmark = pytest.mark.slow

OUTPUT = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) ")
Printed = Set[Tuple[int, int, str]]  # line, column, code
NOQA = "noqa"
OTHER_CODE = "noqa_other_code"  # CAN101.py, its noqa comments naming E501


def with_noqa_spellings_in_turn(fixtures: Sequence[Fixture]) -> Tuple[List[str], Dict[str, int]]:
    """Each fixture's text with its annotations turned into noqa comments, the spellings taking
    turns across all the files; and how often each spelling was used."""
    used = {marker: 0 for marker in NOQA_MARKERS}
    texts = []
    for item in fixtures:
        lines = item.text.splitlines(keepends=True)
        for number, line in enumerate(lines):
            marker = NOQA_MARKERS[sum(used.values()) % len(NOQA_MARKERS)]
            lines[number], count = with_noqa(line, marker)
            used[marker] += count
        texts.append("".join(lines))
    return texts, used


Command = Tuple[List[str], Path]  # the arguments, and the folder to run them in


def run_concurrently(
    commands: Dict[Hashable, Command]
) -> Dict[Hashable, subprocess.CompletedProcess]:
    """Every command, as many at a time as there are cores; the results by the same keys."""

    def run(command: Command) -> subprocess.CompletedProcess:
        args, cwd = command
        return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=300)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(commands, pool.map(run, commands.values())))


def by_file(stdout: str) -> Dict[str, Printed]:
    """``path:line:col: CODE message`` lines, by path relative to the run's folder."""
    found: Dict[str, Printed] = {}
    for line in stdout.splitlines():
        match = OUTPUT.match(line)
        assert match, f"not a finding: {line!r}"
        path = os.path.normpath(match.group("path"))
        found.setdefault(path, set()).add(
            (int(match.group("line")), int(match.group("col")), match.group("code"))
        )
    return found


def group_folder(options: Options) -> str:
    return "group_" + re.sub(r"[^A-Za-z0-9]+", "_", " ".join(options)).strip("_")


def pyproject_for(options: Options) -> str:
    """``[tool.flake8-cancel]`` saying what the flags say, every rule selected."""
    values: Dict[str, List[str]] = {}
    for option in options:
        match = re.fullmatch(r"--([a-z-]+)=(.+)", option)
        assert match, f"options line: write {option!r} as --key=value"
        values.setdefault(match.group(1), []).append(match.group(2))
    lines = ["[tool.flake8-cancel]", f"select = {json.dumps(list(ALL_CODES))}"]
    for key, listed in values.items():
        value = listed[0] if len(listed) == 1 else listed
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def write_groups(folder: Path) -> None:
    for options, fixtures in by_options(all_fixtures()).items():
        group = folder / group_folder(options)
        group.mkdir(parents=True)
        (group / "pyproject.toml").write_text(pyproject_for(options))
        for item in fixtures:
            (group / item.name).write_bytes(item.data)


class Fixing(NamedTuple):
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess  # over what the first wrote
    after_first: Dict[str, bytes]  # "group/name" -> the file's bytes
    after_second: Dict[str, bytes]


class Runs(NamedTuple):
    lint: List[subprocess.CompletedProcess]
    flake8: Dict[str, Printed]  # "folder/name" -> what flake8 printed
    cli: Dict[str, Printed]
    fix: Dict[bool, Fixing]  # unsafe? -> the command line's two --fix runs
    codemod: Dict[bool, subprocess.CompletedProcess]
    codemod_output: Dict[bool, Dict[str, bytes]]


def read_groups(folder: Path) -> Dict[str, bytes]:
    return {f"{path.parent.name}/{path.name}": path.read_bytes() for path in folder.glob("*/*.py")}


def write_lint_folders(lint: Path) -> Dict[Options, List[str]]:
    """The copies to lint, in folders; the paths of each options line's files."""
    copies: Dict[str, List[Tuple[Fixture, str]]] = {"plain": [(f, f.text) for f in all_fixtures()]}
    texts, used = with_noqa_spellings_in_turn(all_fixtures())
    assert min(used.values()) >= 10, used
    copies[NOQA] = list(zip(all_fixtures(), texts))
    can101 = fixture("CAN101.py")
    copies[OTHER_CODE] = [
        (can101, re.sub(r"# error: CAN\d+(?:\s*,\s*CAN\d+)*", "# noqa: E501", can101.text))
    ]
    paths: Dict[Options, List[str]] = {}
    for folder, files in copies.items():
        (lint / folder).mkdir(parents=True)
        for item, text in files:
            (lint / folder / item.name).write_text(text, encoding="utf-8")
            paths.setdefault(item.options, []).append(f"{folder}/{item.name}")
    return paths


def unsafe_flag(unsafe: bool) -> List[str]:
    return ["--unsafe-fixes"] if unsafe else []


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("front_ends")
    python = sys.executable
    commands: Dict[Hashable, Command] = {}
    for options, paths in write_lint_folders(root / "lint").items():
        commands["flake8", options] = (
            [python, "-m", "flake8", "--isolated", SELECT_ALL, *flake8_options(options), *paths],
            root / "lint",
        )
        commands["cli", options] = (
            [python, "-m", "flake8_cancel", SELECT_ALL, *options, *paths], root / "lint"
        )
    for unsafe in (False, True):
        mode = "unsafe" if unsafe else "safe"
        write_groups(root / f"fix_{mode}")
        commands["fix", unsafe] = (
            [python, "-m", "flake8_cancel", "--fix", *unsafe_flag(unsafe), "."],
            root / f"fix_{mode}",
        )
        write_groups(root / f"codemod_{mode}")
        commands["codemod", unsafe] = (
            [python, "-m", "libcst.tool", "codemod", "--no-format", "--hide-progress",
             "-x", "flake8_cancel.codemod.FixCancellation", *unsafe_flag(unsafe), "."],
            root / f"codemod_{mode}",
        )
    done = run_concurrently(commands)
    after_first = {unsafe: read_groups(commands["fix", unsafe][1]) for unsafe in (False, True)}
    again = run_concurrently({unsafe: commands["fix", unsafe] for unsafe in (False, True)})

    lint = [run for (tool, _), run in done.items() if tool in ("flake8", "cli")]
    reported: Dict[str, Dict[str, Printed]] = {"flake8": {}, "cli": {}}
    for (tool, _), run in done.items():
        if tool in reported:
            reported[tool].update(by_file(run.stdout))
    return Runs(
        lint,
        reported["flake8"],
        reported["cli"],
        {
            unsafe: Fixing(done["fix", unsafe], again[unsafe], after_first[unsafe],
                           read_groups(commands["fix", unsafe][1]))
            for unsafe in (False, True)
        },
        {unsafe: done["codemod", unsafe] for unsafe in (False, True)},
        {unsafe: read_groups(commands["codemod", unsafe][1]) for unsafe in (False, True)},
    )


def in_group(name: str) -> str:
    return f"{group_folder(fixture(name).options)}/{name}"


def engine_findings(name: str) -> Printed:
    return {printed(finding) for finding in linted(name)}


# -- linting --------------------------------------------------------------------------------------
def test_every_lint_run_ends_with_findings_and_says_nothing_else(runs):
    for run in runs.lint:
        assert run.returncode == 1, run.args
        if run.args[2] == "flake8":
            assert run.stderr == "", run.args
        else:  # the command line's summary
            assert re.fullmatch(r"Found \d+ findings?( \(.*\))?\.\n", run.stderr), run.stderr


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_flake8_prints_what_the_engine_finds(runs, name):
    assert runs.flake8.get(f"plain/{name}", set()) == engine_findings(name)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_cli_prints_what_the_engine_finds(runs, name):
    assert runs.cli.get(f"plain/{name}", set()) == engine_findings(name)


@pytest.mark.parametrize("tool", ["flake8", "cli"])
def test_noqa_variants_silence_every_finding(runs, tool):
    reported = getattr(runs, tool)
    assert any(path.startswith("plain/") for path in reported)  # the same run found them bare
    assert {path: found for path, found in reported.items() if path.startswith(f"{NOQA}/")} == {}


@pytest.mark.parametrize("tool", ["flake8", "cli"])
def test_noqa_for_another_code_does_not_silence(runs, tool):
    reported = getattr(runs, tool)
    assert reported[f"{OTHER_CODE}/CAN101.py"] == engine_findings("CAN101.py")


# -- fixing ---------------------------------------------------------------------------------------
def remaining_by_file(unsafe: bool) -> Dict[str, Printed]:
    return {
        in_group(name): {printed(finding) for finding, _ in fixed(name, unsafe).remaining}
        for name in FIXTURE_NAMES
        if fixed(name, unsafe).remaining
    }


def summary(fixed_count: int, remaining: int) -> str:
    return f"Fixed {fixed_count} finding{'s' * (fixed_count != 1)} ({remaining} remaining)\n"


def not_applied(stderr: str) -> Dict[str, Set[Tuple[int, int, str, str]]]:
    """The command line's ``path:line:col: CODE fix not applied: why`` lines, by path."""
    found: Dict[str, Set[Tuple[int, int, str, str]]] = {}
    for line in stderr.splitlines():
        match = re.match(r"(.+?):(\d+):(\d+): (CAN\d+) fix not applied: (.*)$", line)
        if match:
            path, line_number, column, code, why = match.groups()
            found.setdefault(os.path.normpath(path), set()).add(
                (int(line_number), int(column), code, why)
            )
    return found


def expected_not_applied(unsafe: bool) -> Dict[str, Set[Tuple[int, int, str, str]]]:
    return {
        in_group(name): {
            (finding.line, finding.column + 1, finding.code, why)
            for finding, why in fixed(name, unsafe).not_applied
        }
        for name in FIXTURE_NAMES
        if fixed(name, unsafe).not_applied
    }


def summary_line(stderr: str) -> str:
    """The last line of what a fix run prints on stderr: its summary."""
    return stderr.splitlines(keepends=True)[-1]


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fix_writes_what_the_fixer_gives(runs, name, unsafe):
    assert runs.fix[unsafe].after_first[in_group(name)] == fixed(name, unsafe).data


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_fix_prints_what_remains_and_counts_what_it_fixed(runs, unsafe):
    run = runs.fix[unsafe].first
    remaining = remaining_by_file(unsafe)
    total_fixed = sum(sum(fixed(name, unsafe).fixed.values()) for name in FIXTURE_NAMES)
    total_remaining = sum(len(found) for found in remaining.values())
    assert total_fixed > 0
    assert by_file(run.stdout) == remaining
    assert not_applied(run.stderr) == expected_not_applied(unsafe)
    assert summary_line(run.stderr) == summary(total_fixed, total_remaining)
    assert len(run.stderr.splitlines()) == 1 + sum(map(len, expected_not_applied(unsafe).values()))
    assert run.returncode == (1 if total_remaining else 0)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_second_fix_changes_nothing_and_says_so(runs, unsafe):
    fixing = runs.fix[unsafe]
    remaining = remaining_by_file(unsafe)
    total_remaining = sum(len(found) for found in remaining.values())
    assert fixing.after_second == fixing.after_first
    assert by_file(fixing.second.stdout) == remaining
    # The same fixes are left out again (at the lines of the fixed text).
    assert {
        path: {(code, why) for _, _, code, why in found}
        for path, found in not_applied(fixing.second.stderr).items()
    } == {
        path: {(code, why) for _, _, code, why in found}
        for path, found in expected_not_applied(unsafe).items()
    }
    assert summary_line(fixing.second.stderr) == summary(0, total_remaining)
    assert fixing.second.returncode == (1 if total_remaining else 0)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_codemod_fixes_every_file_without_a_failure(runs, unsafe):
    run = runs.codemod[unsafe]
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert " - Failed to codemod 0 files." in run.stderr.splitlines()


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_codemod_writes_what_the_fixer_gives(runs, name, unsafe):
    assert runs.codemod_output[unsafe][in_group(name)] == fixed(name, unsafe).data
