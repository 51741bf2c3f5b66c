"""Hostile input, through flake8 (with the plugin) and the command line.

flake8 must never show a traceback of ours: what it cannot parse gets its own E999 and nothing
else. The command line names each file it could not check, with the reason, checks all the
others, and exits 2. What it can check it also fixes, keeping every byte it did not edit.

The inputs are written by the tests; the lint cases share one run of each front end. Those runs
are in process (in_process.py): what a case tests is how the engine and the front end react to
it. Then each front end runs once more in a real process over all the cases (marked slow): it
must survive them all and print what the run in process printed. In a real process only: what
could hang or kill the process running it (a FIFO; flake8's own crash on a NUL byte), and the
file of 3,000 functions, which costs seconds to check.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

import pytest

from flake8_cancel import cli
from flake8_cancel.config import command_line_source
from flake8_cancel.discovery import Discovery
from flake8_cancel.plugin import Plugin
from in_process import run_cli as run_cli_in_process
from in_process import run_flake8 as run_flake8_in_process

Finding = Tuple[int, int, str]  # line, column, code

HANDLER = "async def f(c):\n    try:\n        await c.x()\n    except:\n        pass\n"
HANDLER_FINDING = (4, 5, "CAN103")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli_in_process(*args, cwd=cwd)


def run_flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_flake8_in_process("--isolated", "--select=CAN,E9", *args, cwd=cwd)


def run_cli_process(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_cancel", *args],
        capture_output=True, text=True, cwd=cwd, timeout=timeout,
    )


def findings_by_file(stdout: str) -> Dict[str, Set[Finding]]:
    """``path:line:col: CODE message`` lines, by path as printed."""
    found: Dict[str, Set[Finding]] = {}
    for line in stdout.splitlines():
        path, number, column, rest = line.split(":", 3)
        if rest.split()[0] == "CAN001":  # a file not checked: problems_by_file's
            continue
        found.setdefault(path, set()).add((int(number), int(column), rest.split()[0]))
    return found


def problems_by_file(stdout: str) -> Dict[str, str]:
    """The ``path:1:1: CAN001 file not checked: reason`` findings of files not checked (the
    command line's and flake8's alike); a second one for a file is a bug."""
    problems: Dict[str, str] = {}
    for line in stdout.splitlines():
        path, separator, reason = line.partition(":1:1: CAN001 file not checked: ")
        if not separator:
            continue
        assert path not in problems, f"two lines for {path}"
        problems[path] = reason
    return problems


def assert_no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stdout + done.stderr


# -- the inputs -----------------------------------------------------------------------------------
def nested_blocks(depth: int) -> str:
    """A handler under ``depth`` levels of blocks of every kind (a try of each level closed by
    ``finally``), its try body awaiting through 90 parentheses."""
    kinds = ["if c:", "for y in c:", "while c:", "with c:", "try:", "async with c:"]
    lines = ["async def f(c):"]
    for level in range(1, depth):
        lines.append("    " * level + kinds[level % len(kinds)])
    lines += [
        "    " * depth + "try:",
        "    " * (depth + 1) + "await c.x(" + "(" * 90 + "1" + ")" * 90 + ")",
        "    " * depth + "except:",
        "    " * (depth + 1) + "pass",
    ]
    for level in range(depth - 1, 0, -1):
        if kinds[level % len(kinds)] == "try:":
            lines += ["    " * level + "finally:", "    " * (level + 1) + "pass"]
    return "\n".join(lines) + "\n"


FUNCTIONS = 3000
MANY_FUNCTIONS = "".join(
    f"async def f{index}(c):\n    try:\n        await c.x()\n    except:\n        pass\n"
    for index in range(FUNCTIONS)
)

# A line with non-ASCII text before a finding: columns count characters, not bytes.
NON_ASCII = (
    "import asyncio\n\n\nasync def f(c):\n    try:\n        await c.x()\n"
    "    except asyncio.CancelledError:\n"
    '        c.log("annulé"); raise asyncio.CancelledError("arrêt")\n'
)
NON_ASCII_FINDING = (8, 26, "CAN106")


ONLY_E999 = "E999 alone"  # flake8's own report of a file it cannot parse, wherever it stops


class Case(NamedTuple):
    data: bytes
    cli: Set[Finding]  # what the command line reports when it can check the file
    problem: Optional[str] = None  # else how the reason on its one error line starts
    flake8: object = None  # ONLY_E999, or what flake8 reports when not the same as cli
    python: Tuple[int, int] = (3, 0)  # the first Python whose own parser accepts the file


CASES: Dict[str, Case] = {
    "syntax_error.py": Case(
        (HANDLER + "x = = 1\n").encode(), set(), "syntax error at line 6: ", flake8=ONLY_E999
    ),
    # The command line parses only what its cheap gate lets through (most files hold nothing
    # a rule looks at, and parsing them all would cost more than the whole check): a syntax
    # error in such a file is left to Python, and to flake8's E999.
    "syntax_error_in_sync_code.py": Case(b"def f(:\n    return\n", set(), flake8=ONLY_E999),
    "nul_byte.py": Case(
        HANDLER.encode() + b"x = 1\0\n", set(), "contains a NUL byte", flake8=ONLY_E999
    ),
    # flake8 reads a file that is not UTF-8 as latin-1, and lints what it reads.
    "invalid_utf8.py": Case(
        HANDLER.encode() + b"x = '\xff'\n", set(), "cannot decode as UTF-8",
        flake8={HANDLER_FINDING},
    ),
    "invalid_utf8_first_line.py": Case(
        b"# \xff\n" + HANDLER.encode(), set(), "cannot decode as UTF-8",
        flake8={(5, 5, "CAN103")},
    ),
    "bom_with_latin1_cookie.py": Case(
        b"\xef\xbb\xbf# -*- coding: latin-1 -*-\n" + HANDLER.encode(), set(),
        "cannot decode: a UTF-8 BOM and a coding cookie for another encoding",
        flake8={(5, 5, "CAN103")},
    ),
    "unknown_encoding.py": Case(
        b"# -*- coding: klingon -*-\n" + HANDLER.encode(), set(),
        "cannot decode: unknown encoding: klingon", flake8={(5, 5, "CAN103")},
    ),
    "bom.py": Case(b"\xef\xbb\xbf" + NON_ASCII.encode(), {NON_ASCII_FINDING}),
    "latin1.py": Case(
        b"# -*- coding: latin-1 -*-\n" + NON_ASCII.encode("latin-1"), {(9, 26, "CAN106")}
    ),
    "crlf.py": Case(HANDLER.replace("\n", "\r\n").encode(), {HANDLER_FINDING}),
    "mixed_endings.py": Case(
        b"async def f(c):\r\n    try:\n        await c.x()\r    except:\r\n        pass\n",
        {HANDLER_FINDING},
    ),
    "tabs.py": Case(HANDLER.replace("    ", "\t").encode(), {(4, 2, "CAN103")}),
    "empty.py": Case(b"", set()),
    "many_functions.py": Case(
        MANY_FUNCTIONS.encode(), {(5 * index + 4, 5, "CAN103") for index in range(FUNCTIONS)}
    ),
    "nested_60_blocks_90_parentheses.py": Case(
        nested_blocks(60).encode(), {(63, 4 * 60 + 1, "CAN103")}
    ),
    # Valid Python that libcst's parser refuses: it must not be called a syntax error. flake8
    # parses it, and the plugin skips it without a word.
    "adjacent_strings_5000.py": Case(
        (HANDLER + "y = (" + " ".join(['"a"'] * 5000) + ")\n").encode(), set(),
        "skipped: libcst cannot parse it (line 6: ", flake8=set(),
    ),
    "pep695_generics.py": Case(
        b"import asyncio\n\n\nclass Box[T]:\n    def __init__(self, item: T) -> None:\n"
        b"        self.item = item\n\n\ntype Pair[T] = tuple[T, T]\n\n\n"
        b"async def f[T](c: Box[T]) -> None:\n    try:\n        await c.item\n"
        b"    except asyncio.CancelledError:\n        pass\n",
        {(15, 5, "CAN101")}, python=(3, 12),
    ),
    "pep701_fstrings.py": Case(
        b'import asyncio\n\n\nasync def f(c, names):\n    try:\n'
        b'        await c.x(f"{", ".join(f"{n!r}" for n in names)}")\n'
        b'    except asyncio.CancelledError:\n        c.log(f"{"cancelled"}")\n',
        {(7, 5, "CAN101")}, python=(3, 12),
    ),
    "pep758_except_without_parentheses.py": Case(
        b"import asyncio\n\n\nasync def f(c):\n    try:\n        await c.x()\n"
        b"    except asyncio.CancelledError, TimeoutError:\n        pass\n",
        {(7, 5, "CAN101")}, python=(3, 14),
    ),
    "except_star.py": Case(
        b"import asyncio\n\n\nasync def f(c):\n    try:\n        await c.x()\n"
        b"    except* asyncio.CancelledError:\n        pass\n\n\n"
        b"async def g(c):\n    try:\n        await c.x()\n    except* BaseException:\n"
        b"        c.log()\n",
        {(7, 5, "CAN101"), (14, 5, "CAN104")}, python=(3, 11),
    ),
    "good.py": Case(HANDLER.encode(), {HANDLER_FINDING}),
}


NUL = "nul_byte.py"
MANY = "many_functions.py"


class Runs(NamedTuple):
    cli: subprocess.CompletedProcess  # over every case
    flake8: subprocess.CompletedProcess  # over every case but NUL


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for name, case in CASES.items():
        (folder / name).write_bytes(case.data)
    return folder


IN_PROCESS = {"cli": [name for name in CASES if name != MANY],
              "flake8": [name for name in CASES if name not in (NUL, MANY)]}


@pytest.fixture(scope="module")
def in_process(folder) -> Runs:
    return Runs(run_cli(*[f"./{name}" for name in IN_PROCESS["cli"]], cwd=folder),
                run_flake8(*[f"./{name}" for name in IN_PROCESS["flake8"]], cwd=folder))


class Processes(NamedTuple):
    cli: subprocess.CompletedProcess  # over every case, found by the walk
    flake8: subprocess.CompletedProcess  # over every case but NUL
    flake8_on_nul: subprocess.CompletedProcess  # alone: flake8 itself crashes on it on some Pythons


@pytest.fixture(scope="module")
def processes(folder) -> Processes:
    # All three at once: the two cores are the budget.
    cli = [sys.executable, "-m", "flake8_cancel"]
    flake8 = [sys.executable, "-m", "flake8", "--isolated", "--select=CAN,E9"]
    commands = [
        cli + ["."],
        flake8 + [f"./{name}" for name in CASES if name != NUL],
        flake8 + [f"./{NUL}"],
    ]
    started = [
        subprocess.Popen(command, cwd=folder, text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
        for command in commands
    ]
    done = []
    for process in started:
        stdout, stderr = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return Processes(*done)


@pytest.fixture(
    scope="module", params=["in_process", pytest.param("process", marks=pytest.mark.slow)]
)
def flake8_run(request) -> subprocess.CompletedProcess:
    """flake8's run over the cases: in process, and in a real process."""
    fixture = "in_process" if request.param == "in_process" else "processes"
    return request.getfixturevalue(fixture).flake8


