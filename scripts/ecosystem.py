"""Ecosystem check: run flake8-cancel over pinned real asyncio projects and compare with a baseline.

    python scripts/ecosystem.py fetch                      # download and unpack, nothing else
    python scripts/ecosystem.py lint [--update-baseline]   # findings against ecosystem/baseline/
    python scripts/ecosystem.py fix [--update-baseline]    # --fix invariants, fixes against
                                                           # ecosystem/fixes/
    options: --project NAME (repeatable), --jobs N (cores to use, default 2),
             --rev REV (run flake8-cancel as committed at a git revision, not the working tree),
             fix: --keep (keep the fixed copies and print where)

Run it with the development virtualenv's Python (it needs libcst). The flake8-cancel that runs is
this checkout's working tree (``PYTHONPATH`` points at it), or with ``--rev`` the package as
committed at that revision (``git archive`` into a temporary folder): the working tree may hold
someone's half-done change. Every command fetches what it needs first.

Projects, versions and what to lint are pinned in ``ecosystem/projects.toml``: one distribution
file per project (an sdist where there is one, since sdists ship tests and examples), with its
sha256. How a file is fetched: ``https://pypi.org/pypi/NAME/VERSION/json`` answers 404 here, and
``pip download --no-deps --no-binary :all:`` runs the project's build backend to prepare metadata
(it downloads the build requirements and can fail on C extensions), so the script reads the
package's PEP 691 simple index (``https://pypi.org/simple/NAME/``, JSON), takes the URL of the
pinned file name, downloads it with urllib and checks the pinned sha256. Archives go to
``.cache/ecosystem/downloads/``; each is unpacked (the sdist's top folder stripped) into
``.cache/ecosystem/projects/NAME-VERSION/``, the *project root* that paths are relative to. Work
done is not redone: a marker file is written after unpacking, so a half-finished unpack is redone.

lint: ``flake8-cancel --isolated --extend-select=CAN110 --format=json --target-version=3.11``
(every rule, whatever the project configures for flake8 or in pyproject.toml; the
version is explicit, else the nearest pyproject.toml, the project's own or this repository's, would
choose it) over the project's lint paths. Each finding is recorded with the source line and the
enclosing function, and matched with ``ecosystem/baseline/NAME.json`` on (path, code, line): the
sources are pinned, so lines are stable. Printed: what appeared (not in the baseline) and what
disappeared (in the baseline, no longer reported, with its verdict), then a table per code of
triaged verdicts and precision. ``--update-baseline`` writes the current findings, keeping the
verdict of each finding still reported; a new one gets verdict "untriaged". Verdicts are set by
hand: "tp" or "fp" with a one-line reason (see docs/ecosystem.md).

fix: on a temporary copy of each project (files given varied modes), ``--fix`` and, on another
copy, ``--fix --unsafe-fixes``; for each, the invariants (the "fixes at scale" check): no crash
(exit status 0 or 1, or 2 with a line naming each file that could not be checked; no traceback,
no file the fixer gave up on), every changed file compiles and keeps its line endings and BOM,
only files with a finding fixable in that mode change, no file appears or disappears (no
temporary file left), modes are kept, no finding fixable in that mode is left, a second run
changes nothing; and per file and code, no fix adds a finding. Diffs go to
``.cache/ecosystem/fixes/MODE/NAME.diff``; fixed sites are matched with
``ecosystem/fixes/NAME.json`` on (path, line, code, mode), where mode is the fix's safety: "safe"
sites come from the ``--fix`` run, "unsafe" ones from the ``--unsafe-fixes`` run.

Exit status: 0 when everything matches the baselines; 1 when a finding or a fixed site appeared or
disappeared, or a run crashed or broke an invariant (with ``--update-baseline`` only crashes and
broken invariants count); 2 for bad input (an unknown project, a failed download, a malformed
data file), reported in one line.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import tokenize
import tomllib
import urllib.request
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, TypeVar

ROOT = Path(__file__).resolve().parent.parent
ECOSYSTEM = ROOT / "ecosystem"
PROJECTS_FILE = ECOSYSTEM / "projects.toml"
FINDINGS_BASELINE = ECOSYSTEM / "baseline"
FIXES_BASELINE = ECOSYSTEM / "fixes"
CACHE = ROOT / ".cache" / "ecosystem"
DOWNLOADS = CACHE / "downloads"
TREES = CACHE / "projects"
FIX_DIFFS = CACHE / "fixes"

SIMPLE_INDEX = "https://pypi.org/simple/{name}/"
SIMPLE_INDEX_JSON = "application/vnd.pypi.simple.v1+json"
EVERY_RULE = ("--extend-select=CAN110",)
OPT_IN_CODES = frozenset({"CAN110"})
PROJECT_FIELDS = {"name": str, "version": str, "kind": str, "file": str, "sha256": str,
                  "lint": list}
FINDING_VERDICTS = ("tp", "fp", "untriaged")
FIX_VERDICTS = ("ok", "breaks", "unreviewed")
FIX_MODES = {"safe": ("--fix",), "unsafe": ("--fix", "--unsafe-fixes")}
# Which findings' fixes each mode applies (the "fix" field of the JSON output).
APPLIED_FIXES = {"safe": {"safe"}, "unsafe": {"safe", "unsafe"}}
FILE_MODES = (0o644, 0o755, 0o600, 0o664)  # given in turn to the files of a fixed copy
SUMMARY = re.compile(r"^Fixed (\d+) findings? \((\d+) remaining\)$", re.MULTILINE)
PROBLEM = re.compile(r"^(.*?):1:1: CAN001 file not checked: (.*)$", re.MULTILINE)
# Reasons that mean the fixer, not the file, failed: never acceptable on real code.
FIXER_FAILURES = ("internal error", "fix failed", "fix produced", "changed on disk",
                  "removed while", "cannot write")


class BadInput(Exception):
    """Input the run cannot go on with: reported in one line, exit status 2."""


class Project(NamedTuple):
    name: str
    version: str
    kind: str
    file: str
    sha256: str
    lint: Tuple[str, ...]

    @property
    def root(self) -> Path:
        return TREES / f"{self.name}-{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


# --- projects.toml and fetching -------------------------------------------------------------------

def load_projects() -> List[Project]:
    try:
        data = tomllib.loads(PROJECTS_FILE.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise BadInput(f"cannot read {shown(PROJECTS_FILE)}: {error}") from None
    projects: List[Project] = []
    for number, entry in enumerate(data.get("project", []), 1):
        wrong = [field for field, kind in PROJECT_FIELDS.items()
                 if not isinstance(entry.get(field), kind)]
        if wrong:
            raise BadInput(f"{shown(PROJECTS_FILE)}: project #{number} needs "
                           f"{', '.join(wrong)} (see the other entries)")
        projects.append(Project(*(entry[field] for field in PROJECT_FIELDS if field != "lint"),
                                lint=tuple(entry["lint"])))
    names = Counter(project.name for project in projects)
    twice = sorted(name for name, count in names.items() if count > 1)
    if twice:
        raise BadInput(f"{shown(PROJECTS_FILE)}: listed twice: {', '.join(twice)}")
    return projects


def chosen_projects(projects: List[Project], names: Optional[List[str]]) -> List[Project]:
    if not names:
        return projects
    known = {project.name: project for project in projects}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise BadInput(f"unknown project {', '.join(unknown)} (the names are in "
                       f"{shown(PROJECTS_FILE)})")
    return [known[name] for name in dict.fromkeys(names)]


def fetch(project: Project) -> Path:
    """The project's unpacked root, downloaded and unpacked unless already done."""
    marker = project.root / ".unpacked"  # written last, so a half-finished unpack is redone
    if not marker.exists():
        unpack(project, download(project))
        marker.write_text(project.file + "\n")
    missing = [path for path in project.lint if not (project.root / path).exists()]
    if missing:
        raise BadInput(f"{shown(PROJECTS_FILE)}: {project.name}: lint path "
                       f"{', '.join(missing)} is not in {project.file}")
    return project.root


