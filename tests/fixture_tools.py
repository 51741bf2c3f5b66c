"""The fixtures, and what the engine and the fixer make of them in process.

A fixture is ``fixtures/*.py`` (not ``*.fixed.py``). A line ending in ``# error: CAN101`` (or
``# error: CAN101, CAN103``) must get exactly those findings; every other line must get none.
A first line ``# options: --target-version=3.10 --cancelled-names=curio.TaskCancelled`` passes CLI
options; flake8 gets the same ones with its ``--cancel-`` prefix. Every rule is selected, the
opt-in ones too.

Each fixture is read, linted and fixed at most once per test session (the results are cached):
test_fixtures.py and test_fixes.py check them in process, and test_front_ends.py checks that the
real flake8, command line and codemod print and write the same.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Set, Tuple

from flake8_cancel.cli import _flag_values, _parser
from flake8_cancel.config import RunConfig, build_config, command_line_source
from flake8_cancel.engine import Engine
from flake8_cancel.fixer import FixResult, fix_bytes
from flake8_cancel.noqa import file_is_exempt, without_silenced
from flake8_cancel.registry import Finding
from flake8_cancel.rules import all_rules, rule_for
from flake8_cancel.source import decode_source

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ANNOTATION = re.compile(r"# error: (?P<codes>CAN\d+(?:\s*,\s*CAN\d+)*)\s*$")
OPTIONS = re.compile(r"# options: (?P<options>.*)$")
ALL_CODES = tuple(rule.code for rule in all_rules())
SELECT_ALL = "--select=" + ",".join(ALL_CODES)

Options = Tuple[str, ...]


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


def cli_options(source: str) -> Options:
    """The fixture's options line; the target version is 3.11 unless it says otherwise, so that
    fixtures do not depend on the pyproject.toml they happen to sit under."""
    first = source.split("\n", 1)[0]
    match = OPTIONS.match(first)
    options = tuple(shlex.split(match.group("options"))) if match else ()
    if not any(option.startswith("--target-version") for option in options):
        options += ("--target-version=3.11",)
    return options


def flake8_options(options: Iterable[str]) -> Options:
    return tuple(re.sub(r"^--", "--cancel-", option) for option in options)


def with_noqa(source: str, marker: str) -> Tuple[str, int]:
    """Each ``# error: CODES`` annotation turned into ``marker`` (``{codes}``: the codes), and
    how many were."""
    return re.subn(
        r"# error: (CAN\d+(?:\s*,\s*CAN\d+)*)",
        lambda m: marker.format(codes=m.group(1).replace(" ", "")),
        source,
    )


# The spellings of flake8's noqa comment that every front end must honour.
NOQA_MARKERS = ("# noqa: {codes}", "# noqa", "# NOQA:{codes}")


class Fixture(NamedTuple):
    path: Path
    data: bytes

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    @property
    def options(self) -> Options:
        return cli_options(self.text)

    @property
    def expected(self) -> Set[Tuple[int, str]]:
        return expected_findings(self.text)


FIXTURE_NAMES = [path.name for path in fixture_files()]


@lru_cache(maxsize=None)
def fixture(name: str) -> Fixture:
    path = FIXTURES / name
    return Fixture(path, path.read_bytes())


def all_fixtures() -> List[Fixture]:
    return [fixture(name) for name in FIXTURE_NAMES]


def by_options(fixtures: Iterable[Fixture]) -> Dict[Options, List[Fixture]]:
    groups: Dict[Options, List[Fixture]] = defaultdict(list)
    for item in fixtures:
        groups[item.options].append(item)
    return dict(groups)


# -- in process -----------------------------------------------------------------------------------
def run_config(options: Options) -> RunConfig:
    """What the command line makes of these flags, every rule selected, for a file that no
    pyproject.toml configures."""
    values = _flag_values(_parser().parse_args([SELECT_ALL, *options]))
    return build_config([], command_line_source(values))


@lru_cache(maxsize=None)
def engine_for(options: Options) -> Engine:
    """The engine the command line builds for these flags (cli.check_groups)."""
    config = run_config(options)
    return Engine(config.settings, [rule_for(code) for code in config.codes])


def lint(data: bytes, options: Options) -> List[Finding]:
    """What ``flake8-cancel OPTIONS FILE`` reports for a file of these bytes: the engine's findings
    that no ``# noqa`` silences, in a file that ``# flake8: noqa`` does not exempt."""
    source = decode_source(data)
    if file_is_exempt(source):
        return []
    return without_silenced(engine_for(options).check(source), source)


@lru_cache(maxsize=None)
def linted(name: str) -> Tuple[Finding, ...]:
    item = fixture(name)
    return tuple(lint(item.data, item.options))


@lru_cache(maxsize=None)
def fixed(name: str, unsafe: bool) -> FixResult:
    """What ``flake8-cancel --fix [--unsafe-fixes] OPTIONS FILE`` makes of the fixture."""
    item = fixture(name)
    return fix_bytes(item.data, engine_for(item.options), unsafe=unsafe)


def printed(finding: Finding) -> Tuple[int, int, str]:
    """Where flake8 and the command line print a finding: line, 1-based column, code."""
    return finding.line, finding.column + 1, finding.code