@pytest.mark.parametrize("name", IN_PROCESS["cli"])
def test_cli_checks_the_file_or_names_it_with_the_reason(in_process, name):
    case = CASES[name]
    path = f"./{name}"
    assert findings_by_file(in_process.cli.stdout).get(path, set()) == case.cli
    reason = problems_by_file(in_process.cli.stdout).get(path)
    if case.problem is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(case.problem), reason


def test_cli_prints_one_line_per_bad_file_and_exits_2(in_process):
    assert set(problems_by_file(in_process.cli.stdout)) == {
        f"./{name}" for name, case in CASES.items() if case.problem is not None
    }
    assert in_process.cli.returncode == 2


def only(paths: Sequence[str], output: str) -> List[str]:
    return [line for line in output.splitlines() if line.split(":", 1)[0][2:] in paths]


@pytest.mark.slow
def test_the_cli_in_a_process_survives_every_case_and_prints_the_same(in_process, processes):
    assert_no_traceback(processes.cli)
    names = IN_PROCESS["cli"]
    assert only(names, processes.cli.stdout) == in_process.cli.stdout.splitlines()
    # Files not checked are CAN001 findings on stdout: stderr holds the summary alone.
    assert processes.cli.stderr.startswith("Found ") and len(processes.cli.stderr.splitlines()) == 1
    assert processes.cli.returncode == 2


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["cli", "flake8"])
def test_every_finding_of_a_large_file_is_reported(processes, tool):
    assert findings_by_file(getattr(processes, tool).stdout)[f"./{MANY}"] == CASES[MANY].cli