def download(project: Project) -> Path:
    target = DOWNLOADS / project.file
    if target.exists() and sha256(target.read_bytes()) == project.sha256:
        return target
    url = index_url(project)
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    print(f"downloading {url}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            partial.write_bytes(response.read())
    except OSError as error:  # urllib's errors are OSErrors
        partial.unlink(missing_ok=True)
        raise BadInput(f"cannot download {project.file}: {reason(error)}") from None
    digest = sha256(partial.read_bytes())
    if digest != project.sha256:
        partial.unlink()
        raise BadInput(f"{project.file}: sha256 {digest} is not the pinned {project.sha256}")
    partial.replace(target)
    return target


def index_url(project: Project) -> str:
    """The download URL of the pinned file, from the package's PEP 691 simple index."""
    normalized = re.sub(r"[-_.]+", "-", project.name).lower()
    request = urllib.request.Request(SIMPLE_INDEX.format(name=normalized),
                                     headers={"Accept": SIMPLE_INDEX_JSON})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            files = json.load(response)["files"]
    except OSError as error:
        raise BadInput(f"cannot read the package index of {project.name}: "
                       f"{reason(error)}") from None
    except (ValueError, KeyError, TypeError):
        raise BadInput(f"the package index of {project.name} is not PEP 691 JSON") from None
    for entry in files:
        if entry.get("filename") == project.file:
            return entry["url"]
    raise BadInput(f"{project.file} is not on the package index of {project.name}")


def unpack(project: Project, archive: Path) -> None:
    """Unpack into the project root: a wheel as it is, an sdist without its top folder."""
    TREES.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=TREES))
    print(f"unpacking {archive.name}", file=sys.stderr)
    try:
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(staging / "tree")
        else:
            with tarfile.open(archive) as opened:
                opened.extractall(staging / "tree", filter="data")
        tree = staging / "tree"
        if archive.suffix != ".whl":
            tops = list(tree.iterdir())
            if len(tops) != 1 or not tops[0].is_dir():
                raise BadInput(f"{archive.name}: an sdist should hold one top folder")
            tree = tops[0]
        shutil.rmtree(project.root, ignore_errors=True)
        tree.rename(project.root)
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as error:
        raise BadInput(f"cannot unpack {archive.name}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reason(error: OSError) -> str:
    return str(getattr(error, "reason", None) or error)


def shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def python_files(project: Project) -> int:
    return sum(1 for top in project.lint for pattern in ("*.py", "*.pyi")
               for _ in (project.root / top).rglob(pattern))


# --- the --fix invariants -------------------------------------------------------------------------

class Run(NamedTuple):
    status: int
    stdout: str
    stderr: str
    seconds: float


class Snapshot(NamedTuple):
    digests: Dict[str, str]  # relative path -> sha256 of the bytes
    modes: Dict[str, int]


class Report(NamedTuple):
    """One fix run: its figures, fixes per code, notes (printed) and failures (exit status 1)."""
    corpus: str
    figures: Dict[str, object]
    fixed_by_code: Counter
    notes: List[str]  # files that could not be checked, and the like
    failures: List[str]


def check_run(label: str, run: Run, notes: List[str], failures: List[str]) -> Tuple[int, int]:
    """Exit status and stderr of one run against what the README documents: status 0 or 1, or 2
    with a line naming each file that could not be checked (a note, not a failure); no traceback
    and no file the fixer gave up on. Returns how many files could not be checked, and how many
    crashes (fixer failures included) there were."""
    problems = _problems(run)
    crashes = uncheckable = 0
    for path, why in problems:
        if any(marker in why for marker in FIXER_FAILURES):
            crashes += 1
            failures.append(f"{label}: the fixer failed on {path}: {why}")
        else:
            uncheckable += 1
            notes.append(f"{label}: could not be checked: {path}: {why}")
    if "Traceback" in run.stderr or "Traceback" in run.stdout:
        crashes += 1
        failures.append(f"{label}: traceback in the output:\n{run.stderr[-3000:]}")
    if run.status not in (0, 1, 2) or (run.status == 2 and not problems):
        crashes += 1
        failures.append(f"{label}: exit status {run.status}:\n{run.stderr[-3000:]}")
    return uncheckable, crashes


def _problems(run: Run) -> List[Tuple[str, str]]:
    """(path, reason) of each file the run could not check: its CAN001 findings, in text or
    JSON."""
    try:
        items = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return PROBLEM.findall(run.stdout)
    return [(item["filename"], item["message"].split(": ", 1)[-1])
            for item in items if item["code"] == "CAN001"]


def cli_findings(run: Run, top: Path) -> List[dict]:
    """The findings of a JSON run (files not checked aside), paths relative to top with forward
    slashes."""
    try:
        items = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return []  # a crash: the caller reports the run's output
    return [
        {
            "path": os.path.relpath(top / item["filename"], top).replace(os.sep, "/"),
            "line": item["location"]["row"], "column": item["location"]["column"],
            "code": item["code"], "message": item["message"],
            "fix": item["fix"]["applicability"] if item["fix"] else None,
        }
        for item in items
        if item["code"] != "CAN001"
    ]


def snapshot(top: Path) -> Snapshot:
    digests, modes = {}, {}
    for path in sorted(top.rglob("*")):
        if path.is_file():
            relative = path.relative_to(top).as_posix()
            digests[relative] = sha256(path.read_bytes())
            modes[relative] = stat.S_IMODE(path.stat().st_mode)
    return Snapshot(digests, modes)


def copy_with_varied_modes(source: Path, target: Path) -> None:
    """Copy the tree and give its files varied modes, so that keeping the mode is tested."""
    shutil.copytree(source, target)
    files = sorted(path for path in target.rglob("*") if path.is_file())
    for index, path in enumerate(files):
        path.chmod(FILE_MODES[index % len(FILE_MODES)])


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


def table(reports: Sequence[Report]) -> str:
    """The figures of each fix run, and its fixes per code, as a Markdown table."""
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


# --- running flake8-cancel ------------------------------------------------------------------------

class Linter(NamedTuple):
    """Which flake8-cancel runs, and how many files one run checks at once."""
    package: Path  # the folder that holds the flake8_cancel package
    jobs: int

    def run(self, *args: str, cwd: Path) -> Run:
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(self.package), *filter(None, [os.environ.get("PYTHONPATH")])]))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "flake8_cancel", "--isolated", "--target-version=3.11",
             f"--jobs={self.jobs}", *args],
            capture_output=True, text=True, cwd=cwd, env=environment,
        )
        return Run(done.returncode, done.stdout, done.stderr,
                                time.perf_counter() - started)


