"""``flake8-cancel`` / ``python -m flake8_cancel``: lint and fix files and directories.

Exit status: 0 when clean, 1 when there are findings (with ``--fix``: findings left, or with
``--exit-non-zero-on-fix`` anything fixed; with ``--diff``: fixes to make), 2 for a usage or
configuration error or any file that could not be checked (each such file gets one line naming
it and the reason; the others are still checked).
"""

from __future__ import annotations

import argparse
import difflib
import multiprocessing
import os
import stat
import sys
import time
from typing import Counter, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from flake8_cancel import __version__
from flake8_cancel.config import Overrides, RunConfig, check_codes, config_for, group_by_config
from flake8_cancel.engine import Engine, Statistics
from flake8_cancel.fixer import FileChanged, fix_availability, fix_bytes, write_atomically
from flake8_cancel.noqa import file_is_exempt, is_silenced
from flake8_cancel.options import OPTIONS
from flake8_cancel.reporting import FORMATS, Reported, render, rules_listing
from flake8_cancel.rules import all_rules, rule_for
from flake8_cancel.settings import ConfigurationError
from flake8_cancel.source import UncheckableFile, decode_source
from flake8_cancel.syntax import physical_lines

SKIPPED_DIRECTORIES = frozenset(
    {".git", ".hg", ".svn", ".tox", ".nox", "__pycache__", "build", "dist", "node_modules",
     ".venv", "venv", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
)
SERIAL_LIMIT = 8  # below this many files a process pool costs more than it saves


class FileResult(NamedTuple):
    path: str
    reported: List[Reported]  # with --fix/--diff: what remains after the fixes
    problem: Optional[str] = None
    fixed: Counter = Counter()  # code -> findings fixed (or fixable, with --diff)
    diff: str = ""
    statistics: Optional[Statistics] = None
    # Fixes built but not applied, each "LINE:COLUMN: CODE fix not applied: REASON".
    not_applied: Tuple[str, ...] = ()


class Mode(NamedTuple):
    fix: bool = False  # write the fixes
    diff: bool = False  # print them as a diff, write nothing
    unsafe: bool = False  # also the fixes that may change behaviour beyond cancellation


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `flake8-cancel ... | head`: the reader left, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: Optional[Sequence[str]]) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    if options.explain:
        return _explain(options.explain)
    if options.list_rules:
        print("\n".join(rules_listing()))
        return 0
    try:
        overrides = _overrides(options)
    except ValueError as error:
        parser.error(str(error))
    mode = Mode(fix=options.fix, diff=options.diff, unsafe=options.unsafe_fixes)
    if "-" in options.paths:
        if options.paths != ["-"]:
            parser.error("'-' (standard input) cannot be combined with other paths")
        return _run_stdin(options, overrides, mode)

    problems: List[Tuple[str, str]] = []
    paths = list(discover(options.paths or ["."], problems))
    try:
        groups = group_by_config(paths, overrides)
    except ConfigurationError as error:
        print(f"flake8-cancel: error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results = check_groups(groups, options.jobs, mode)
    if options.statistics:
        totals = Statistics()
        for result in results:
            if result.statistics is not None:
                totals.merge(result.statistics)
        print(totals.report(), file=sys.stderr)
        print(f"wall seconds: {time.perf_counter() - started:.2f} with {options.jobs} jobs",
              file=sys.stderr)
    reported: List[Reported] = []
    fixed: Counter = Counter()
    for result in sorted(results, key=lambda r: r.path):
        if result.problem is not None:
            problems.append((result.path, result.problem))
        fixed.update(result.fixed)
        reported.extend(result.reported)
        for note in result.not_applied:
            print(f"{result.path}:{note}", file=sys.stderr)
        if mode.diff:
            sys.stdout.write(result.diff)
    if not mode.diff:
        sys.stdout.write(render(options.format, reported))
    for path, reason in problems:
        print(f"{path}: error: {reason}", file=sys.stderr)
    return _finish(mode, options, fixed, len(reported), bool(problems))


def _finish(
    mode: Mode, options: argparse.Namespace, fixed: Counter, remaining: int, failed: bool
) -> int:
    if mode.fix or mode.diff:
        verb = "Fixed" if mode.fix else "Would fix"
        total = sum(fixed.values())
        print(f"{verb} {total} finding{'s' * (total != 1)} ({remaining} remaining)", file=sys.stderr)
    if failed:
        return 2
    if mode.diff:
        return 1 if fixed else 0
    if mode.fix and options.exit_non_zero_on_fix and fixed:
        return 1
    return 1 if remaining else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flake8-cancel",
        description="Find and fix asyncio cancellation misuse in Python files.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or directories (default: .); - reads standard input")
    parser.add_argument("--version", action="version", version=f"flake8-cancel {__version__}")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="how findings are printed (default: text, as flake8)")
    parser.add_argument("--jobs", "-j", type=_positive, default=os.cpu_count() or 1,
                        help="files checked in parallel (default: all cores)")
    parser.add_argument("--explain", metavar="CODE", help="print the documentation of a rule")
    parser.add_argument("--statistics", action="store_true",
                        help="print what the gate passed and libcst parsed, and time per stage")
    parser.add_argument("--list-rules", action="store_true",
                        help="list every rule: code, name, default and fix")
    parser.add_argument("--stdin-filename", metavar="PATH",
                        help="with -, the file name for messages and configuration")
    fixing = parser.add_mutually_exclusive_group()
    fixing.add_argument("--fix", action="store_true", help="apply the safe fixes to the files")
    fixing.add_argument("--diff", action="store_true",
                        help="print the fixes as a unified diff; write nothing (exit 1 if any)")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="with --fix or --diff, also apply fixes that may change behaviour")
    parser.add_argument("--exit-non-zero-on-fix", action="store_true",
                        help="with --fix, exit 1 when anything was fixed")
    configuration = parser.add_argument_group(
        "configuration",
        "each overrides its key in [tool.flake8-cancel] of the nearest pyproject.toml; a list is "
        "comma-separated",
    )
    for option in OPTIONS:
        configuration.add_argument(
            option.flag,
            type=option.kind.argument_type,
            action="extend" if option.kind.repeatable else "store",
            metavar=option.kind.metavar,
            help=f"{option.help} (default: {option.shown_default})",
        )
    return parser