@pytest.mark.parametrize("name", IN_PROCESS["flake8"])
def test_flake8_reports_the_findings_or_only_its_own_e999(flake8_run, name):
    case = CASES[name]
    got = findings_by_file(flake8_run.stdout).get(f"./{name}", set())
    if case.flake8 == ONLY_E999 or sys.version_info < case.python:
        assert [code for _, _, code in got] == ["E999"]
    else:
        assert got == (case.cli if case.flake8 is None else case.flake8)


def test_flake8_reports_the_file_the_plugin_could_not_check_as_can001(flake8_run):
    # Never silent: flake8 reads the other cases' bytes as latin-1 and the plugin checks them.
    assert {
        path: reason.split(" (")[0] for path, reason in problems_by_file(flake8_run.stdout).items()
    } == {"./adjacent_strings_5000.py": "skipped: libcst cannot parse it"}


def test_flake8_shows_no_traceback_and_no_plugin_error(flake8_run):
    assert_no_traceback(flake8_run)
    assert flake8_run.stderr == ""
    assert flake8_run.returncode == 1


@pytest.mark.slow
def test_flake8_on_a_nul_byte_reports_e999_or_crashes_before_any_plugin(processes):
    # On some Pythons (3.9's ValueError, 3.13.0's SystemError from its tokenizer) flake8 crashes
    # by itself on a NUL byte, while building its tree, before any plugin is called.
    done = processes.flake8_on_nul
    if "Traceback" in done.stderr:
        assert "flake8_cancel" not in done.stderr
        assert "flake8/processor.py" in done.stderr
    else:
        assert done.stderr == ""
        assert [code for _, _, code in findings_by_file(done.stdout)[f"./{NUL}"]] == ["E999"]


