"""Benchmark flake8-cancel beside flake8 alone, ruff and flake8-async, on pinned real code.

    python bench/run.py [--runs 5] [--corpus NAME ...] [--async-everywhere]

The code: homeassistant 2024.3.3 and aiohttp 3.12.15, as the ecosystem check pins and unpacks
them (``scripts/ecosystem.py fetch``, into the git-ignored .cache/ecosystem/projects). Four
corpora:

- ``ha-750``: the 750 files of homeassistant's ``helpers/``, ``components/a*`` and
  ``components/b*``: what a change, a pre-commit run or a CI job on part of a project lints;
- ``ha-all``: the whole of the ``homeassistant`` package (6,725 files);
- ``aiohttp``: the ``aiohttp`` package (55 files);
- ``file-sync`` and ``file-async``: one file without async code (``util/color.py``) and one
  with a finding (``helpers/aiohttp_client.py``): what an editor or a one-file hook pays.

Each tool runs from a virtual environment of its own in the git-ignored .cache/bench, rebuilt
when its requirements (or, for ours, this checkout's source) change: flake8 alone; flake8 with
this checkout (installed, not editable, so that its bytecode is compiled); flake8 with
flake8-async; ruff. The commands, on each corpus:

1. ``flake8 --isolated --select=E9``, without our plugin: the baseline of the round;
2. ``flake8 --isolated --select=CAN`` with the plugin;
3. ``flake8-cancel --isolated`` (the command line, linting; no configuration file read, as
   for flake8 and ruff);
4. ``flake8-cancel --isolated --diff`` (the fixes it would make, as a diff: ``--fix`` without
   writing);
5. ``ruff check --select ASYNC`` (no cache): ruff's rules for async code, none as deep as ours;
6. ``flake8 --isolated --select=ASYNC`` with flake8-async (left out on ``ha-all``, where one run
   takes over half an hour, unless ``--async-everywhere``).

Before any timing, the plugin's and the command line's findings are compared on every corpus:
the benchmark stops if they differ. Then the commands run round by round, all corpora in each
round, in an order reversed every other round, so that the machine's drift hits every command
alike. Each command's wall and CPU seconds are divided by the baseline's *of the same round and
corpus*; the table gives the median of those ratios and their range, the medians of the seconds,
and the peak memory of the command's largest process (the command line's workers are separate
processes). This is a measurement, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
PROJECTS = ROOT / ".cache" / "ecosystem" / "projects"
RESULTS = ROOT / "bench" / "RESULTS.md"
FLAKE8 = "flake8==7.5.0"
FLAKE8_ASYNC = "flake8-async==26.8.1"
RUFF = "ruff==0.17.6"
HOMEASSISTANT = "homeassistant-2024.3.3"
AIOHTTP = "aiohttp-3.12.15"
# Name the target version of the checked projects, as their own settings would: the corpus
# sits under this repository's pyproject.toml.
TARGET = "3.11"


class Measurement(NamedTuple):
    wall: float
    cpu: float
    peak_rss_mb: float


class Corpus(NamedTuple):
    name: str
    root: Path  # where the commands run
    paths: List[str]  # what they check, relative to root
    files: int


class Command(NamedTuple):
    label: str
    argv: List[str]


def ensure_environment(name: str, requirements: Sequence[str], fingerprint: str = "") -> Path:
    """A virtual environment with these requirements, rebuilt when they (or the fingerprint of
    a local package among them) change."""
    environment = CACHE / name
    marker = environment / ".installed"
    wanted = "\n".join([*requirements, fingerprint])
    if marker.exists() and marker.read_text() == wanted:
        return environment
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(environment)], check=True)
    subprocess.run(
        [str(environment / "bin" / "python"), "-m", "pip", "install", "-q", *requirements],
        check=True,
    )
    marker.write_text(wanted)
    return environment


def source_fingerprint() -> str:
    """A digest of this checkout's package and build files: the benchmark measures this code."""
    digest = hashlib.sha256()
    for path in sorted([ROOT / "pyproject.toml", *(ROOT / "flake8_cancel").rglob("*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def corpora() -> List[Corpus]:
    missing = [name for name in (HOMEASSISTANT, AIOHTTP) if not (PROJECTS / name).is_dir()]
    if missing:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "ecosystem.py"), "fetch",
             "--project", "homeassistant", "--project", "aiohttp"],
            check=True,
        )
    home = PROJECTS / HOMEASSISTANT
    components = sorted(
        f"homeassistant/components/{folder.name}"
        for folder in (home / "homeassistant" / "components").iterdir()
        if folder.is_dir() and folder.name[0] in "ab"
    )
    found = [
        (home, "ha-750", ["homeassistant/helpers", *components]),
        (home, "ha-all", ["homeassistant"]),
        (PROJECTS / AIOHTTP, "aiohttp", ["aiohttp"]),
        (home, "file-sync", ["homeassistant/util/color.py"]),
        (home, "file-async", ["homeassistant/helpers/aiohttp_client.py"]),
    ]
    return [Corpus(name, root, paths, count_files(root, paths)) for root, name, paths in found]


