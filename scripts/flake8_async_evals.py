"""A peer's test suite as a yardstick: flake8-async's ASYNC103/ASYNC104 eval files run through
flake8-cancel, handler by handler.

    python scripts/flake8_async_evals.py             # the comparison, and what lacks a verdict
    python scripts/flake8_async_evals.py --markdown  # the tables of docs/flake8-async.md
    options: --rev REV (run flake8-cancel as committed at a git revision, not the working tree)

Run it with the development virtualenv's Python (it needs libcst). The flake8-async release is
pinned below (file and sha256). Its sdist is fetched as ``scripts/ecosystem.py`` fetches a
project (the package's PEP 691 simple index, urllib, the sha256 checked) into
``.cache/flake8-async/``, and the eval files of ASYNC103 and ASYNC104 (``tests/eval_files/
async103*.py`` and ``async104*.py``) are read from it.

How flake8-async's harness (``tests/test_flake8_async.py``) reads an eval file, and what is
taken from it here:

- An expected error is a comment ``# error: COL, ARGS`` (the code is the file's name up to its
  first ``_``: ``async104_trio.py`` expects ASYNC104) or ``# ASYNC103_trio: COL, ARGS`` (a code
  with the library its message suggests); a line that is only a comment never expects one.
  ``# ARG --enable=ASYNC103,ASYNC104`` chooses the checks, else only the file's own code runs:
  ASYNC103 is not checked in ``async104_trio.py``, ASYNC104 not in ``async103_no_104.py``.
- Each file runs for trio, anyio and asyncio. It is written for trio unless a
  ``# BASE_LIBRARY NAME`` marker says otherwise; for another library the word is substituted
  (``trio`` to ``anyio``, ``open_nursery`` to ``create_task_group``, ...: their
  ``replace_library``, reproduced below). ``# NOANYIO``/``# NOASYNCIO``/``# NOTRIO`` mean that
  library's run only checks that nothing crashes (no variant here), and ``# ANYIO_NO_ERROR``
  (and the others) that it expects nothing. Their marker is read verbatim, so
  ``# BASE_LIBRARY ANYIO`` in ``async104_anyio.py`` never equals ``anyio``: that file is run
  unchanged for the three libraries, as there.
- A name ``..._pyXY`` needs that Python version (skipped on an older one, as there).

ASYNC103 and ASYNC104 look at every handler, in sync code and at module level too, and the
eval files are written so: module-level ``try: ...`` blocks and sync functions. flake8-cancel
looks only at async code whose try body can be cancelled (it awaits). So each variant is run in
two modes:

- ``shipped``: the file as their harness checks it.
- ``async``: the same handlers in async code. The file's body, after its leading docstring and
  imports, goes into ``async def _eval_file():`` (with ``import LIB`` for the variant's library
  when the file has none), every ``def`` becomes ``async def``, and a try body that is only
  ``...`` (outside any handler) becomes ``await LIB.sleep(0)``, a checkpoint in each library.
  Lines are mapped back, so every line number printed is the eval file's own.

Both tools' findings are attributed to a handler: the innermost handler that catches
cancellation (bare, ``BaseException``, ``Cancelled``, ``CancelledError``,
``get_cancelled_exc_class()``) around the finding's line, else the innermost handler. Per
handler: both report (agree), neither (agree), theirs only, ours only. Handlers whose outcome is
the same in several libraries are one row. flake8-cancel runs with its default rules, as a user
runs it.

Verdicts: each difference needs a row in ``docs/flake8-async.md``, in the table of its mode,
keyed on its first cell (``async103.py:42`` and the libraries), whose last cell says who is
right and why. ``--markdown`` prints both tables with the verdicts written so far ("untriaged"
for a new difference), to paste over the doc's.

Exit status: 0 when every difference has a verdict and every verdict a difference; 1 when not;
2 for bad input (a failed download, a wrong sha256), reported in one line.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tarfile
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple

# scripts/ is on sys.path when this file runs: the ecosystem check's fetching and running.
from ecosystem import BadInput, Linter, Project, index_url, package_at, reason, sha256, shown

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "flake8-async.md"
FLAKE8_ASYNC = Project(
    name="flake8-async",
    version="26.8.1",
    kind="linter",
    file="flake8_async-26.8.1.tar.gz",
    sha256="c2d9e7b318169a85d821c8b2e661959481e59db1551626b7471c6e4627c99d9b",
    lint=(),
)
CACHE = ROOT / ".cache" / "flake8-async"
EVAL_FILES = CACHE / FLAKE8_ASYNC.version / "eval_files"
RUNS = CACHE / FLAKE8_ASYNC.version / "runs"
EVAL_FILE_NAME = re.compile(r"tests/eval_files/(async10[34][a-z0-9_]*\.py)$")

LIBRARIES = ("trio", "anyio", "asyncio")
MODES = ("async", "shipped")
MODE_HEADINGS = {"shipped": "## As shipped", "async": "## In async code"}
# Their annotation grammar: `# error: ...` or `# ASYNC103_trio: ...`, up to the next comment.
ANNOTATION = re.compile(r"(error|ASYNC...)(_.*)?:([^#]*)(?=#|$)")
CANCELLATION_WORDS = re.compile(r"\b(BaseException|Cancelled|CancelledError|"
                                r"get_cancelled_exc_class)\b")
WRAPPER = "async def _eval_file():"
UNTRIAGED = "untriaged"


# --- fetching -------------------------------------------------------------------------------------

def fetch_eval_files() -> List[Path]:
    """The ASYNC103/104 eval files of the pinned sdist, downloaded and extracted unless done."""
    marker = EVAL_FILES / ".extracted"  # written last, so a half-finished extraction is redone
    if not marker.exists():
        archive = download()
        EVAL_FILES.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(archive) as opened:
                for member in opened.getmembers():
                    match = EVAL_FILE_NAME.search(member.name)
                    if match and member.isfile():
                        data = opened.extractfile(member).read()
                        (EVAL_FILES / match.group(1)).write_bytes(data)
        except (OSError, tarfile.TarError) as error:
            raise BadInput(f"cannot read {archive.name}: {error}") from None
        marker.write_text(FLAKE8_ASYNC.file + "\n")
    files = sorted(EVAL_FILES.glob("async10*.py"))
    if not files:
        raise BadInput(f"{FLAKE8_ASYNC.file} holds no tests/eval_files/async103*.py")
    return files


def download() -> Path:
    target = CACHE / "downloads" / FLAKE8_ASYNC.file
    if target.exists() and sha256(target.read_bytes()) == FLAKE8_ASYNC.sha256:
        return target
    url = index_url(FLAKE8_ASYNC)
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {url}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
    except OSError as error:  # urllib's errors are OSErrors
        raise BadInput(f"cannot download {FLAKE8_ASYNC.file}: {reason(error)}") from None
    digest = sha256(data)
    if digest != FLAKE8_ASYNC.sha256:
        raise BadInput(f"{FLAKE8_ASYNC.file}: sha256 {digest} is not the pinned "
                       f"{FLAKE8_ASYNC.sha256}")
    target.write_bytes(data)
    return target


# --- their harness --------------------------------------------------------------------------------

class Markers(NamedTuple):
    skipped: Set[str]    # NOTRIO, NOANYIO, NOASYNCIO: that run only checks for crashes
    no_error: Set[str]   # TRIO_NO_ERROR, ...: that run expects nothing
    base_library: str    # BASE_LIBRARY, verbatim


def read_markers(content: str) -> Markers:
    skipped = {library for library in LIBRARIES if f"# NO{library.upper()}" in content}
    no_error = {library for library in LIBRARIES if f"# {library.upper()}_NO_ERROR" in content}
    base = re.search(r"# BASE_LIBRARY (\w*)", content)
    return Markers(skipped, no_error, base.group(1) if base else "trio")


def replace_library(text: str, original: str, new: str) -> str:
    """Their substitution of one library's names by another's (tests/test_flake8_async.py):
    whole words not after a `-`, a library name also after `_` (codes like ASYNC103_trio), and
    between trio and anyio the nursery names too."""

    def replace(text: str, old: str, by: str) -> str:
        if old in LIBRARIES:
            pattern = rf"(?<!-)(?:\b|(?<=_)){old}\b"
        elif re.fullmatch(r"\w+", old):
            pattern = rf"(?<!-)\b{old}\b"
        else:
            pattern = rf"(?<!-){re.escape(old)}"
        return re.sub(pattern, by, text)

    if sorted((original, new)) == ["anyio", "trio"]:
        pairs = (("open_nursery", "create_task_group"), ('"nursery"', '"task group"'),
                 ("nursery", "task_group"), ("Nursery", "TaskGroup"))
        for trio_name, anyio_name in pairs:
            text = (replace(text, trio_name, anyio_name) if original == "trio"
                    else replace(text, anyio_name, trio_name))
    return replace(text, original, new)


def enabled_codes(test: str, content: str) -> Set[str]:
    codes = {test}
    for argument in re.findall(r"(?<=ARG ).*", content):
        found = re.match(r"--enable=(.*)", argument.strip())
        if found:
            codes = set(found.group(1).split(","))
    return codes


def expected_errors(test: str, content: str) -> List[Tuple[int, str]]:
    """(line, code) of each annotation, the code without its library suffix."""
    expected = []
    for number, line in enumerate(content.split("\n"), 1):
        line = line.strip()
        if not line or line.startswith("#") or "#" not in line:
            continue
        for code, _suffix, _arguments in ANNOTATION.findall(line):
            expected.append((number, test if code == "error" else code))
    return expected


class Variant(NamedTuple):
    name: str       # the eval file's name
    library: str
    content: str    # after substitution
    expected: List[Tuple[int, str]]


def variants(path: Path) -> Iterator[Variant]:
    content = path.read_text(encoding="utf-8")
    test = path.stem.split("_", 1)[0].upper()
    needs = re.search(r"_py(\d)(\d+)$", path.stem)
    if needs and sys.version_info < (int(needs.group(1)), int(needs.group(2))):
        print(f"{path.name}: skipped, needs Python {needs.group(1)}.{needs.group(2)}",
              file=sys.stderr)
        return
    markers = read_markers(content)
    for library in LIBRARIES:
        if library in markers.skipped:
            continue
        text = content if library == markers.base_library else replace_library(
            content, markers.base_library, library)
        enabled = enabled_codes(test, text)
        expected = [] if library in markers.no_error else [
            (line, code) for line, code in expected_errors(test, text) if code in enabled]
        yield Variant(path.name, library, text, expected)


# --- the async mode -------------------------------------------------------------------------------

class Source(NamedTuple):
    text: str
    original_line: Dict[int, int]  # line of text -> line of the eval file


def as_async(variant: Variant) -> Source:
    """The eval file's handlers in async code, lines mapped back (see the module's doc)."""
    tree = ast.parse(variant.content)
    imported = {alias.name for node in tree.body if isinstance(node, ast.Import)
                for alias in node.names} & set(LIBRARIES)
    if len(imported) > 1 and "anyio" in imported:
        library = "anyio"  # a file that mixes libraries: anyio's checkpoint runs on either loop
    elif variant.library in imported or not imported:
        library = variant.library
    else:  # a file of another library that is not substituted (BASE_LIBRARY ANYIO)
        library = sorted(imported)[0]
    lines = variant.content.split("\n")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            line = lines[node.lineno - 1]
            lines[node.lineno - 1] = (line[:node.col_offset] + "async "
                                      + line[node.col_offset:])
    for node in tries_outside_handlers(tree):
        first = node.body[0]
        if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and first.value.value is Ellipsis):
            line = lines[first.lineno - 1]
            lines[first.lineno - 1] = (line[:first.col_offset] + f"await {library}.sleep(0)"
                                       + line[first.end_col_offset:])
    leading = 0
    for node in tree.body:
        docstring = (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                     and isinstance(node.value.value, str))
        if not (isinstance(node, (ast.Import, ast.ImportFrom)) or docstring):
            break
        leading = node.end_lineno
    header = ([] if library in imported else [f"import {library}"]) + [WRAPPER]
    body = ["    " + line if line.strip() else line for line in lines[leading:]]
    text = "\n".join(lines[:leading] + header + body)
    original_line = {number: number for number in range(1, leading + 1)}
    for number in range(leading + 1, len(lines) + 1):
        original_line[number + len(header)] = number
    return Source(text, original_line)


def tries_outside_handlers(tree: ast.AST) -> Iterator[ast.AST]:
    def walk(node: ast.AST, in_handler: bool) -> Iterator[ast.AST]:
        if isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))) and not in_handler:
            yield node
        for child in ast.iter_child_nodes(node):
            yield from walk(child, in_handler or isinstance(node, ast.ExceptHandler))
    return walk(tree, False)


def as_shipped(variant: Variant) -> Source:
    return Source(variant.content,
                  {number: number for number in range(1, variant.content.count("\n") + 2)})


# --- handlers and the comparison ------------------------------------------------------------------

class Handler(NamedTuple):
    line: int       # of `except`
    end_line: int
    catches_cancellation: bool


def handlers(content: str) -> List[Handler]:
    found = []
    for node in ast.walk(ast.parse(content)):
        if isinstance(node, ast.ExceptHandler):
            catches = node.type is None or bool(
                CANCELLATION_WORDS.search(ast.unparse(node.type)))
            found.append(Handler(node.lineno, node.end_lineno, catches))
    return sorted(found)


def owner(handlers_: List[Handler], line: int) -> Optional[int]:
    """The handler a finding on this line is about: the innermost one around it that catches
    cancellation, else the innermost one, else none."""
    around = [handler for handler in handlers_ if handler.line <= line <= handler.end_line]
    for candidates in ([h for h in around if h.catches_cancellation], around):
        if candidates:
            return max(candidates).line  # the innermost starts last
    return None


class Outcome(NamedTuple):
    theirs: Tuple[str, ...]  # "ASYNC104:36": each code with the line it is on
    ours: Tuple[str, ...]

    @property
    def kind(self) -> str:
        if bool(self.theirs) == bool(self.ours):
            return "agree"
        return "theirs only" if self.theirs else "ours only"


def labelled(line: int, code: str, handler_line: Optional[int]) -> str:
    return code if line == handler_line else f"{code}:{line}"


def compare(variant: Variant, findings: List[Tuple[int, str]]) -> Dict[Optional[int], Outcome]:
    """The outcome of every handler of the variant (None: findings outside any handler)."""
    handlers_ = handlers(variant.content)
    theirs: Dict[Optional[int], List[str]] = defaultdict(list)
    ours: Dict[Optional[int], List[str]] = defaultdict(list)
    for found, table in ((variant.expected, theirs), (findings, ours)):
        for line, code in found:
            handler_line = owner(handlers_, line)
            table[handler_line].append(labelled(line, code, handler_line))
    keys = [handler.line for handler in handlers_] + ([None] if None in theirs or None in ours
                                                      else [])
    return {key: Outcome(tuple(sorted(set(theirs[key]))), tuple(sorted(set(ours[key]))))
            for key in keys}


class Row(NamedTuple):
    mode: str
    name: str
    line: Optional[int]
    libraries: Tuple[str, ...]
    outcome: Outcome

    @property
    def key(self) -> str:
        where = f"{self.name}:{self.line}" if self.line else f"{self.name}, outside handlers"
        return f"`{where}` ({', '.join(self.libraries)})"


def run_flake8_cancel(linter: Linter, mode: str,
                      sources: Dict[Tuple[str, str], Source]) -> Dict[Tuple[str, str], list]:
    """Findings (line of the eval file, code) per (eval file, library)."""
    folder = RUNS / mode
    for path in folder.glob("*/*.py"):
        path.unlink()
    for (name, library), source in sources.items():
        (folder / library).mkdir(parents=True, exist_ok=True)
        (folder / library / name).write_text(source.text, encoding="utf-8")
    run = linter.run("--format=json", str(folder), cwd=ROOT)
    try:
        items = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        items = None
    unchecked = [item["filename"] for item in items or [] if item["code"] == "CAN001"]
    if items is None or run.status not in (0, 1) or unchecked:
        raise BadInput(f"flake8-cancel failed on {shown(folder)} (exit status {run.status}): "
                       f"{(run.stderr or run.stdout).strip()[-500:]}")
    findings: Dict[Tuple[str, str], list] = defaultdict(list)
    for item in items:
        path = Path(item["filename"])
        source = sources[(path.name, path.parent.name)]
        findings[(path.name, path.parent.name)].append(
            (source.original_line[item["location"]["row"]], item["code"]))
    return findings


def comparison(linter: Linter, files: List[Path]) -> List[Row]:
    variants_ = [variant for path in files for variant in variants(path)]
    rows: List[Row] = []
    for mode in MODES:
        make = as_async if mode == "async" else as_shipped
        sources = {(variant.name, variant.library): make(variant) for variant in variants_}
        findings = run_flake8_cancel(linter, mode, sources)
        grouped: Dict[Tuple[str, Optional[int], Outcome], List[str]] = defaultdict(list)
        for variant in variants_:
            outcomes = compare(variant, findings.get((variant.name, variant.library), []))
            for line, outcome in outcomes.items():
                grouped[(variant.name, line, outcome)].append(variant.library)
        rows += [Row(mode, name, line, tuple(libraries), outcome)
                 for (name, line, outcome), libraries in grouped.items()]
    return sorted(rows, key=lambda row: (MODES.index(row.mode), row.name, row.line or 0,
                                         LIBRARIES.index(row.libraries[0])))


# --- verdicts in docs/flake8-async.md -------------------------------------------------------------

def read_verdicts() -> Dict[Tuple[str, str], str]:
    """(mode, first cell) -> the verdict of each row of the doc's tables."""
    verdicts: Dict[Tuple[str, str], str] = {}
    mode = None
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    for line in text.splitlines():
        heading = [name for name, title in MODE_HEADINGS.items() if line.strip() == title]
        if line.startswith("## "):
            mode = heading[0] if heading else None
        elif mode and line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            verdicts[(mode, cells[0])] = cells[-1]
    return verdicts