# -- fixing keeps the bytes it does not edit ------------------------------------------------------
ASYNCIO = "import asyncio\n\n\n"
LATIN1_HEAD = (
    b"# -*- coding: latin-1 -*-\n" + ASYNCIO.encode()
    + b"async def f(c):\n    try:\n        await c.x()\n    except asyncio.CancelledError:\n"
)
FIXES: Dict[str, Tuple[bytes, bytes]] = {
    "bom.py": (
        b"\xef\xbb\xbf" + (ASYNCIO + HANDLER).encode(),
        b"\xef\xbb\xbf" + (ASYNCIO + "async def f(c):\n    try:\n        await c.x()\n"
                           "    except asyncio.CancelledError:\n        raise\n"
                           "    except:\n        pass\n").encode(),
    ),
    "crlf.py": (
        (ASYNCIO + HANDLER).replace("\n", "\r\n").encode(),
        (ASYNCIO + "async def f(c):\n    try:\n        await c.x()\n"
         "    except asyncio.CancelledError:\n        raise\n    except:\n        pass\n")
        .replace("\n", "\r\n").encode(),
    ),
    # libcst writes new lines with the file's first line ending; the edited `pass` line keeps
    # its own, and so does every line it did not touch.
    "mixed_endings.py": (
        b"import asyncio\r\n\n\r\nasync def f(c):\n    try:\r\n        await c.x()\n"
        b"    except asyncio.CancelledError:\r\n        pass\n"
        b"\r\n\r\nasync def g(c):\n    try:\r\n        await c.x()\n"
        b"    except BaseException:\r\n        c.log()\n",
        b"import asyncio\r\n\n\r\nasync def f(c):\n    try:\r\n        await c.x()\n"
        b"    except asyncio.CancelledError:\r\n        raise\n"
        b"\r\n\r\nasync def g(c):\n    try:\r\n        await c.x()\n"
        b"    except BaseException as exc:\r\n        c.log()\n"
        b"        if isinstance(exc, asyncio.CancelledError):\r\n            raise\r\n",
    ),
    "tabs.py": (
        (ASYNCIO + HANDLER.replace("    ", "\t")).encode(),
        (ASYNCIO + "async def f(c):\n\ttry:\n\t\tawait c.x()\n"
         "\texcept asyncio.CancelledError:\n\t\traise\n\texcept:\n\t\tpass\n").encode(),
    ),
    # Syntax newer than Python 3.11: there the result is checked by libcst's parse alone.
    "pep701_fstrings.py": (
        CASES["pep701_fstrings.py"].data,
        CASES["pep701_fstrings.py"].data + b"        raise\n",
    ),
    "latin1.py": (LATIN1_HEAD + b'        c.log("annul\xe9")\n',
                  LATIN1_HEAD + b'        c.log("annul\xe9")\n        raise\n'),
}