def count_files(root: Path, paths: Sequence[str]) -> int:
    return sum(
        sum(1 for _ in (root / path).rglob("*.py")) if (root / path).is_dir() else 1
        for path in paths
    )


def commands(corpus: Corpus, environments: Dict[str, Path], with_async: bool) -> List[Command]:
    def tool(environment: str, program: str) -> str:
        return str(environments[environment] / "bin" / program)

    found = [
        Command("flake8 alone", [tool("flake8", "flake8"), "--isolated", "--select=E9"]),
        Command("flake8 + flake8-cancel", [
            tool("ours", "flake8"), "--isolated", "--select=CAN",
            f"--cancel-target-version={TARGET}",
        ]),
        Command("flake8-cancel", [
            tool("ours", "flake8-cancel"), "--isolated", f"--target-version={TARGET}",
        ]),
        Command("flake8-cancel --diff", [
            tool("ours", "flake8-cancel"), "--isolated", f"--target-version={TARGET}", "--diff",
        ]),
        Command("ruff --select ASYNC", [
            tool("ruff", "ruff"), "check", "--isolated", "--no-cache", "--select=ASYNC",
            "--output-format=concise",
        ]),
    ]
    if with_async:
        found.append(Command("flake8 + flake8-async", [
            tool("flake8-async", "flake8"), "--isolated", "--select=ASYNC",
        ]))
    return [command._replace(argv=[*command.argv, *corpus.paths]) for command in found]


