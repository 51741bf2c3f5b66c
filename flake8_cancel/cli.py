"""``flake8-cancel`` / ``python -m flake8_cancel``: lint and fix files and directories.

Exit status: 0 when clean (or with ``--exit-zero``), 1 when there are findings (with ``--fix``:
findings left, or with ``--exit-non-zero-on-fix`` anything fixed; with ``--diff``: fixes to
make), 2 for a usage or configuration error or any file that could not be checked (each such
file is reported as CAN001 at 1:1, naming the reason; the others are still checked).
"""

from __future__ import annotations

import argparse
import difflib
import gc
import multiprocessing
import os
import sys
import time
from contextlib import contextmanager
from typing import (
    IO,
    Any,
    Counter,
    Dict,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

from flake8_cancel import __version__
from flake8_cancel.config import RunConfig, command_line_source, show_settings
from flake8_cancel.discovery import Discovery, find_flake8_file, read_flake8_file
from flake8_cancel.engine import Engine, Statistics
from flake8_cancel.fixer import (
    FileChanged,
    fix_availability,
    fix_bytes,
    fix_edits,
    write_atomically,
)
from flake8_cancel.noqa import NoqaLines, add_noqa, file_is_exempt
from flake8_cancel.options import add_flags, flag_values
from flake8_cancel.reporting import (
    FORMATS,
    Reported,
    Style,
    colours_wanted,
    finding_end,
    render,
    rules_listing,
    statistics,
    summary,
    unchecked,
)
from flake8_cancel.rules import rule_for
from flake8_cancel.selection import UNCHECKED_CODE, code_for, known_codes
from flake8_cancel.settings import ConfigurationError
from flake8_cancel.source import UncheckableFile, decode_source
from flake8_cancel.syntax import physical_lines

SERIAL_LIMIT = 8  # below this many files a process pool costs more than it saves


class FileResult(NamedTuple):
    path: str
    reported: List[Reported]  # with --fix/--diff: what remains after the fixes
    fixed: Counter = Counter()  # code -> findings fixed (or fixable, with --diff)
    diff: str = ""  # with --diff the diff; with --fix of standard input the fixed source
    statistics: Optional[Statistics] = None
    # Fixes built but not applied, each "LINE:COLUMN: CODE fix not applied: REASON".
    not_applied: Tuple[str, ...] = ()
    noqa_added: int = 0


class Mode(NamedTuple):
    fix: bool = False  # write the fixes
    diff: bool = False  # print them as a diff, write nothing
    unsafe: bool = False  # also the fixes that may change behaviour beyond cancellation
    edits: bool = False  # each finding's fix as text edits (json)
    source: bool = False  # each finding's source line (full)
    add_noqa: bool = False  # write a noqa comment for each finding

    @property
    def fixable(self) -> Tuple[str, ...]:
        """The fixes the same command with --fix would apply (marked [*])."""
        if self.fix or self.diff:
            return ()
        return ("safe", "unsafe") if self.unsafe else ("safe",)


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `flake8-cancel ... | head`: the reader left, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def warn(message: str) -> None:
    print(f"flake8-cancel: warning: {message}", file=sys.stderr)


def _main(argv: Optional[Sequence[str]]) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    if options.output_format:
        options.format = options.output_format
    if options.show_source and options.format == "text":
        options.format = "full"
    if options.explain:
        return _explain(options.explain)
    if options.list_rules:
        print("\n".join(rules_listing()))
        return 0
    reading_stdin = "-" in options.paths or options.stdin_filename is not None
    if reading_stdin and [path for path in options.paths if path != "-"]:
        parser.error("standard input ('-' or --stdin-filename) cannot be combined with paths")
    if options.add_noqa and (options.fix or options.diff or reading_stdin):
        parser.error("--add-noqa writes files: it cannot be combined with --fix, --diff or "
                     "standard input")
    for problem in _without_effect(options):
        warn(problem)
    try:
        discovery = Discovery(
            command_line_source(_flag_values(options)),
            None if options.isolated else read_flake8_file(find_flake8_file(os.getcwd())),
            isolated=options.isolated,
        )
        if options.show_settings:
            return _show_settings(discovery, options)
        mode = Mode(fix=options.fix, diff=options.diff, unsafe=options.unsafe_fixes,
                    edits=options.format == "json", source=options.format == "full",
                    add_noqa=options.add_noqa)
        if reading_stdin:
            return _run_stdin(options, discovery, mode)
        problems: List[Tuple[str, str]] = []
        groups: Dict[RunConfig, List[str]] = {}
        for path, config in discovery.files(options.paths or ["."], problems):
            groups.setdefault(config, []).append(path)
    except ConfigurationError as error:
        print(f"flake8-cancel: error: {error}", file=sys.stderr)
        return 2

    if any(not config.codes for config in groups):
        warn("no rule is enabled (see select, ignore and extend-select: --show-settings)")
    if not groups and not problems:
        warn(f"no Python file was checked in {', '.join(options.paths or ['.'])}")
    started = time.perf_counter()
    results = check_groups(groups, options.jobs, mode)
    reported: List[Reported] = []
    fixed: Dict[str, Counter] = {}
    noqa_added = 0
    for path, reason in problems:
        reported.append(unchecked(path, reason))
    out = _output(options)
    for result in sorted(results, key=lambda r: r.path):
        if result.fixed:
            fixed[result.path] = result.fixed
        reported.extend(result.reported)
        noqa_added += result.noqa_added
        for note in result.not_applied:
            print(f"{result.path}:{note}", file=sys.stderr)
        if mode.diff:
            out.write(result.diff)
    reported.sort(key=lambda item: (item.path, item.finding))
    if options.timings:
        _print_timings(results, time.perf_counter() - started, options.jobs)
    style = Style(colours_wanted(out.isatty(), dict(os.environ))
                  and options.format in ("text", "full"))
    if options.statistics:
        out.write(statistics(reported, mode.fixable, style))
    elif not mode.diff and not mode.add_noqa:
        out.write(render(options.format, reported, mode.fixable, style))
    if out is not sys.stdout:
        out.close()
    if mode.add_noqa:
        print(f"Added {noqa_added} noqa comment{'s' * (noqa_added != 1)}", file=sys.stderr)
        return 2 if any(item.unchecked for item in reported) else 0
    if options.show_fixes and fixed:
        print(_fixes_shown(fixed, mode), file=sys.stderr, end="")
    if not (mode.fix or mode.diff) and options.format in ("text", "full"):
        line = summary(reported, mode.unsafe)
        if line:
            print(line, file=sys.stderr)
    return _finish(mode, options, fixed, reported)


def _output(options: argparse.Namespace) -> IO[str]:
    if options.output_file:
        return open(options.output_file, "w", encoding="utf-8")
    return sys.stdout


def _print_timings(results: Sequence[FileResult], wall: float, jobs: int) -> None:
    totals = Statistics()
    for result in results:
        if result.statistics is not None:
            totals.merge(result.statistics)
    print(totals.report(), file=sys.stderr)
    print(f"wall seconds: {wall:.2f} with {jobs} jobs", file=sys.stderr)


def _fixes_shown(fixed: Dict[str, Counter], mode: Mode) -> str:
    """``--show-fixes``: what was (or, with --diff, would be) fixed, per file and code."""
    total = sum(sum(counts.values()) for counts in fixed.values())
    lines = [f"{'Fixed' if mode.fix else 'Would fix'} {total} finding{'s' * (total != 1)}:"]
    for path, counts in sorted(fixed.items()):
        lines.append(f"- {path}:")
        for code, count in sorted(counts.items()):
            lines.append(f"    {count} × {code} ({rule_for(code).slug})")
    return "\n".join(lines) + "\n"


def _finish(
    mode: Mode, options: argparse.Namespace, fixed: Dict[str, Counter],
    reported: Sequence[Reported],
) -> int:
    remaining = sum(1 for item in reported if not item.unchecked)
    total = sum(sum(counts.values()) for counts in fixed.values())
    if mode.fix or mode.diff:
        verb = "Fixed" if mode.fix else "Would fix"
        print(f"{verb} {total} finding{'s' * (total != 1)} ({remaining} remaining)",
              file=sys.stderr)
    if any(item.unchecked for item in reported):
        return 2
    if options.exit_zero:
        return 0
    if mode.diff:
        return 1 if total else 0
    if mode.fix and options.exit_non_zero_on_fix and total:
        return 1
    return 1 if remaining else 0


def _without_effect(options: argparse.Namespace) -> Iterator[str]:
    """Options given that this run would ignore: each gets a warning, never silence."""
    fixing = options.fix or options.diff
    if options.unsafe_fixes and options.add_noqa:
        yield "--unsafe-fixes has no effect with --add-noqa"
    if options.exit_non_zero_on_fix and not options.fix:
        yield "--exit-non-zero-on-fix has no effect without --fix"
    if options.show_fixes and not fixing:
        yield "--show-fixes has no effect without --fix or --diff"
    if options.diff and (options.format != "text" or options.output_format):
        yield f"--format={options.format} has no effect with --diff (the diff is printed)"
    if options.show_source and options.format not in ("text", "full"):
        yield f"--show-source has no effect with --format={options.format}"
    if options.statistics and (options.diff or options.add_noqa):
        yield "--statistics has no effect with --diff or --add-noqa"
    if options.statistics and options.format not in ("text", "full"):
        yield f"--format={options.format} has no effect with --statistics (counts are text)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flake8-cancel",
        description="Find and fix asyncio cancellation misuse in Python files.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or directories (default: .); - reads standard input")
    parser.add_argument("--version", action="version", version=f"flake8-cancel {__version__}")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="how findings are printed (default: text, as flake8; full adds "
                        "the source line)")
    parser.add_argument("--output-format", choices=FORMATS, help="the same as --format (ruff's "
                        "name)")
    parser.add_argument("--output-file", metavar="PATH",
                        help="write the report (or the diff) to this file, not to stdout")
    parser.add_argument("--show-source", action="store_true",
                        help="print each finding's line and a caret under it (--format=full)")
    parser.add_argument("--jobs", "-j", type=_positive, default=os.cpu_count() or 1,
                        help="files checked in parallel (default: all cores)")
    parser.add_argument("--explain", metavar="CODE",
                        help="print the documentation of a rule (its code or its name)")
    parser.add_argument("--statistics", action="store_true",
                        help="print how many findings of each code, instead of the findings")
    parser.add_argument("--timings", action="store_true",
                        help="print what the gate passed and libcst parsed, and time per stage")
    parser.add_argument("--list-rules", action="store_true",
                        help="list every rule: code, name, default and fix")
    parser.add_argument("--isolated", action="store_true",
                        help="read no configuration file ([tool.flake8-cancel], flake8's): "
                        "the command line and the defaults only")
    parser.add_argument("--show-settings", action="store_true",
                        help="print the configuration in force for the first PATH (or the "
                        "current folder) and where each value comes from; check nothing")
    parser.add_argument("--stdin-filename", metavar="PATH",
                        help="read standard input; PATH names it in messages and chooses its "
                        "configuration")
    fixing = parser.add_mutually_exclusive_group()
    fixing.add_argument("--fix", action="store_true", help="apply the safe fixes to the files")
    fixing.add_argument("--diff", action="store_true",
                        help="print the fixes as a unified diff; write nothing (exit 1 if any)")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="with --fix or --diff, also apply fixes that may change behaviour; "
                        "otherwise count them as fixable ([*])")
    parser.add_argument("--show-fixes", action="store_true",
                        help="with --fix or --diff, list what was fixed, per file and code")
    parser.add_argument("--exit-non-zero-on-fix", action="store_true",
                        help="with --fix, exit 1 when anything was fixed")
    parser.add_argument("--exit-zero", action="store_true",
                        help="exit 0 even with findings (2 still means a usage or "
                        "configuration error, or a file not checked)")
    parser.add_argument("--add-noqa", action="store_true",
                        help="add '# noqa: CODE' to every line with a finding (to adopt the "
                        "linter in a large codebase)")
    configuration = parser.add_argument_group(
        "configuration",
        "each replaces its key in [tool.flake8-cancel] of the nearest pyproject.toml and in "
        "flake8's configuration file; a list is comma-separated",
    )
    add_flags(configuration)
    return parser