@pytest.fixture(scope="module")
def fixed(tmp_path_factory) -> Tuple[subprocess.CompletedProcess, Path]:
    folder = tmp_path_factory.mktemp("fix")
    for name, (before, _) in FIXES.items():
        (folder / name).write_bytes(before)
        os.chmod(folder / name, 0o755)
    return run_cli("--fix", ".", cwd=folder), folder


def test_fix_fixes_every_file(fixed):
    done, _ = fixed
    assert_no_traceback(done)
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == "Fixed 7 findings (0 remaining)\n"


@pytest.mark.parametrize("name", FIXES)
def test_fix_keeps_encoding_bom_line_endings_indentation_and_mode(fixed, name):
    _, folder = fixed
    assert (folder / name).read_bytes() == FIXES[name][1]
    assert os.stat(folder / name).st_mode & 0o777 == 0o755


# -- paths ----------------------------------------------------------------------------------------
ELOOP = os.strerror(errno.ELOOP)


def test_symlink_loops_end_and_each_file_is_checked_once(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "good.py").write_text(HANDLER)
    (tmp_path / "pkg" / "up").symlink_to("..", target_is_directory=True)  # a folder loop
    (tmp_path / "loop.py").symlink_to("loop.py")  # a file loop, named like a module
    (tmp_path / "self").symlink_to("self")
    done = run_cli("pkg", "loop.py", "self", cwd=tmp_path)
    assert_no_traceback(done)
    assert findings_by_file(done.stdout) == {"pkg/good.py": {HANDLER_FINDING}}
    assert problems_by_file(done.stdout) == {
        "loop.py": f"cannot read: {ELOOP}", "self": f"cannot read: {ELOOP}",
    }
    assert done.returncode == 2

    walked = run_cli(".", cwd=tmp_path)  # found by the walk, not given
    assert findings_by_file(walked.stdout) == {"./pkg/good.py": {HANDLER_FINDING}}
    assert problems_by_file(walked.stdout) == {"./loop.py": f"cannot read: {ELOOP}"}

    flake8 = run_flake8(".", "self", cwd=tmp_path)
    assert_no_traceback(flake8)
    found = findings_by_file(flake8.stdout)
    assert found.pop("./pkg/good.py") == {HANDLER_FINDING}
    assert {path: {code for _, _, code in got} for path, got in found.items()} == {
        "./loop.py": {"E902"}, "self": {"E902"},  # flake8's own report of what it cannot read
    }


def test_missing_path_is_named_and_the_others_are_still_checked(tmp_path):
    (tmp_path / "good.py").write_text(HANDLER)
    done = run_cli("good.py", "missing.py", "missing_folder/", cwd=tmp_path)
    assert findings_by_file(done.stdout) == {"good.py": {HANDLER_FINDING}}
    assert problems_by_file(done.stdout) == {
        "missing.py": "no such file or directory",
        "missing_folder/": "no such file or directory",
    }
    assert done.returncode == 2

    flake8 = run_flake8("good.py", "missing.py", cwd=tmp_path)
    assert_no_traceback(flake8)
    assert {path: {code for _, _, code in got}
            for path, got in findings_by_file(flake8.stdout).items()} == {
        "good.py": {"CAN103"}, "missing.py": {"E902"},
    }


@pytest.mark.slow
def test_a_fifo_found_by_the_walk_is_named_not_read(tmp_path):
    # Reading a FIFO waits for a writer that never comes: flake8 itself hangs on one. In a
    # process of its own, so that a hang ends in a timeout rather than in a test run that hangs.
    (tmp_path / "good.py").write_text(HANDLER)
    os.mkfifo(tmp_path / "pipe.py")
    done = run_cli_process(".", cwd=tmp_path, timeout=30)
    assert findings_by_file(done.stdout) == {"./good.py": {HANDLER_FINDING}}
    assert problems_by_file(done.stdout) == {"./pipe.py": "cannot read: not a regular file"}
    assert done.returncode == 2


