"""The command line and flake8, run in this process as if each run were a process of its own.

A run in a subprocess costs about half a second of interpreter start-up and imports; the same
run here costs milliseconds. Most tests are about what the front ends do with their arguments,
files and configuration, not about the process boundary, so they run here. What only a real
process shows (the console script, ``python -m``, the process pool, a segfault or a hang that
must not take the test run down, pre-commit) is tested end to end, in the tests marked ``slow``;
test_front_ends.py also checks, on every fixture, that the real processes print what the engine
finds in process.

What makes a run here behave as a fresh process:

- standard input, output and error are fresh byte buffers (text written to them goes straight
  through, so text and bytes keep their order, as on a pipe); the current folder is ``cwd``;
- the caches a process starts without (the parsed ``pyproject.toml`` files, the project modules
  that imported names were read from) are emptied first, so that a test may rewrite a
  configuration file or a module between two runs;
- ``SystemExit`` (argparse's usage errors, ``--version``) becomes the exit status;
- flake8's plugin class keeps its configuration and engines in class attributes: they are put
  back afterwards;
- both run their files one after another (``--jobs=1``, unless the test gives ``--jobs``): a pool
  forked from pytest would inherit pytest's state. The pools are tested end to end.

An exception that escapes is not turned into a traceback on standard error: it fails the test
with its own traceback, which says more.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, List, Sequence, Tuple, Union

from flake8_cancel.modules import project_at
from flake8_cancel.plugin import Plugin
from flake8_cancel.settings import nearest_pyproject, read_pyproject, setup_python_requires

Output = Union[str, bytes]


def _jobs_given(args: Sequence[str]) -> bool:
    return any(arg.startswith(("--jobs", "-j")) for arg in args)


@contextmanager
def _as_a_process(cwd: Path, stdin: bytes) -> Iterator[Tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    def stream(data: bytes = b"") -> io.TextIOWrapper:
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="", write_through=True)

    saved = (sys.stdin, sys.stdout, sys.stderr, os.getcwd(), Plugin.discovery, Plugin.engines)
    out, err = stream(), stream()
    sys.stdin, sys.stdout, sys.stderr = stream(stdin), out, err
    _clear_caches()
    os.chdir(cwd)
    try:
        yield out, err
    finally:
        sys.stdin, sys.stdout, sys.stderr, directory, Plugin.discovery, Plugin.engines = saved
        os.chdir(directory)
        _clear_caches()  # what this run read must not reach the next test


def _clear_caches() -> None:
    for cache in (nearest_pyproject, read_pyproject, setup_python_requires, project_at):
        cache.cache_clear()


def _run(
    main: Callable[[List[str]], object], command: List[str], args: Sequence[str], cwd: Path,
    stdin: bytes, text: bool,
) -> subprocess.CompletedProcess:
    argv = list(args) if _jobs_given(args) else ["--jobs=1", *args]
    with _as_a_process(cwd, stdin) as (out, err):
        try:
            status = main(argv)
        except SystemExit as exit:
            status = exit.code
    if status is None:
        status = 0
    elif not isinstance(status, int):  # sys.exit("message"): the message, and status 1
        err.write(f"{status}\n")
        status = 1
    stdout, stderr = out.detach().getvalue(), err.detach().getvalue()
    if text:
        return subprocess.CompletedProcess(command + argv, status, stdout.decode(), stderr.decode())
    return subprocess.CompletedProcess(command + argv, status, stdout, stderr)


def run_cli(
    *args: str, cwd: Path, stdin: bytes = b"", text: bool = True
) -> subprocess.CompletedProcess:
    """``flake8-cancel ARGS`` in ``cwd``."""
    from flake8_cancel.cli import main

    return _run(main, ["flake8-cancel"], args, Path(cwd), stdin, text)


def run_flake8(*args: str, cwd: Path, text: bool = True) -> subprocess.CompletedProcess:
    """``flake8 ARGS`` in ``cwd``, with the installed plugins (found by their entry points, as
    flake8 always finds them)."""
    from flake8.main.cli import main

    return _run(main, ["flake8"], args, Path(cwd), b"", text)