@contextlib.contextmanager
def package_at(revision: Optional[str]) -> Iterator[Path]:
    """The folder holding flake8_cancel: this checkout, or the package committed at revision."""
    if revision is None:
        yield ROOT
        return
    done = subprocess.run(["git", "archive", "--format=tar", revision, "flake8_cancel"],
                          cwd=ROOT, capture_output=True)
    if done.returncode != 0:
        raise BadInput(f"cannot read flake8_cancel at {revision}: "
                       f"{done.stderr.decode(errors='replace').strip()}")
    folder = Path(tempfile.mkdtemp(prefix="ecosystem-flake8-cancel-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
            archive.extractall(folder, filter="data")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


Result = TypeVar("Result")


def per_project(work: Callable[[Project, Linter], Result], projects: List[Project],
                linter: Linter) -> Iterator[Result]:
    """work(project, linter) for each project, results in order. Up to `linter.jobs` projects
    run at once and share the cores: most projects are small, so one run's own parallelism would
    mostly wait on its start-up."""
    workers = min(linter.jobs, len(projects)) or 1
    each = linter._replace(jobs=max(1, linter.jobs // workers))
    with ThreadPoolExecutor(workers) as pool:
        yield from pool.map(lambda project: work(project, each), projects)


# --- findings -------------------------------------------------------------------------------------

class SourceFile:
    """A file's physical lines and the spans of its functions, to describe a finding."""

    def __init__(self, path: Path) -> None:
        try:
            with tokenize.open(path) as opened:  # honours the coding cookie and BOM
                text = opened.read()
        except (OSError, SyntaxError, UnicodeDecodeError):
            text = ""
        self.lines = text.split("\n")  # universal newlines: the CLI's physical lines
        self.spans: Optional[List[Tuple[int, int, str]]] = None
        try:
            self.spans = function_spans(ast.parse(text))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass  # syntax newer than this Python, or too deep: the function stays unknown

    def line(self, number: int) -> str:
        return self.lines[number - 1].strip() if 0 < number <= len(self.lines) else ""

    def function_at(self, number: int) -> Optional[str]:
        if self.spans is None:
            return None
        around = [span for span in self.spans if span[0] <= number <= span[1]]
        return max(around)[2] if around else "<module>"  # the innermost starts last


def function_spans(tree: ast.AST) -> List[Tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function; classes prefix the name."""
    spans: List[Tuple[int, int, str]] = []
    pending: List[Tuple[ast.AST, str]] = [(tree, "")]
    while pending:  # iterative: deeply nested code must not exhaust the recursion limit
        node, prefix = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno or child.lineno, name))
                pending.append((child, name + "."))
            else:
                pending.append((child, prefix))
    return spans


def describe(root: Path, items: List[dict]) -> List[dict]:
    """The findings as records: where, what, the source line and the enclosing function."""
    sources: Dict[str, SourceFile] = {}
    records = []
    for item in items:
        path = item["path"]
        if path not in sources:
            sources[path] = SourceFile(root / path)
        source = sources[path]
        records.append({
            "path": path, "line": item["line"], "column": item["column"], "code": item["code"],
            "message": item["message"], "function": source.function_at(item["line"]),
            "source": source.line(item["line"]),
        })
    return sorted(records, key=finding_order)


def finding_order(record: dict) -> tuple:
    return record["path"], record["line"], record["column"], record["code"]


def finding_key(record: dict) -> tuple:
    return record["path"], record["code"], record["line"]


class RunChecks(NamedTuple):
    notes: List[str]
    failures: List[str]


def run_cli(linter: Linter, project: Project, root: Path, label: str, checks: RunChecks,
            *options: str) -> Tuple[Run, List[dict]]:
    """One flake8-cancel run (every rule, JSON) over the project's lint paths under root."""
    run = linter.run(*EVERY_RULE, "--format=json", *options, *project.lint, cwd=root)
    check_run(label, run, checks.notes, checks.failures)
    try:
        json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        checks.failures.append(f"{label}: the output is not JSON: {run.stdout[:300]!r}")
        return run, []
    return run, cli_findings(run, root)


class Comparison(NamedTuple):
    current: List[Tuple[dict, Optional[dict]]]  # each item with its baseline entry, if any
    disappeared: List[dict]

    @property
    def appeared(self) -> List[dict]:
        return [item for item, entry in self.current if entry is None]


def compare(current: List[dict], baseline: List[dict], key: Callable[[dict], tuple]) -> Comparison:
    waiting: Dict[tuple, List[dict]] = defaultdict(list)
    for entry in baseline:
        waiting[key(entry)].append(entry)
    paired = []
    for item in current:
        queue = waiting.get(key(item))
        paired.append((item, queue.pop(0) if queue else None))
    return Comparison(paired, [entry for queue in waiting.values() for entry in queue])


# --- baseline files -------------------------------------------------------------------------------

class Baseline(NamedTuple):
    path: Path
    version: Optional[str]  # the project version it was made for; None when there is no file
    entries: List[dict]


def read_baseline(path: Path, list_name: str, required: Sequence[str],
                  verdicts: Sequence[str]) -> Baseline:
    if not path.exists():
        return Baseline(path, None, [])
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data[list_name]
        for entry in entries:
            missing = [field for field in required if field not in entry]
            if missing:
                raise BadInput(f"{shown(path)}: an entry lacks {', '.join(missing)}: {entry}")
            if entry["verdict"] not in verdicts:
                raise BadInput(f"{shown(path)}: verdict {entry['verdict']!r} is not one of "
                               f"{', '.join(verdicts)}: {entry['path']}:{entry['line']}")
        return Baseline(path, data.get("version"), entries)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise BadInput(f"cannot read {shown(path)}: {error!r}") from None


def write_baseline(baseline: Baseline, project: Project, list_name: str,
                   entries: List[dict]) -> None:
    baseline.path.parent.mkdir(parents=True, exist_ok=True)
    data = {"project": project.name, "version": project.version, list_name: entries}
    baseline.path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")


def updated_entries(comparison: Comparison, kept_fields: Sequence[str],
                    fresh: Dict[str, str]) -> List[dict]:
    """The current items, each keeping the reviewed fields of its baseline entry (fresh ones get
    the `fresh` values); entries of items that disappeared are dropped."""
    entries = []
    for item, entry in comparison.current:
        reviewed = {field: entry[field] for field in kept_fields} if entry else dict(fresh)
        entries.append({**item, **reviewed})
    return entries


# --- lint -----------------------------------------------------------------------------------------

class LintResult(NamedTuple):
    project: Project
    files: int
    seconds: float
    checks: RunChecks
    baseline: Baseline
    comparison: Comparison


def lint_project(project: Project, linter: Linter) -> LintResult:
    root = fetch(project)
    checks = RunChecks([], [])
    run, items = run_cli(linter, project, root, "lint", checks)
    baseline = read_baseline(FINDINGS_BASELINE / f"{project.name}.json", "findings",
                             ("path", "line", "code", "verdict", "reason"), FINDING_VERDICTS)
    comparison = compare(describe(root, items), baseline.entries, finding_key)
    return LintResult(project, python_files(project), run.seconds, checks, baseline, comparison)


def print_lint_result(result: LintResult) -> None:
    comparison = result.comparison
    untriaged = sum(1 for _, entry in comparison.current if verdict_of(entry) == "untriaged")
    print(f"== {result.project.label}: {len(comparison.current)} findings, "
          f"{len(comparison.appeared)} appeared, {len(comparison.disappeared)} disappeared, "
          f"{untriaged} untriaged ({result.seconds:.1f} s)")
    if result.baseline.version not in (None, result.project.version):
        print(f"  note: the baseline was made for version {result.baseline.version}")
    for line in result.checks.notes:
        print(f"  note: {line}")
    for line in result.checks.failures:
        print(f"  FAILED: {line}")
    for item in comparison.appeared:
        print(f"  + {item['path']}:{item['line']}:{item['column']} {item['code']} "
              f"{item['message']}")
        print(f"      in {item['function'] or '?'}: {item['source']}")
    for entry in comparison.disappeared:
        print(f"  - {entry['path']}:{entry['line']} {entry['code']} "
              f"({entry['verdict']}{': ' + entry['reason'] if entry['reason'] else ''})")


def verdict_of(entry: Optional[dict]) -> str:
    return entry["verdict"] if entry else "untriaged"


def precision_table(results: Sequence[LintResult]) -> str:
    """Per code: current findings, their verdicts in the baseline, and the precision."""
    counts: Dict[str, Counter] = defaultdict(Counter)
    for result in results:
        for item, entry in result.comparison.current:
            counts[item["code"]][verdict_of(entry)] += 1
    rows = [(code, counts[code]) for code in sorted(counts)]
    default = sum((tally for code, tally in rows if code not in OPT_IN_CODES), Counter())
    every = sum((tally for _, tally in rows), Counter())
    rows += [("default rules", default), ("every rule", every)]
    lines = ["| code | findings | tp | fp | untriaged | precision |", "|---|---|---|---|---|---|"]
    for code, tally in rows:
        judged = tally["tp"] + tally["fp"]
        precision = f"{tally['tp'] / judged:.0%}" if judged else "-"
        lines.append(f"| {code} | {sum(tally.values())} | {tally['tp']} | {tally['fp']} | "
                     f"{tally['untriaged']} | {precision} |")
    return "\n".join(lines)


def projects_table(results: Sequence[LintResult]) -> str:
    lines = ["| project | version | kind | Python files | findings | appeared | disappeared | "
             "seconds |", "|---|---|---|---|---|---|---|---|"]
    for result in results:
        project, comparison = result.project, result.comparison
        lines.append(f"| {project.name} | {project.version} | {project.kind} | {result.files} | "
                     f"{len(comparison.current)} | {len(comparison.appeared)} | "
                     f"{len(comparison.disappeared)} | {result.seconds:.1f} |")
    return "\n".join(lines)


def lint_command(projects: List[Project], linter: Linter, update: bool) -> int:
    started = time.perf_counter()
    results = []
    for result in per_project(lint_project, projects, linter):
        print_lint_result(result)
        results.append(result)
        if update:
            update_findings_baseline(result)
    print()
    print(projects_table(results))
    print()
    print(precision_table(results))
    crashed = [result.project.name for result in results if result.checks.failures]
    changed = sum(len(result.comparison.appeared) + len(result.comparison.disappeared)
                  for result in results)
    print(f"\n{sum(len(result.comparison.current) for result in results)} findings in "
          f"{len(results)} projects, {changed} appeared or disappeared, "
          f"{time.perf_counter() - started:.0f} s")
    if crashed:
        print(f"runs that failed: {', '.join(crashed)}")
    return 1 if crashed or (changed and not update) else 0


def update_findings_baseline(result: LintResult) -> None:
    if result.checks.failures:
        print("  baseline not updated: the run failed")  # it would drop every verdict
        return
    entries = updated_entries(result.comparison, ("verdict", "reason"),
                              {"verdict": "untriaged", "reason": ""})
    write_baseline(result.baseline, result.project, "findings", entries)
    print(f"  wrote {shown(result.baseline.path)}: {len(entries)} findings")


# --- fix ------------------------------------------------------------------------------------------

class FixResult(NamedTuple):
    report: Report
    sites: List[dict]  # the findings fixed: path, line, code, mode (the fix's safety)


def fix_project(project: Project, mode: str, linter: Linter, keep: bool) -> FixResult:
    """--fix in this mode on a copy of the project, with the invariants checked."""
    root = fetch(project)
    workspace = Path(tempfile.mkdtemp(prefix=f"ecosystem-fix-{mode}-{project.name}-"))
    top = workspace / root.name
    checks = RunChecks([], [])
    try:
        copy_with_varied_modes(root, top)
        before = snapshot(top)
        _, found = run_cli(linter, project, top, "lint", checks)
        fixable = [item for item in found if item["fix"] in APPLIED_FIXES[mode]]
        originals = {path: (top / path).read_bytes() for path in {i["path"] for i in fixable}}

        fix, left = run_cli(linter, project, top, f"--fix ({mode})", checks, *FIX_MODES[mode])
        after = snapshot(top)
        second, _ = run_cli(linter, project, top, f"second --fix ({mode})", checks,
                            *FIX_MODES[mode])
        final = snapshot(top)

        changed = changed_files(before, after)
        check_tree(before, after, changed, set(originals), checks.failures)
        compile_failures = check_changed_files(top, originals, changed, checks.failures)
        check_no_finding_added(found, left, checks.failures)
        fixed = fixed_findings(fixable, left, mode, checks.failures,
                               original_lines(top, originals))
        check_summary(fix, len(fixed), checks)
        second_changed = changed_files(after, final)
        checks.failures.extend(f"the second --fix changed {path}" for path in second_changed)
        second_summary = SUMMARY.search(second.stderr)
        if second_summary is None or second_summary.group(1) != "0":
            checks.failures.append(f"the second --fix fixed something: "
                                   f"{second.stderr.strip()[-300:]}")
        write_diff(project, mode, top, originals, changed)
        figures: Dict[str, object] = {
            "files": python_files(project),
            "findings": len(found),
            "fixable": len(fixable),
            "files changed": len(changed),
            "fixes": len(fixed),
            "left": len(left),
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
    report = Report(f"{project.name} ({mode})", figures,
                    Counter(item["code"] for item in fixed), checks.notes, checks.failures)
    sites = [{"path": item["path"], "line": item["line"], "code": item["code"],
              "mode": item["fix"]} for item in fixed if item["fix"] == mode]
    return FixResult(report, sites)


def check_no_finding_added(found: List[dict], left: List[dict], failures: List[str]) -> None:
    """Per file and code, no more findings after the fix than before (lines move, so counts)."""
    before = Counter((item["path"], item["code"]) for item in found)
    after = Counter((item["path"], item["code"]) for item in left)
    for (path, code), count in sorted(after.items()):
        if count > before[(path, code)]:
            failures.append(f"{path}: the fixes added {code} findings: {before[(path, code)]} "
                            f"before, {count} after")


def fixed_findings(fixable: List[dict], left: List[dict], mode: str, failures: List[str],
                   where_before: Callable[[str, int], int]) -> List[dict]:
    """The fixable findings the run fixed: those no longer reported. A finding left after the fix
    is placed back on the original file through the fix's diff (where_before), since lines move:
    a fix the run dropped (one that would add a finding) leaves its finding, now without a fix,
    and that site is not fixed."""
    still = set()
    remaining = set()
    for item in left:
        if item["fix"] in APPLIED_FIXES[mode]:
            still.add((item["path"], item["code"]))
            failures.append(f"{item['path']}:{item['line']}: {item['code']} still has a "
                            f"{item['fix']} fix")
        remaining.add((item["path"], item["code"], where_before(item["path"], item["line"])))
    return [item for item in fixable if (item["path"], item["code"]) not in still
            and (item["path"], item["code"], item["line"]) not in remaining]


def original_lines(top: Path, originals: Dict[str, bytes]) -> Callable[[str, int], int]:
    """For a file of the fixed copy, the original line a line of it comes from: lines the fix
    replaced map to the lines they replaced, in order; inserted ones to the original line that
    follows them. Lines as the CLI counts them (universal newlines)."""
    mappings: Dict[str, Callable[[int], int]] = {}

    def mapping(path: str) -> Callable[[int], int]:
        before = physical_lines(originals[path])
        after = physical_lines((top / path).read_bytes()) if (top / path).exists() else []
        opcodes = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()

        def back(line: int) -> int:
            index = line - 1
            for _, i1, i2, j1, j2 in opcodes:
                if j1 <= index < j2:
                    return min(i1 + (index - j1), max(i1, i2 - 1)) + 1
            return line
        return back

    def where_before(path: str, line: int) -> int:
        if path not in originals:
            return line  # an unchanged file: its lines did not move
        if path not in mappings:
            mappings[path] = mapping(path)
        return mappings[path](line)

    return where_before


def physical_lines(data: bytes) -> List[str]:
    text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def check_summary(fix: Run, fixed: int, checks: RunChecks) -> None:
    summary = SUMMARY.search(fix.stderr)
    if summary is None:
        checks.failures.append("--fix printed no summary line")
    elif int(summary.group(1)) != fixed:  # one fix may settle findings of two codes
        checks.notes.append(f"the summary says {summary.group(1)} fixes; fixable findings "
                            f"gone: {fixed}")


def write_diff(project: Project, mode: str, top: Path, originals: Dict[str, bytes],
               changed: List[str]) -> None:
    target = FIX_DIFFS / mode / f"{project.name}.diff"
    chunks = []
    for path in changed:
        if (top / path).exists():
            chunks.extend(difflib.unified_diff(
                review_lines(originals.get(path, b"")), review_lines((top / path).read_bytes()),
                f"a/{path}", f"b/{path}"))
    target.parent.mkdir(parents=True, exist_ok=True)
    if chunks:
        target.write_text("".join(chunk if chunk.endswith("\n") else chunk + "\n"
                                  for chunk in chunks), encoding="utf-8")
    else:
        target.unlink(missing_ok=True)  # a diff from an earlier run would mislead


def review_lines(data: bytes) -> List[str]:
    return data.decode("utf-8", "replace").splitlines(keepends=True)


def fix_key(entry: dict) -> tuple:
    return entry["path"], entry["line"], entry["code"], entry["mode"]


def fix_command(projects: List[Project], linter: Linter, update: bool, keep: bool) -> int:
    started = time.perf_counter()
    reports: List[Report] = []
    by_code: Dict[str, Counter] = defaultdict(Counter)
    changed = 0

    def both_modes(project: Project, each: Linter) -> List[FixResult]:
        return [fix_project(project, mode, each, keep) for mode in FIX_MODES]

    for project, results in zip(projects, per_project(both_modes, projects, linter)):
        baseline = read_baseline(FIXES_BASELINE / f"{project.name}.json", "fixes",
                                 ("path", "line", "code", "mode", "verdict", "reason"),
                                 FIX_VERDICTS)
        sites = sorted((site for result in results for site in result.sites), key=fix_key)
        comparison = compare(sites, baseline.entries, fix_key)
        print_fix_result(project, results, comparison)
        for mode, result in zip(FIX_MODES, results):
            reports.append(result.report)
            for code, count in result.report.fixed_by_code.items():
                by_code[code][mode] += count
        changed += len(comparison.appeared) + len(comparison.disappeared)
        if update and not any(result.report.failures for result in results):
            entries = updated_entries(comparison, ("verdict", "reason"),
                                      {"verdict": "unreviewed", "reason": ""})
            write_baseline(baseline, project, "fixes", entries)
            print(f"  wrote {shown(baseline.path)}: {len(entries)} fixed sites")
    print()
    print(table(reports))
    print()
    print("| code | fixes with --fix | fixes with --fix --unsafe-fixes |\n|---|---|---|")
    for code in sorted(by_code):
        print(f"| {code} | {by_code[code]['safe']} | {by_code[code]['unsafe']} |")
    failed = sum(len(report.failures) for report in reports)
    print(f"\ndiffs in {shown(FIX_DIFFS)}/MODE/; {failed} invariant failures, {changed} fixed "
          f"sites appeared or disappeared, {time.perf_counter() - started:.0f} s")
    return 1 if failed or (changed and not update) else 0


def print_fix_result(project: Project, results: List[FixResult], comparison: Comparison) -> None:
    print(f"== {project.label}: {len(comparison.current)} fixed sites, "
          f"{len(comparison.appeared)} appeared, {len(comparison.disappeared)} disappeared")
    for result in results:
        for line in result.report.notes:
            print(f"  {result.report.corpus}: note: {line}")
        for line in result.report.failures:
            print(f"  {result.report.corpus}: FAILED: {line}")
    for site, entry in comparison.current:
        review = f"{entry['verdict']}{': ' + entry['reason'] if entry['reason'] else ''}" \
            if entry else "new"
        print(f"  {'+' if entry is None else ' '} {site['path']}:{site['line']} {site['code']} "
              f"{site['mode']} ({review})")
    for entry in comparison.disappeared:
        print(f"  - {entry['path']}:{entry['line']} {entry['code']} {entry['mode']} "
              f"({entry['verdict']}{': ' + entry['reason'] if entry['reason'] else ''})")


# --- command line ---------------------------------------------------------------------------------

def fetch_command(projects: List[Project]) -> int:
    for project in projects:
        print(fetch(project))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("fetch", "lint", "fix"))
    parser.add_argument("--project", action="append", metavar="NAME",
                        help="a project of ecosystem/projects.toml (repeatable; default: all)")
    parser.add_argument("--jobs", "-j", type=int, default=2,
                        help="cores to use: projects checked at once, or with one project the "
                             "files flake8-cancel checks in parallel (default: 2)")
    parser.add_argument("--update-baseline", action="store_true",
                        help="lint/fix: write what is reported now into the baseline files, "
                             "keeping the verdicts of what is still there")
    parser.add_argument("--rev", metavar="REV",
                        help="run flake8-cancel as committed at this git revision (default: the "
                             "working tree)")
    parser.add_argument("--keep", action="store_true",
                        help="fix: keep the fixed copies and print where")
    options = parser.parse_args(argv)
    if options.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        projects = chosen_projects(load_projects(), options.project)
        if options.command == "fetch":
            return fetch_command(projects)
        with package_at(options.rev) as package:
            linter = Linter(package, options.jobs)
            if options.command == "lint":
                return lint_command(projects, linter, options.update_baseline)
            return fix_command(projects, linter, options.update_baseline, options.keep)
    except BadInput as error:
        print(f"ecosystem: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output was piped into a reader that stopped (head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 1


if __name__ == "__main__":
    sys.exit(main())