def _overrides(options: argparse.Namespace) -> Overrides:
    overrides: Overrides = {}
    for option in OPTIONS:
        value = getattr(options, option.key.replace("-", "_"))
        if value is None:
            continue
        # Check the codes now, so that a typo is a usage error even before any file is read.
        try:
            check_codes(option, value)
        except ValueError as problem:
            raise ValueError(f"{option.flag}: {problem}") from None
        overrides[option.key] = tuple(value) if option.kind.repeatable else value
    return overrides


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _explain(code: str) -> int:
    try:
        rule = rule_for(code)
    except KeyError:
        known = ", ".join(rule.code for rule in all_rules())
        print(f"flake8-cancel: unknown rule {code!r}; known rules: {known}", file=sys.stderr)
        return 2
    default = "on" if rule.default_enabled else "off"
    print(f"{rule.code} ({rule.slug}), {default} by default, fix: {rule.fix_safety.value}\n")
    print(rule.doc())
    return 0


# -- standard input ---------------------------------------------------------------------------------
def _run_stdin(options: argparse.Namespace, overrides: Overrides, mode: Mode) -> int:
    """Editors pipe the buffer in: findings (or, with --fix, the fixed source) come out."""
    name = options.stdin_filename or "-"
    data = sys.stdin.buffer.read()
    try:
        config = config_for(options.stdin_filename or os.getcwd(), overrides)
    except ConfigurationError as error:
        print(f"flake8-cancel: error: {error}", file=sys.stderr)
        return 2
    if options.stdin_filename and config.excludes(options.stdin_filename):
        if mode.fix:
            sys.stdout.buffer.write(data)
        return 0
    global _worker_configs
    _worker_configs = {0: (config, Engine(config.settings, [rule_for(c) for c in config.codes]))}
    result = _check_data(name, data, 0, mode, write=False, path_for_project=options.stdin_filename)
    if mode.fix:
        sys.stdout.buffer.write(result.diff.encode("latin-1") if result.problem is None else data)
    elif mode.diff:
        sys.stdout.write(result.diff)
    else:
        sys.stdout.write(render(options.format, result.reported))
    if result.problem is not None:
        print(f"{name}: error: {result.problem}", file=sys.stderr)
    if mode.fix:  # the fixed source owns stdout: what remains goes to stderr
        sys.stderr.write(render("text", result.reported))
    return _finish(mode, options, result.fixed, len(result.reported), result.problem is not None)