def markdown_table(rows: List[Row], verdicts: Dict[Tuple[str, str], str]) -> List[str]:
    lines = ["| file:line | theirs | ours | who is right and why |", "|---|---|---|---|"]
    for row in rows:
        theirs = ", ".join(row.outcome.theirs) or "none"
        ours = ", ".join(row.outcome.ours) or "none"
        verdict = verdicts.get((row.mode, row.key), UNTRIAGED)
        lines.append(f"| {row.key} | {theirs} | {ours} | {verdict} |")
    return lines


def summary(rows: List[Row], mode: str) -> str:
    """The counts of one mode: each handler counted once per library it was run for."""
    counts: Dict[str, int] = defaultdict(int)
    handlers_ = set()
    for row in rows:
        if row.mode == mode and row.line is not None:
            handlers_.add((row.name, row.line))
            both = bool(row.outcome.theirs) and bool(row.outcome.ours)
            kind = row.outcome.kind if row.outcome.kind != "agree" else (
                "both report" if both else "neither reports")
            counts[kind] += len(row.libraries)
    compared = sum(counts.values())
    return (f"{mode}: {len(handlers_)} handlers, {compared} compared (a handler once per "
            f"library): {counts['both report'] + counts['neither reports']} agree "
            f"({counts['both report']} both report, {counts['neither reports']} neither), "
            f"{counts['theirs only']} theirs only, {counts['ours only']} ours only")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true",
                        help="print the tables of docs/flake8-async.md, verdicts kept")
    parser.add_argument("--rev", metavar="REV",
                        help="run flake8-cancel as committed at this git revision (default: the "
                             "working tree)")
    options = parser.parse_args(argv)
    try:
        files = fetch_eval_files()
        with package_at(options.rev) as package:
            rows = comparison(Linter(package, jobs=1), files)
    except BadInput as error:
        print(f"flake8-async evals: {error}", file=sys.stderr)
        return 2
    verdicts = read_verdicts()
    differences = [row for row in rows if row.outcome.kind != "agree"]
    if options.markdown:
        for mode in MODES:
            print(MODE_HEADINGS[mode], "", summary(rows, mode), "", sep="\n")
            print("\n".join(markdown_table([row for row in differences if row.mode == mode],
                                           verdicts)), end="\n\n")
    else:
        print(f"flake8-async {FLAKE8_ASYNC.version}: {len(files)} eval files of ASYNC103/104")
        for mode in MODES:
            print(summary(rows, mode))
            for row in differences:
                if row.mode == mode:
                    print(f"  {row.outcome.kind:<12} {row.key}: theirs "
                          f"{', '.join(row.outcome.theirs) or 'none'}, ours "
                          f"{', '.join(row.outcome.ours) or 'none'}")
    current = {(row.mode, row.key) for row in differences}
    untriaged = sorted(key for key in current if verdicts.get(key, UNTRIAGED) == UNTRIAGED)
    stale = sorted(key for key in verdicts if key not in current)
    for mode, key in untriaged:
        print(f"no verdict in {shown(DOC)}: {mode} {key}", file=sys.stderr)
    for mode, key in stale:
        print(f"a verdict in {shown(DOC)} for what is no longer a difference: {mode} {key}",
              file=sys.stderr)
    return 1 if untriaged or stale else 0


if __name__ == "__main__":
    sys.exit(main())
