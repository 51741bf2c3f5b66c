"""Benchmark flake8-cancel against flake8 alone and flake8-async, on pinned real code.

    python bench/run.py [--runs 3] [--corpus homeassistant|aiohttp|all]

It fetches the pinned corpus (scripts/fetch_corpus.py), builds three virtual environments in
the git-ignored .cache/bench (flake8 alone; flake8 with this checkout; flake8 with flake8-async),
then runs, alternating, several times each:

1. ``flake8 --isolated --select=E9`` without our plugin: the baseline;
2. ``flake8 --isolated --select=CAN`` with the plugin;
3. ``flake8-cancel`` (the CLI lint);
4. ``flake8-cancel --diff``;
5. ``flake8 --isolated --select=ASYNC`` with flake8-async, on the smaller corpus (it takes
   minutes on the large one), beside a baseline run on the same files.

It prints and writes to bench/RESULTS.md the medians of wall and CPU seconds, files per second,
peak memory (the largest process of the run), and each command's ratio to the baseline run of
the same round (the median over the rounds, and their range). This is a measurement, not a
test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
RESULTS = ROOT / "bench" / "RESULTS.md"
FLAKE8 = "flake8==7.5.0"
FLAKE8_ASYNC = "flake8-async==26.8.1"


class Measurement(NamedTuple):
    wall: float
    cpu: float
    peak_rss_mb: float


class Command(NamedTuple):
    label: str
    argv: List[str]
    corpus: str  # the folder checked
    baseline: str  # the label of the baseline to compare with


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


def fetch_corpus() -> Dict[str, Path]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fetch_corpus.py")],
        check=True, capture_output=True, text=True,
    )
    folders = [Path(line) for line in done.stdout.splitlines() if line.strip()]
    return {folder.name.split("-")[0]: folder for folder in folders}


def measure(argv: Sequence[str]) -> Measurement:
    """Wall and CPU time of one run, and the peak RSS of its largest process (Linux wait4)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed with status {process.returncode}")
    return Measurement(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def paired_ratios(runs: List[Measurement], baseline: List[Measurement], field: str) -> List[float]:
    """Each run's ratio to the baseline run of the same round."""
    return [getattr(run, field) / getattr(base, field) for run, base in zip(runs, baseline)]


def count_files(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.py"))


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (default 3)")
    parser.add_argument("--corpus", choices=("homeassistant", "aiohttp", "all"), default="all")
    parser.add_argument("--skip-async", action="store_true", help="leave flake8-async out")
    options = parser.parse_args()

    corpus = fetch_corpus()
    baseline = ensure_environment("flake8", [FLAKE8])
    ours = ensure_environment("flake8-cancel", [FLAKE8, str(ROOT)], source_fingerprint())
    commands: List[Command] = []
    chosen = ["homeassistant", "aiohttp"] if options.corpus == "all" else [options.corpus]
    for name in chosen:
        folder = str(corpus[name])
        base = f"flake8 alone ({name})"
        commands += [
            Command(base, [str(baseline / "bin" / "flake8"), "--isolated", "--select=E9", folder], folder, base),
            # The corpus sits under this repository's pyproject.toml (requires-python >=3.9):
            # name the target version of the checked projects, as their own settings would.
            Command(f"flake8 + flake8-cancel ({name})",
                    [str(ours / "bin" / "flake8"), "--isolated", "--select=CAN",
                     "--cancel-target-version=3.11", folder], folder, base),
            Command(f"flake8-cancel CLI ({name})",
                    [str(ours / "bin" / "flake8-cancel"), "--target-version=3.11", folder], folder, base),
            Command(f"flake8-cancel --diff ({name})",
                    [str(ours / "bin" / "flake8-cancel"), "--target-version=3.11", "--diff", folder],
                    folder, base),
        ]
    if not options.skip_async:
        flake8_async = ensure_environment("flake8-async", [FLAKE8, FLAKE8_ASYNC])
        folder = str(corpus["aiohttp"])
        base = "flake8 alone (aiohttp)"
        if base not in {command.label for command in commands}:
            commands.append(Command(base, [str(baseline / "bin" / "flake8"), "--isolated", "--select=E9", folder], folder, base))
        commands.append(Command("flake8 + flake8-async (aiohttp)",
                                [str(flake8_async / "bin" / "flake8"), "--isolated", "--select=ASYNC", folder],
                                folder, base))

    runs: Dict[str, List[Measurement]] = {command.label: [] for command in commands}
    for round_number in range(options.runs):
        # Alternate, so that drift hits every command alike; every other round backwards, so
        # that no command always runs first (or right after another one).
        ordered = commands if round_number % 2 == 0 else commands[::-1]
        for command in ordered:
            runs[command.label].append(measure(command.argv))
            print(f"run {round_number + 1}/{options.runs}: {command.label}: "
                  f"{runs[command.label][-1].wall:.2f}s", file=sys.stderr)

    medians = {
        label: Measurement(
            statistics.median(m.wall for m in values),
            statistics.median(m.cpu for m in values),
            max(m.peak_rss_mb for m in values),
        )
        for label, values in runs.items()
    }
    lines = [
        "| command | files | wall s | CPU s | files/s | peak RSS MB | wall ratio | CPU ratio | CPU ratio range |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for command in commands:
        result = medians[command.label]
        wall_ratios = paired_ratios(runs[command.label], runs[command.baseline], "wall")
        cpu_ratios = paired_ratios(runs[command.label], runs[command.baseline], "cpu")
        files = count_files(Path(command.corpus))
        lines.append(
            f"| {command.label} | {files} | {result.wall:.2f} | {result.cpu:.2f} | "
            f"{files / result.wall:.0f} | {result.peak_rss_mb:.0f} | "
            f"{statistics.median(wall_ratios):.3f} | {statistics.median(cpu_ratios):.3f} | "
            f"{min(cpu_ratios):.3f}–{max(cpu_ratios):.3f} |"
        )
    table = "\n".join(lines)
    print(table)
    RESULTS.write_text(
        "# Benchmark results\n\n"
        f"Machine: {machine()}.\n\n"
        f"Command: `python bench/run.py --runs {options.runs} --corpus {options.corpus}`; medians of "
        f"{options.runs} alternating runs (peak RSS: the largest over the runs). Ratios are to flake8 "
        "alone (`--select=E9`, without the plugin) on the same files, taken round by round (each "
        "run against the baseline run of its own round, which ran next to it) and then the median: "
        "this machine's speed drifts by more than the plugin costs, so the ratios of medians "
        "taken minutes apart would measure the drift. The range is the lowest and highest of "
        "those per-round CPU ratios.\n\n"
        f"{table}\n"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