def _flag_values(options: argparse.Namespace) -> Dict[str, Any]:
    return flag_values(vars(options))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of jobs: use 1 or more")
    return value


UNCHECKED_DOC = f"""\
{UNCHECKED_CODE} (file-not-checked): a file that could not be checked

flake8-cancel reports a file it could not read, decode, parse or analyse as {UNCHECKED_CODE} at
line 1, column 1, with the reason, and the run exits 2: a file that was not checked never
passes silently. Under flake8 it is a finding like flake8's own E902. Only an ignore entry that
names it (`CAN0`, `CAN001`) drops it.
"""


def _explain(code: str) -> int:
    try:
        code = code_for(code)
    except KeyError:
        print(f"flake8-cancel: error: --explain: {code!r} is no rule code or name (known: "
              f"{', '.join(known_codes())}; names: see --list-rules)", file=sys.stderr)
        return 2
    if code == UNCHECKED_CODE:
        print(UNCHECKED_DOC, end="")
        return 0
    rule = rule_for(code)
    default = "on" if rule.default_enabled else "off"
    print(f"{rule.code} ({rule.slug}), {default} by default, fix: {rule.fix_safety.value}\n")
    print(rule.doc())
    return 0


def _show_settings(discovery: Discovery, options: argparse.Namespace) -> int:
    path = (options.stdin_filename or next(iter(options.paths), None) or ".")
    config = (discovery.folder_config(path) if os.path.isdir(path)
              else discovery.file_config(path))
    if config is None:
        print(f"{path}: excluded")
        return 0
    table = discovery.table_for(path)
    files = [source.name for source in (discovery.flake8, table) if source is not None]
    print(show_settings(config, files))
    return 0