def measure(argv: Sequence[str], cwd: Path) -> Measurement:
    """Wall and CPU time of one run, and the peak RSS of its largest process (Linux wait4)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed with status {os.waitstatus_to_exitcode(status)}")
    return Measurement(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


FINDING = re.compile(r"^(.+?):(\d+):(\d+): (CAN\d+) ", re.M)


def findings(argv: Sequence[str], cwd: Path) -> List[str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    return sorted(":".join(match.groups()).lstrip("./") for match in FINDING.finditer(done.stdout))


def check_findings_agree(corpus: Corpus, plugin: Command, cli: Command) -> int:
    """The plugin and the command line report the same findings; how many."""
    from_plugin, from_cli = findings(plugin.argv, corpus.root), findings(cli.argv, corpus.root)
    if from_plugin != from_cli:
        differ = sorted(set(from_plugin) ^ set(from_cli))
        raise SystemExit(f"{corpus.name}: flake8 and the command line disagree: {differ[:10]}")
    return len(from_cli)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def write_results(
    options: argparse.Namespace,
    chosen: List[Corpus],
    plan: Dict[str, List[Command]],
    found: Dict[str, int],
    runs: Dict[str, Dict[str, List[Measurement]]],
    rounds: int,
    load_before: str,
    started: float,
) -> None:
    """The table of the rounds so far, printed and written to bench/RESULTS.md (after every
    round: a long run stopped midway keeps what it measured)."""
    minutes = (time.time() - started) / 60

    sections = []
    for corpus in chosen:
        measured = runs[corpus.name]
        base = measured["flake8 alone"]
        lines = [
            f"### {corpus.name}: {corpus.files} files, {found[corpus.name]} findings",
            "",
            "| command | wall s | CPU s | wall ratio | wall ratio range | CPU ratio | "
            "wall − flake8 alone s | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for command in plan[corpus.name]:
            values = measured[command.label]
            wall_ratios = [run.wall / b.wall for run, b in zip(values, base)]
            cpu_ratios = [run.cpu / b.cpu for run, b in zip(values, base)]
            extra = [run.wall - b.wall for run, b in zip(values, base)]
            lines.append(
                f"| {command.label} | {statistics.median(v.wall for v in values):.2f} | "
                f"{statistics.median(v.cpu for v in values):.2f} | "
                f"{statistics.median(wall_ratios):.3f} | "
                f"{min(wall_ratios):.3f}–{max(wall_ratios):.3f} | "
                f"{statistics.median(cpu_ratios):.3f} | {statistics.median(extra):+.3f} | "
                f"{max(v.peak_rss_mb for v in values):.0f} |"
            )
        sections.append("\n".join(lines))
    tables = "\n\n".join(sections)
    print(tables)
    names = " ".join(f"--corpus {c.name}" for c in chosen) if options.corpus else ""
    everywhere = " --async-everywhere" if options.async_everywhere else ""
    RESULTS.write_text(
        "# Benchmark results\n\n"
        f"Machine: {machine()}. Load average (1, 5, 15 min) before the rounds: {load_before}; "
        f"after: {load()}; the rounds took {minutes:.0f} minutes.\n\n"
        f"Command: `python bench/run.py --runs {options.runs}"
        f"{' ' + names if names else ''}{everywhere}`"
        f" ({rounds} of them done). Medians of the rounds; in each round every command ran once on every "
        "corpus, in an order reversed every other round. Ratios are to flake8 alone "
        "(`--select=E9`, without the plugin) on the same files *in the same round*, then the "
        "median over the rounds (and their range): this machine's speed drifts by more than "
        "the plugin costs, so ratios of medians taken minutes apart would measure the drift. "
        "Peak RSS: the largest process of a run (the command line's workers are processes of "
        "their own), the largest over the rounds. Versions: "
        f"{FLAKE8}, {RUFF}, {FLAKE8_ASYNC}; `flake8-cancel --diff` computes every fix and "
        "prints it, writing nothing.\n\n"
        f"{tables}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--corpus", action="append", metavar="NAME",
                        help="only this corpus (repeatable): ha-750, ha-all, aiohttp, file-sync, "
                             "file-async")
    parser.add_argument("--async-everywhere", action="store_true",
                        help="also run flake8-async on the whole of homeassistant")
    options = parser.parse_args()

    environments = {
        "flake8": ensure_environment("flake8", [FLAKE8]),
        "ours": ensure_environment("flake8-cancel", [FLAKE8, str(ROOT)], source_fingerprint()),
        "flake8-async": ensure_environment("flake8-async", [FLAKE8, FLAKE8_ASYNC]),
        "ruff": ensure_environment("ruff", [RUFF]),
    }
    chosen = [c for c in corpora() if not options.corpus or c.name in options.corpus]
    plan = {
        corpus.name: commands(
            corpus, environments, options.async_everywhere or corpus.name != "ha-all"
        )
        for corpus in chosen
    }
    found = {}
    for corpus in chosen:
        plugin, cli = plan[corpus.name][1], plan[corpus.name][2]
        found[corpus.name] = check_findings_agree(corpus, plugin, cli)
        print(f"{corpus.name}: {corpus.files} files, {found[corpus.name]} findings, the same from "
              "flake8 and the command line", file=sys.stderr)

    load_before = load()
    runs: Dict[str, Dict[str, List[Measurement]]] = {
        corpus.name: {command.label: [] for command in plan[corpus.name]} for corpus in chosen
    }
    started = time.time()
    for round_number in range(options.runs):
        for corpus in chosen if round_number % 2 == 0 else chosen[::-1]:
            ordered = plan[corpus.name] if round_number % 2 == 0 else plan[corpus.name][::-1]
            for command in ordered:
                result = measure(command.argv, corpus.root)
                runs[corpus.name][command.label].append(result)
                print(f"round {round_number + 1}/{options.runs}: {corpus.name}: {command.label}: "
                      f"{result.wall:.2f}s", file=sys.stderr)
        write_results(
            options, chosen, plan, found, runs, round_number + 1, load_before, started
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