# -- finding the files ------------------------------------------------------------------------------
def discover(paths: Iterable[str], problems: List[Tuple[str, str]]) -> Iterator[str]:
    """Python files under the given paths. A path given explicitly is checked whatever its name
    and kind (``<(...)`` in a shell is a pipe)."""
    for path in paths:
        try:
            is_directory = stat.S_ISDIR(os.stat(path).st_mode)
        except FileNotFoundError:
            problems.append((path, "no such file or directory"))
            continue
        except OSError as error:  # a symlink loop, a folder we may not enter
            problems.append((path, f"cannot read: {error.strerror or error}"))
            continue
        if is_directory:
            yield from _walk(path, problems)
        else:
            yield path


def _walk(top: str, problems: List[Tuple[str, str]]) -> Iterator[str]:
    def unreadable(error: OSError) -> None:  # os.walk would skip the folder without a word
        problems.append((error.filename or top, f"cannot read: {error.strerror or error}"))

    # Symlinked folders are not followed, so a symlink loop cannot make the walk endless.
    for directory, subdirectories, files in os.walk(top, onerror=unreadable):
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if name not in SKIPPED_DIRECTORIES
            and not name.endswith(".egg-info")
            and not os.path.exists(os.path.join(directory, name, "pyvenv.cfg"))
        )
        for name in sorted(files):
            if name.endswith(".py") or name.endswith(".pyi"):
                path = os.path.join(directory, name)
                if _is_special_file(path):  # reading a FIFO would wait for a writer forever
                    problems.append((path, "cannot read: not a regular file"))
                else:
                    yield path


def _is_special_file(path: str) -> bool:
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # a dangling symlink: reading it says why
        return False


# -- checking ---------------------------------------------------------------------------------------
# Set before the pool forks, so that workers inherit the engines and the imported libcst.
_worker_configs: Dict[int, Tuple[RunConfig, Engine]] = {}
_worker_mode = Mode()


def check_groups(groups: Dict[RunConfig, List[str]], jobs: int, mode: Mode) -> List[FileResult]:
    global _worker_configs, _worker_mode
    _worker_configs = {
        index: (config, Engine(config.settings, [rule_for(code) for code in config.codes]))
        for index, config in enumerate(groups)
    }
    _worker_mode = mode
    tasks = [(path, index) for index, paths in enumerate(groups.values()) for path in paths]
    if jobs == 1 or len(tasks) <= SERIAL_LIMIT:
        return [check_file(task) for task in tasks]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    chunk = max(1, min(64, len(tasks) // (jobs * 8)))
    with context.Pool(jobs) as pool:
        return list(pool.imap_unordered(check_file, tasks, chunksize=chunk))


def check_file(task: Tuple[str, int]) -> FileResult:
    path, index = task
    engine = _worker_configs[index][1]
    engine.statistics = statistics = Statistics()  # this file's, sent back with its result
    try:
        with statistics.timing("read"), open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return FileResult(path, [], f"cannot read: {error.strerror or error}")
    result = _check_data(path, data, index, _worker_mode, write=True, path_for_project=path)
    return result._replace(statistics=statistics)


def _check_data(
    path: str, data: bytes, index: int, mode: Mode, write: bool, path_for_project: Optional[str]
) -> FileResult:
    """Lint or fix one file's bytes. With ``write`` False, --fix returns the fixed text in
    ``diff`` (for standard input) instead of writing it."""
    config, engine = _worker_configs[index]
    ignored = config.ignored_codes(path)
    try:
        if mode.fix or mode.diff:
            with engine.statistics.timing("fix"):
                result = fix_bytes(
                    data, engine, path_for_project, unsafe=mode.unsafe, ignore=ignored
                )
            reported = [Reported(path, finding, fix) for finding, fix in result.remaining]
            if result.problem is not None:
                return FileResult(path, reported, result.problem)
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
            return FileResult(path, reported, None, result.fixed, text, None, not_applied)
        source = decode_source(data)
        if file_is_exempt(source):
            return FileResult(path, [])
        lines = physical_lines(source)
        reported = [
            Reported(path, issue.finding, fix_availability(issue))
            for issue in engine.analyze(source, path=path_for_project)
            if not is_silenced(issue.finding, lines)
            and not (ignored and issue.finding.code.startswith(ignored))
        ]
        return FileResult(path, reported)
    except (UncheckableFile, ConfigurationError, FileChanged) as problem:
        return FileResult(path, [], str(problem))
    except FileNotFoundError:  # removed after it was read: writing the fix would bring it back
        return FileResult(path, [], "removed while it was being fixed; not written")
    except OSError as error:
        return FileResult(path, [], f"cannot write: {error.strerror or error}")
    except Exception as error:  # one bad file must not stop the others
        return FileResult(path, [], f"internal error: {type(error).__name__}: {error}")