# -- standard input ---------------------------------------------------------------------------------
def _run_stdin(options: argparse.Namespace, discovery: Discovery, mode: Mode) -> int:
    """Editors pipe the buffer in: findings (or, with --fix, the fixed source) come out."""
    name = options.stdin_filename or "-"
    data = sys.stdin.buffer.read()
    config = (discovery.file_config(options.stdin_filename) if options.stdin_filename
              else discovery.folder_config(os.getcwd()))
    if config is None:  # excluded: nothing to say, and the buffer unchanged
        if mode.fix:
            sys.stdout.buffer.write(data)
        return 0
    global _worker_configs
    _worker_configs = {0: (config, _engine(config))}
    result = _check_data(name, data, 0, mode, write=False, path_for_project=options.stdin_filename)
    out = _output(options)
    if mode.fix:
        failed = any(item.unchecked for item in result.reported)
        sys.stdout.buffer.write(data if failed or not result.diff else
                                result.diff.encode("latin-1"))
        sys.stdout.flush()
    elif mode.diff:
        out.write(result.diff)
    else:
        style = Style(colours_wanted(out.isatty(), dict(os.environ))
                      and options.format in ("text", "full"))
        out.write(render(options.format, result.reported, mode.fixable, style))
    if out is not sys.stdout:
        out.close()
    if mode.fix:  # the fixed source owns stdout: what remains goes to stderr
        sys.stderr.write(render("text", result.reported, ()))
    fixed = {name: result.fixed} if result.fixed else {}
    return _finish(mode, options, fixed, result.reported)