# -- files that go away during the run ----------------------------------------------------------
# In process, so that the file goes exactly between two steps of the run, with no timing luck.
@pytest.fixture
def two_files(tmp_path, monkeypatch) -> Path:
    (tmp_path / "doomed.py").write_text(HANDLER)
    (tmp_path / "kept.py").write_text(HANDLER)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_file_removed_after_discovery_is_named(two_files, monkeypatch, capsys):
    files = Discovery.files

    def discover_then_remove(self, paths, problems):
        found = list(files(self, paths, problems))
        assert "./doomed.py" in [path for path, _ in found]
        os.unlink("doomed.py")
        return iter(found)

    monkeypatch.setattr(Discovery, "files", discover_then_remove)
    assert cli.main(["--jobs=1", "."]) == 2
    out, err = capsys.readouterr()
    assert findings_by_file(out) == {"./kept.py": {HANDLER_FINDING}}
    assert problems_by_file(out) == {"./doomed.py": f"cannot read: {os.strerror(errno.ENOENT)}"}


def test_file_removed_while_being_fixed_is_not_brought_back(two_files, monkeypatch, capsys):
    fix_bytes = cli.fix_bytes

    def fix_then_remove(data, engine, path, **options):
        result = fix_bytes(data, engine, path, **options)
        if path.endswith("doomed.py"):
            os.unlink(path)
        return result

    monkeypatch.setattr(cli, "fix_bytes", fix_then_remove)
    assert cli.main(["--jobs=1", "--fix", "."]) == 2
    out, err = capsys.readouterr()
    # The removed file's fix was not written, so it is not counted.
    assert err == "Fixed 1 finding (0 remaining)\n"
    assert problems_by_file(out) == {
        "./doomed.py": "removed while it was being fixed; not written",
    }
    assert not (two_files / "doomed.py").exists()
    assert "except asyncio.CancelledError:\n        raise\n" in (two_files / "kept.py").read_text()


def test_folder_removed_during_the_walk_is_named(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.py").write_text(HANDLER)
    problems: List[Tuple[str, str]] = []
    walk = Discovery(command_line_source({}), None).files([str(tmp_path)], problems)
    assert next(walk)[0] == str(tmp_path / "a" / "m.py")
    (tmp_path / "b" / "m.py").unlink()
    (tmp_path / "b").rmdir()
    assert list(walk) == []
    assert problems == [(str(tmp_path / "b"), f"cannot read: {os.strerror(errno.ENOENT)}")]


def test_flake8_plugin_lints_what_flake8_read_after_the_file_is_gone(tmp_path, monkeypatch):
    # The plugin works from the lines flake8 hands it and never opens the file again.
    (tmp_path / "doomed.py").write_text(HANDLER)
    original = Plugin.__init__

    def __init__(self, tree, lines, filename):
        original(self, tree, lines, filename)
        os.unlink(filename)

    monkeypatch.setattr(Plugin, "__init__", __init__)
    done = run_flake8("doomed.py", cwd=tmp_path)
    assert_no_traceback(done)
    assert not (tmp_path / "doomed.py").exists()
    assert findings_by_file(done.stdout) == {"doomed.py": {HANDLER_FINDING}}


def test_a_long_elif_chain_is_walked_not_recursed(tmp_path):
    # libcst nests each elif in the one before: a walk that recursed per branch gave up near 900.
    branches = "".join(f"    elif x == {index}:\n        pass\n" for index in range(1, 1500))
    (tmp_path / "elifs.py").write_text(
        "import asyncio\n\n\nasync def f(x):\n    if x == 0:\n        pass\n" + branches
        + "    else:\n        try:\n            await asyncio.sleep(1)\n"
        "        except asyncio.CancelledError:\n            pass\n"
    )
    done = run_cli("elifs.py", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, "Found 1 finding (1 fixable with --fix).\n")
    assert done.stdout.startswith(f"elifs.py:{6 + 2 * 1499 + 4}:9: CAN101 ")
