"""``flake8-cancel`` / ``python -m flake8_cancel``: lint files and directories.

Exit status: 0 when clean, 1 when there are findings, 2 for a usage error or any file that could
not be checked (each such file gets one line naming it and the reason; the others are checked).
"""

from __future__ import annotations

import argparse
import difflib
import multiprocessing
import os
import re
import sys
from typing import Counter, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from flake8_cancel import __version__
from flake8_cancel.engine import Engine, UncheckableFile, decode_source
from flake8_cancel.fixes import FileChanged, fix_bytes, write_atomically
from flake8_cancel.noqa import file_is_exempt, without_silenced
from flake8_cancel.registry import Finding, all_rules, rule_for
from flake8_cancel.selection import enabled_rules
from flake8_cancel.settings import (
    ConfigurationError,
    Settings,
    parse_name_list,
    parse_target_version,
)

SKIPPED_DIRECTORIES = frozenset(
    {".git", ".hg", ".svn", ".tox", ".nox", "__pycache__", "build", "dist", "node_modules",
     ".venv", "venv", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
)
SERIAL_LIMIT = 8  # below this many files a process pool costs more than it saves


class FileResult(NamedTuple):
    path: str
    findings: List[Finding]  # with --fix/--diff: what remains after the fixes
    problem: Optional[str]
    fixed: Counter = Counter()  # code -> findings fixed (or fixable, with --diff)
    diff: str = ""


class Mode(NamedTuple):
    fix: bool = False  # write the fixes
    diff: bool = False  # print them as a diff, write nothing
    unsafe: bool = False  # also the fixes that may change behaviour beyond cancellation


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    if options.explain:
        return _explain(options.explain)
    try:
        settings = Settings(
            target_version=parse_target_version(options.target_version)
            if options.target_version
            else None,
            extra_cancelled_names=parse_name_list(options.cancelled_names),
            extra_never_returning=parse_name_list(options.never_returning),
            extra_suppressors=parse_name_list(options.suppressors),
            extra_timeout_managers=parse_name_list(options.timeout_managers),
            extra_cleanup_methods=parse_name_list(options.cleanup_methods),
        )
        rules = enabled_rules(
            select=_codes(options.select), ignore=_codes(options.ignore) or (),
            extend_select=_codes(options.extend_select) or (),
        )
    except ValueError as error:
        parser.error(str(error))

    mode = Mode(fix=options.fix, diff=options.diff, unsafe=options.unsafe_fixes)
    problems: List[Tuple[str, str]] = []
    paths = list(discover(options.paths or ["."], problems))
    results = check_paths(paths, settings, [rule.code for rule in rules], options.jobs, mode)
    findings = 0
    fixed: Counter = Counter()
    for result in sorted(results, key=lambda r: r.path):
        if result.problem is not None:
            problems.append((result.path, result.problem))
        fixed.update(result.fixed)
        if mode.diff:
            sys.stdout.write(result.diff)
            findings += len(result.findings)
            continue
        for finding in result.findings:
            findings += 1
            print(f"{result.path}:{finding.line}:{finding.column + 1}: {finding.text}")
    for path, reason in problems:
        print(f"{path}: error: {reason}", file=sys.stderr)
    if mode.fix or mode.diff:
        verb = "Fixed" if mode.fix else "Would fix"
        total = sum(fixed.values())
        print(f"{verb} {total} finding{'s' * (total != 1)} ({findings} remaining)", file=sys.stderr)
    if problems:
        return 2
    if mode.diff:
        return 1 if fixed else 0
    return 1 if findings else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flake8-cancel",
        description="Find asyncio cancellation misuse in Python files.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    parser.add_argument("--version", action="version", version=f"flake8-cancel {__version__}")
    parser.add_argument("--select", help="comma-separated code prefixes to check (default: CAN)")
    parser.add_argument("--ignore", help="comma-separated code prefixes to skip")
    parser.add_argument("--extend-select", help="code prefixes to check in addition, e.g. CAN110")
    parser.add_argument("--jobs", "-j", type=_positive, default=os.cpu_count() or 1,
                        help="files checked in parallel (default: all cores)")
    parser.add_argument("--explain", metavar="CODE", help="print the documentation of a rule")
    fixing = parser.add_mutually_exclusive_group()
    fixing.add_argument("--fix", action="store_true", help="apply the safe fixes to the files")
    fixing.add_argument("--diff", action="store_true",
                        help="print the fixes as a unified diff; write nothing (exit 1 if any)")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="with --fix or --diff, also apply fixes that may change behaviour")
    parser.add_argument("--target-version", help="Python version the code runs on, e.g. 3.10 "
                        "(default: [tool.flake8-cancel] target-version or requires-python of "
                        "the nearest pyproject.toml, else 3.11)")
    parser.add_argument("--cancelled-names", action="append", default=[],
                        help="extra exceptions that mean cancellation, e.g. trio.Cancelled")
    parser.add_argument("--never-returning", action="append", default=[],
                        help="extra functions that never return")
    parser.add_argument("--suppressors", action="append", default=[],
                        help="extra context managers that suppress exceptions")
    parser.add_argument("--timeout-managers", action="append", default=[],
                        help="extra context managers that set a deadline")
    parser.add_argument("--cleanup-methods", action="append", default=[],
                        help="extra methods that release a resource (CAN111)")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _codes(text: Optional[str]) -> Optional[List[str]]:
    if text is None:
        return None
    return [code.strip().upper() for code in re.split(r"[,\s]+", text) if code.strip()]