# -- checking ---------------------------------------------------------------------------------------
# Set before the pool forks, so that workers inherit the engines and the imported libcst.
_worker_configs: Dict[int, Tuple[RunConfig, Engine]] = {}
_worker_mode = Mode()


def _engine(config: RunConfig) -> Engine:
    return Engine(config.settings, [rule_for(code) for code in config.codes])


def check_groups(groups: Dict[RunConfig, List[str]], jobs: int, mode: Mode) -> List[FileResult]:
    global _worker_configs, _worker_mode
    _worker_configs = {index: (config, _engine(config)) for index, config in enumerate(groups)}
    _worker_mode = mode
    tasks = [(path, index) for index, paths in enumerate(groups.values()) for path in paths]
    with _fewer_collections():
        if jobs == 1 or len(tasks) <= SERIAL_LIMIT:
            return [check_file(task) for task in tasks]
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        chunk = max(1, min(64, len(tasks) // (jobs * 8)))
        with context.Pool(jobs) as pool:
            return list(pool.imap_unordered(check_file, tasks, chunksize=chunk))


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run with fewer passes of the cyclic garbage collector (workers forked inside inherit
    it). The trees of ast and libcst hold no cycles, so reference counting frees them; the
    collector's passes only rescan what is loaded (libcst's hundreds of classes), and took
    12% of a worker's time on homeassistant. Everything loaded so far is left out of its
    passes (``freeze``), and its youngest generation is scanned after 50,000 new objects
    instead of 700. Both are undone afterwards (tests run the command line in-process)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def check_file(task: Tuple[str, int]) -> FileResult:
    path, index = task
    engine = _worker_configs[index][1]
    engine.statistics = statistics = Statistics()  # this file's, sent back with its result
    try:
        with statistics.timing("read"), open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return _unchecked(path, index, f"cannot read: {error.strerror or error}")
    result = _check_data(path, data, index, _worker_mode, write=True, path_for_project=path)
    return result._replace(statistics=statistics)


def _unchecked(
    path: str, index: int, reason: str, reported: Sequence[Reported] = (),
    source: Optional[str] = None,
) -> FileResult:
    """The file's result when it could not be checked (or fixed): CAN001, unless ignored, or
    (in a file that decodes) silenced by a noqa on its first line, as flake8 would."""
    config = _worker_configs[index][0]
    item = unchecked(path, reason)
    shown = config.reports_unchecked_in(path) and not (
        source is not None and NoqaLines(source).silences(item.finding)
    )
    return FileResult(path, [*reported, *([item] if shown else [])])


def _check_data(
    path: str, data: bytes, index: int, mode: Mode, write: bool, path_for_project: Optional[str]
) -> FileResult:
    """Lint or fix one file's bytes. With ``write`` False, --fix returns the fixed text in
    ``diff`` (for standard input) instead of writing it."""
    config, engine = _worker_configs[index]
    ignored = config.ignored_codes(path)
    source: Optional[str] = None
    try:
        if mode.fix or mode.diff:
            return _fix_data(path, data, index, mode, write, path_for_project)
        source = decode_source(data)
        if file_is_exempt(source):
            return FileResult(path, [])
        issues = engine.analyze(source, path=path_for_project)
        if not issues:
            return FileResult(path, [])
        noqa = NoqaLines(source)
        lines = physical_lines(source)
        reported = []
        for issue in issues:
            finding = issue.finding
            if noqa.silences(finding) or (ignored and finding.code.startswith(ignored)):
                continue
            line = lines[finding.line - 1] if finding.line <= len(lines) else ""
            reported.append(Reported(
                path, finding, fix_availability(issue), finding_end(finding, line),
                fix_edits(issue) if mode.edits else None, line if mode.source else "",
            ))
        if mode.add_noqa and reported:
            fixed, added = add_noqa(source, [item.finding for item in reported])
            if added:
                write_atomically(path, fixed.encode(_encoding(data)), expected=data)
            return FileResult(path, [], noqa_added=added)
        return FileResult(path, reported)
    except (UncheckableFile, ConfigurationError, FileChanged) as problem:
        return _unchecked(path, index, str(problem), source=source)
    except FileNotFoundError:  # removed after it was read: writing the fix would bring it back
        return _unchecked(path, index, "removed while it was being fixed; not written")
    except OSError as error:
        return _unchecked(path, index, f"cannot write: {error.strerror or error}")
    except Exception as error:  # one bad file must not stop the others
        return _unchecked(path, index, f"internal error: {type(error).__name__}: {error}")


def _encoding(data: bytes) -> str:
    import io
    import tokenize

    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return encoding


def _fix_data(
    path: str, data: bytes, index: int, mode: Mode, write: bool, path_for_project: Optional[str]
) -> FileResult:
    config, engine = _worker_configs[index]
    with engine.statistics.timing("fix"):
        result = fix_bytes(
            data, engine, path_for_project, unsafe=mode.unsafe, ignore=config.ignored_codes(path)
        )
    lines = physical_lines(decode_source(result.data)) if result.remaining else []
    reported = [
        Reported(path, finding, fix, finding_end(finding, lines[finding.line - 1]))
        for finding, fix in result.remaining
    ]
    if result.problem is not None:
        return _unchecked(path, index, result.problem, reported)
    text = ""
    if mode.diff and result.data != data:
        text = "".join(
            difflib.unified_diff(
                physical_lines(decode_source(data), keepends=True),
                physical_lines(decode_source(result.data), keepends=True),
                fromfile=path,
                tofile=path,
            )
        )
    elif mode.fix and not write:
        text = result.data.decode("latin-1")  # bytes through a str, losslessly
    elif mode.fix and result.data != data:
        write_atomically(path, result.data, expected=data)
    not_applied = tuple(
        f"{finding.line}:{finding.column + 1}: {finding.code} fix not applied: {why}"
        for finding, why in result.not_applied
    )
    return FileResult(path, reported, result.fixed, text, None, not_applied)
