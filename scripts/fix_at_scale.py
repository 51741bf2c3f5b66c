"""Run ``--fix --unsafe-fixes`` over a copy of the pinned corpus and check what it did to it.

    python scripts/fix_at_scale.py [--corpus homeassistant|aiohttp|all] [--keep]

Each corpus is fetched and unpacked by scripts/fetch_corpus.py, then copied to a temporary
folder (removed afterwards unless ``--keep``); the copy's files get varied modes (0644, 0755,
0600, 0664 in turn), so that keeping the mode is really tested. On the copy, in subprocesses:

1. ``flake8-cancel --format=json``: the findings before, and which have a fix;
2. ``flake8-cancel --fix --unsafe-fixes --format=json``: the fix itself (timed);
3. ``flake8-cancel --fix --unsafe-fixes`` again, which must change nothing.

``--target-version=3.11`` is passed because the pinned corpus sits under this repository's
pyproject.toml, whose requires-python (>=3.9) would otherwise turn on the pre-3.11 rules.

The script exits 1 if any of these fails:

- no crash: exit status 0 or 1, or 2 with a line naming each file that could not be checked
  (those lines are printed, and are not a failure); no traceback, and no file that the fixer
  gave up on (internal error, failed fix, fix that does not parse or compile, failed write);
- every changed file compiles, and keeps its line endings and BOM;
- only files with a fixable finding change; every other file, Python or not, keeps every byte;
  no file appears (no temporary file left behind) or disappears;
- every file keeps its mode;
- no fix adds a finding, and no fixable finding is left;
- the second run changes no byte and fixes nothing.

Fixes per code are the findings of that code before minus those left after; the total is
compared with the command line's own summary line. Nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch_corpus import PINS, download, unpack  # noqa: E402  (a sibling script, not a package)

MODES = (0o644, 0o755, 0o600, 0o664)
SUMMARY = re.compile(r"^Fixed (\d+) findings? \((\d+) remaining\)$", re.MULTILINE)
PROBLEM = re.compile(r"^(.*?): error: (.*)$", re.MULTILINE)
# Reasons that mean the fixer, not the file, failed: never acceptable on the corpus.
FIXER_FAILURES = ("internal error", "fix failed", "fix produced", "changed on disk",
                  "removed while", "cannot write")


class Snapshot(NamedTuple):
    digests: Dict[str, str]  # relative path -> sha256 of the bytes
    modes: Dict[str, int]


class Run(NamedTuple):
    status: int
    stdout: str
    stderr: str
    seconds: float


class Report(NamedTuple):
    corpus: str
    figures: Dict[str, object]
    fixed_by_code: Counter
    notes: List[str]  # printed, not failures: files that could not be checked, and the like
    failures: List[str]


def snapshot(top: Path) -> Snapshot:
    digests, modes = {}, {}
    for path in sorted(top.rglob("*")):
        if path.is_file():
            relative = path.relative_to(top).as_posix()
            digests[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
            modes[relative] = stat.S_IMODE(path.stat().st_mode)
    return Snapshot(digests, modes)


def copy_with_varied_modes(source: Path, target: Path) -> None:
    shutil.copytree(source, target)
    files = sorted(path for path in target.rglob("*") if path.is_file())
    for index, path in enumerate(files):
        path.chmod(MODES[index % len(MODES)])


def flake8_cancel(*args: str, cwd: Path) -> Run:
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))  # this checkout's code
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flake8_cancel", "--target-version=3.11", *args],
        capture_output=True, text=True, cwd=cwd, env=environment,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)


def findings(run: Run, top: Path) -> List[dict]:
    try:
        items = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return []  # a crash: the caller reports the run's output
    for item in items:
        item["path"] = os.path.relpath(top / item["path"], top).replace(os.sep, "/")
    return items


def check_run(label: str, run: Run, notes: List[str], failures: List[str]) -> Tuple[int, int]:
    """Exit status and stderr of one run against what the README documents. Returns how many
    files could not be checked, and how many crashes (fixer failures included) there were."""
    problems = PROBLEM.findall(run.stderr)
    crashes = uncheckable = 0
    for path, reason in problems:
        if any(marker in reason for marker in FIXER_FAILURES):
            crashes += 1
            failures.append(f"{label}: the fixer failed on {path}: {reason}")
        else:
            uncheckable += 1
            notes.append(f"{label}: could not be checked: {path}: {reason}")
    if "Traceback" in run.stderr or "Traceback" in run.stdout:
        crashes += 1
        failures.append(f"{label}: traceback in the output:\n{run.stderr[-3000:]}")
    if run.status not in (0, 1, 2) or (run.status == 2 and not problems):
        crashes += 1
        failures.append(f"{label}: exit status {run.status}:\n{run.stderr[-3000:]}")
    return uncheckable, crashes


def line_endings(data: bytes) -> set:
    windows = data.count(b"\r\n")
    counts = {"\\r\\n": windows, "\\n": data.count(b"\n") - windows,
              "\\r": data.count(b"\r") - windows}
    return {ending for ending, count in counts.items() if count}


def compile_error(data: bytes, path: str) -> Optional[str]:
    try:
        compile(data, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return str(error)
    return None


def fix_corpus(name: str, source: Path, keep: bool) -> Report:
    started = time.perf_counter()
    workspace = Path(tempfile.mkdtemp(prefix=f"fix-at-scale-{name}-"))
    top = workspace / source.name
    notes: List[str] = []
    failures: List[str] = []
    try:
        copy_with_varied_modes(source, top)
        before = snapshot(top)
        originals = {path: (top / path).read_bytes() for path in before.digests
                     if path.endswith((".py", ".pyi"))}

        lint = flake8_cancel("--format=json", ".", cwd=top)
        _, crashes = check_run("lint", lint, notes, failures)
        found = findings(lint, top)

        fix = flake8_cancel("--fix", "--unsafe-fixes", "--format=json", ".", cwd=top)
        uncheckable, fix_crashes = check_run("--fix", fix, notes, failures)
        left = findings(fix, top)
        after = snapshot(top)

        second = flake8_cancel("--fix", "--unsafe-fixes", ".", cwd=top)
        _, second_crashes = check_run("second --fix", second, notes, failures)
        final = snapshot(top)

        fixable_files = {item["path"] for item in found if item["fix"]}
        changed = changed_files(before, after)
        check_tree(before, after, changed, fixable_files, failures)
        compile_failures = check_changed_files(top, originals, changed, failures)
        fixed_by_code, summary_total = count_fixes(found, left, fix.stderr, notes, failures)
        second_changed = changed_files(after, final)
        failures += [f"the second --fix changed {path}" for path in second_changed]
        second_summary = SUMMARY.search(second.stderr)
        if second_summary is None or second_summary.group(1) != "0":
            failures.append(f"the second --fix fixed something: {second.stderr.strip()[-500:]}")

        figures: Dict[str, object] = {
            "files": len(originals),
            "findings": len(found),
            "fixable": sum(1 for item in found if item["fix"]),
            "files changed": len(changed),
            "fixes": summary_total,
            "left": len(left),
            "could not check": uncheckable,
            "crashes": crashes + fix_crashes + second_crashes,
            "compile failures": compile_failures,
            "2nd run changes": len(second_changed),
            "modes kept": before.modes == after.modes,
            "fix s": round(fix.seconds, 1),
        }
    finally:
        if keep:
            print(f"kept: {top}", file=sys.stderr)
        else:
            shutil.rmtree(workspace, ignore_errors=True)
    figures["total s"] = round(time.perf_counter() - started, 1)
    return Report(name, figures, fixed_by_code, notes, failures)


def changed_files(before: Snapshot, after: Snapshot) -> List[str]:
    return sorted(
        path for path, digest in before.digests.items() if after.digests.get(path) != digest
    )


def check_tree(
    before: Snapshot, after: Snapshot, changed: List[str], fixable_files: set, failures: List[str]
) -> None:
    """Only files with a fixable finding change; nothing appears or disappears; modes stay."""
    for path in sorted(set(after.digests) ^ set(before.digests)):
        failures.append(f"{path} {'appeared' if path in after.digests else 'disappeared'}")
    for path in changed:
        if path in after.digests and path not in fixable_files:
            failures.append(f"{path} changed without a fixable finding")
    for path in sorted(set(before.modes) & set(after.modes)):
        if before.modes[path] != after.modes[path]:
            failures.append(f"{path}: mode {before.modes[path]:o} became {after.modes[path]:o}")


def check_changed_files(
    top: Path, originals: Dict[str, bytes], changed: List[str], failures: List[str]
) -> int:
    """Each changed file compiles (when it did before) and keeps its line endings and BOM.
    Returns how many do not compile."""
    compile_failures = 0
    for path in changed:
        if not (top / path).exists():
            continue  # reported as disappeared
        data = (top / path).read_bytes()
        old = originals.get(path, b"")
        error = compile_error(data, path)
        if error is not None and compile_error(old, path) is None:
            compile_failures += 1
            failures.append(f"{path} does not compile after the fix: {error}")
        bom = b"\xef\xbb\xbf"
        same_bom = data.startswith(bom) == old.startswith(bom)
        if not line_endings(data) <= line_endings(old) or not same_bom:
            failures.append(f"{path}: line endings or BOM changed")
    return compile_failures


def count_fixes(
    found: List[dict], left: List[dict], stderr: str, notes: List[str], failures: List[str]
) -> Tuple[Counter, Optional[int]]:
    """Fixes per code (findings before minus after), and the total of the summary line."""
    before = Counter(item["code"] for item in found)
    after = Counter(item["code"] for item in left)
    for code in sorted(after):
        if after[code] > before[code]:
            failures.append(f"the fixes added {code} findings: {before[code]} before, "
                            f"{after[code]} after")
    by_code = Counter({code: before[code] - after[code] for code in before
                       if before[code] > after[code]})
    for item in left:
        if item["fix"]:
            failures.append(f"{item['path']}:{item['line']}: {item['code']} still has a fix")
    summary = SUMMARY.search(stderr)
    if summary is None:
        failures.append("--fix printed no summary line")
        return by_code, None
    total = int(summary.group(1))
    if total != sum(by_code.values()):  # one fix may settle findings of two codes
        notes.append(f"the summary says {total} fixes; findings before minus after: "
                     f"{sum(by_code.values())}")
    return by_code, total


def table(reports: Sequence[Report]) -> str:
    columns = list(reports[0].figures) + ["fixes by code"]
    lines = ["| corpus | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for report in reports:
        by_code = ", ".join(
            f"{code} {count}" for code, count in sorted(report.fixed_by_code.items())
        )
        cells = [_cell(value) for value in report.figures.values()] + [by_code or "none"]
        lines.append(f"| {report.corpus} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return "?" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("homeassistant", "aiohttp", "all"), default="all")
    parser.add_argument("--keep", action="store_true", help="keep the fixed copy and print where")
    options = parser.parse_args(argv)

    chosen = [pin for pin in PINS if options.corpus in ("all", pin.name)]
    reports: List[Report] = []
    for pin in chosen:
        source = unpack(pin, download(pin))
        print(f"fixing a copy of {source.name} ...", file=sys.stderr)
        reports.append(fix_corpus(pin.name, source, options.keep))
    for report in reports:
        for line in report.notes:
            print(f"{report.corpus}: note: {line}")
        for line in report.failures:
            print(f"{report.corpus}: FAILED: {line}")
    print(table(reports))
    failed = sum(len(report.failures) for report in reports)
    print("all invariants hold" if not failed else f"{failed} invariant failures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