def _explain(code: str) -> int:
    try:
        rule = rule_for(code)
    except KeyError:
        known = ", ".join(rule.code for rule in all_rules())
        print(f"flake8-cancel: unknown rule {code!r}; known rules: {known}", file=sys.stderr)
        return 2
    default = "on" if rule.default_enabled else "off"
    print(f"{rule.code} ({rule.slug}), {default} by default, fix: {rule.fix}\n")
    print(rule.doc())
    return 0


# -- finding the files ------------------------------------------------------------------------------
def discover(paths: Iterable[str], problems: List[Tuple[str, str]]) -> Iterator[str]:
    """Python files under the given paths. A path given explicitly is checked whatever its name."""
    for path in paths:
        if os.path.isdir(path):
            yield from _walk(path)
        elif os.path.exists(path):
            yield path
        else:
            problems.append((path, "no such file or directory"))


def _walk(top: str) -> Iterator[str]:
    for directory, subdirectories, files in os.walk(top):
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if name not in SKIPPED_DIRECTORIES
            and not name.endswith(".egg-info")
            and not os.path.exists(os.path.join(directory, name, "pyvenv.cfg"))
        )
        for name in sorted(files):
            if name.endswith(".py") or name.endswith(".pyi"):
                yield os.path.join(directory, name)


# -- checking ---------------------------------------------------------------------------------------
_worker_engine: Optional[Engine] = None
_worker_mode = Mode()


def check_paths(
    paths: Sequence[str], settings: Settings, codes: Sequence[str], jobs: int, mode: Mode = Mode()
) -> List[FileResult]:
    global _worker_engine, _worker_mode
    _worker_engine = Engine(settings, [rule_for(code) for code in codes])
    _worker_mode = mode
    if jobs == 1 or len(paths) <= SERIAL_LIMIT:
        return [check_file(path) for path in paths]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    chunk = max(1, min(64, len(paths) // (jobs * 8)))
    # Forked workers inherit the engine and the imported libcst: no per-worker start-up.
    with context.Pool(jobs) as pool:
        return list(pool.imap_unordered(check_file, paths, chunksize=chunk))


def check_file(path: str) -> FileResult:
    assert _worker_engine is not None
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if _worker_mode.fix or _worker_mode.diff:
            return _fix_file(path, data)
        source = decode_source(data)
        if file_is_exempt(source):
            return FileResult(path, [], None)
        findings = _worker_engine.check(source, path=path)
    except (UncheckableFile, ConfigurationError, FileChanged) as problem:
        return FileResult(path, [], str(problem))
    except OSError as error:
        return FileResult(path, [], f"cannot read: {error.strerror or error}")
    except Exception as error:  # one bad file must not stop the others
        return FileResult(path, [], f"internal error: {type(error).__name__}: {error}")
    return FileResult(path, without_silenced(findings, source), None)


def _fix_file(path: str, data: bytes) -> FileResult:
    assert _worker_engine is not None
    result = fix_bytes(data, _worker_engine, path, unsafe=_worker_mode.unsafe)
    if result.problem is not None:
        return FileResult(path, result.remaining, result.problem)
    diff = ""
    if result.data != data:
        if _worker_mode.diff:
            diff = "".join(
                difflib.unified_diff(
                    decode_source(data).splitlines(keepends=True),
                    decode_source(result.data).splitlines(keepends=True),
                    fromfile=path,
                    tofile=path,
                )
            )
        else:
            write_atomically(path, result.data, expected=data)
    return FileResult(path, result.remaining, None, result.fixed, diff)


