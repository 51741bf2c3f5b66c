"""A ``--fix`` run killed with SIGKILL leaves every file whole: as it was, or fully fixed.

300 files with fixable findings (CAN101, CAN103, CAN104; some CRLF, some with a BOM, some with
a large string table so that writing them takes a while, varied modes) are fixed once to
completion, for the expected result. Then a fresh copy is fixed again with the default two
jobs, and the whole process group is SIGKILLed once a set share of the files has been written
(seen from their inode numbers and mtimes), twice, then fixed to the end; should a kill miss
the run (it finished first), a fresh copy is tried with earlier kills.

What a kill can leave behind: ``write_atomically`` writes ``.NAME.py.XXXXXXXX.tmp`` beside the
file and renames it over the file, so a kill between the two leaves that temporary file (the
original untouched). It is not a Python file: neither flake8-cancel nor flake8 checks it, and the
next ``--fix`` does not touch it. The last test makes that kill happen on purpose.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

from flake8_cancel.config import command_line_source
from flake8_cancel.discovery import Discovery

# Real --fix processes, killed: nothing here can run in process.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"),
]

FILES = 300
MODES = (0o644, 0o755, 0o600)
LEFTOVER = re.compile(r"^\.module_\d{3}\.py\.[^/]+\.tmp$")

HEADERS = (
    "import asyncio\nimport logging\n\n_LOGGER = logging.getLogger(__name__)\n",
    "import asyncio as aio\nimport logging\n\n_LOGGER = logging.getLogger(__name__)\n",
    "from asyncio import CancelledError\nimport asyncio\nimport logging\n\n"
    "_LOGGER = logging.getLogger(__name__)\n",
)
CANCELLED = ("asyncio.CancelledError", "aio.CancelledError", "CancelledError")
HANDLERS = (
    # CAN101: logs the cancellation and returns None as if the fetch had finished
    "async def {name}(session, url):\n    try:\n        return await session.get(url)\n"
    "    except {cancelled}:\n        _LOGGER.debug(\"Abruf von %s abgebrochen – später\", url)\n",
    # CAN101: a worker loop that cannot be stopped
    "async def {name}(queue):\n    while True:\n        item = await queue.get()\n"
    "        try:\n            await item.run()\n        except {cancelled}:\n            pass\n"
    "        finally:\n            queue.task_done()\n",
    # CAN101 in a clause that also catches other errors: fixed with an isinstance guard
    "async def {name}(stream):\n    try:\n        await stream.drain()\n"
    # (KeyboardInterrupt: with a library's error in the tuple, the fix would be unsafe.)
    "    except ({cancelled}, KeyboardInterrupt) as err:\n        _LOGGER.info(\"drain: %r\", err)\n",
    # CAN103: a bare except around an await
    "async def {name}(client):\n    try:\n        await client.refresh()\n    except:\n"
    "        _LOGGER.exception(\"refresh failed: %s\", \"{name}\")\n",
    # CAN104: BaseException
    "async def {name}(conn):\n    try:\n        await conn.close()\n"
    "    except BaseException as err:\n        _LOGGER.warning(\"close failed: %r\", err)\n",
)
CLEAN = (
    "async def {name}(conn):\n    try:\n        await conn.open()\n    except {cancelled}:\n"
    "        conn.reset()\n        raise\n"
)


def module(index: int) -> bytes:
    variant = index % len(HEADERS)
    parts = [HEADERS[variant]]
    if index % 10 == 9:
        templates = [CLEAN]  # nothing to fix: must keep every byte
    else:
        templates = [HANDLERS[(index + k) % len(HANDLERS)] for k in range(1 + index % 3)]
    parts += [
        template.format(name=f"task_{index}_{k}", cancelled=CANCELLED[variant])
        for k, template in enumerate(templates)
    ]
    if index % 30 == 0:  # large but cheap to parse: one string token
        rows = "".join(f"row {n}: {'x' * 70}\n" for n in range(2500))
        parts.append(f'TABLE = """\n{rows}"""\n')
    text = "\n\n".join(parts)
    if index % 4 == 1:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    if index % 7 == 3:
        data = b"\xef\xbb\xbf" + data
    return data


def write_tree(directory: Path, files: Dict[str, bytes]) -> None:
    directory.mkdir()
    for index, (name, data) in enumerate(sorted(files.items())):
        (directory / name).write_bytes(data)
        (directory / name).chmod(MODES[index % len(MODES)])


def read_tree(directory: Path) -> Dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


def start_fix(directory: Path, *wrapper: str, stderr: int = subprocess.PIPE) -> subprocess.Popen:
    # A session of its own, so that the kill reaches the pool's workers too.
    command = [*wrapper] or ["-m", "flake8_cancel"]
    return subprocess.Popen(
        [sys.executable, *command, "--fix", "."], cwd=directory, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=stderr,
    )


def kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture(scope="module")
def originals() -> Dict[str, bytes]:
    return {f"module_{index:03}.py": module(index) for index in range(FILES)}


@pytest.fixture(scope="module")
def expected(originals, tmp_path_factory) -> Dict[str, bytes]:
    """The files after a --fix run that nobody interrupted."""
    directory = tmp_path_factory.mktemp("expected") / "tree"
    write_tree(directory, originals)
    process = start_fix(directory)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 0, error.decode()
    fixed = read_tree(directory)
    assert set(fixed) == set(originals)  # and no temporary file left by a finished run
    changing = [name for name in originals if fixed[name] != originals[name]]
    assert len(changing) == FILES - FILES // 10  # all but the clean ones
    return fixed


def identity(entry: os.DirEntry) -> Tuple[int, int]:
    # os.replace gives the name a new inode; a writer that rewrote the file in place would
    # change its mtime: either way the file counts as written.
    return entry.inode(), entry.stat().st_mtime_ns


def written_files(directory: Path, before: Dict[str, Tuple[int, int]]) -> Tuple[int, List[str]]:
    """How many files were written since ``before``, and the names of the other files there."""
    count, others = 0, []
    for entry in os.scandir(directory):
        if entry.name in before:
            count += identity(entry) != before[entry.name]
        else:
            others.append(entry.name)
    return count, others


def fix_and_kill(directory: Path, should_kill: Callable[[int, List[str]], bool]) -> bool:
    """Start --fix and SIGKILL it once ``should_kill(written, temporary_names)``. Returns
    whether the kill found it still running."""
    before = {entry.name: identity(entry) for entry in os.scandir(directory)}
    # Nobody reads its stderr while it runs: a full pipe would stall it.
    process = start_fix(directory, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while process.poll() is None:
            if should_kill(*written_files(directory, before)):
                break
            assert time.monotonic() < deadline, "--fix stopped writing files"
            time.sleep(0.0005)  # the temporary file of a large file lives a few milliseconds
        return process.poll() is None
    finally:
        kill(process)


def after_writes(threshold: int) -> Callable[[int, List[str]], bool]:
    return lambda written, temporary: written >= threshold


def at_a_temporary_file(threshold: int) -> Callable[[int, List[str]], bool]:
    """After ``threshold`` files, the moment a temporary file is seen: during a write. Should
    none be caught, the kill comes anyway at twice the threshold."""
    return lambda written, temporary: (written >= threshold and bool(temporary)) or (
        written >= 2 * threshold
    )


def assert_whole(directory: Path, originals: Dict[str, bytes], expected: Dict[str, bytes]) -> int:
    """Each file as it was or as fully fixed, with its mode; what else is there is a temporary
    file that no checker picks up. Returns how many files were fixed."""
    now = read_tree(directory)
    leftovers = sorted(set(now) - set(originals))
    assert set(originals) <= set(now)
    assert all(LEFTOVER.match(name) for name in leftovers), leftovers
    for index, name in enumerate(sorted(originals)):
        assert now[name] in (originals[name], expected[name]), f"{name} is torn"
        assert stat.S_IMODE((directory / name).stat().st_mode) == MODES[index % len(MODES)], name
    found = sorted(
        Path(path).name
        for path, _ in Discovery(command_line_source({}), None).files([str(directory)], [])
    )
    assert found == sorted(originals)
    return sum(now[name] != originals[name] for name in originals)


def test_runs_killed_midway_leave_every_file_whole(tmp_path, originals, expected):
    """Two kills on the same tree (the second run resumes from a half-fixed tree), then a run
    to the end."""
    changing = sum(expected[name] != originals[name] for name in originals)
    for attempt in range(4):
        threshold = max(1, changing // (3 * 2**attempt))  # a kill that missed: kill earlier
        directory = tmp_path / f"attempt{attempt}"
        write_tree(directory, originals)
        fixed_after_each_kill = []
        for kill_when in (after_writes, at_a_temporary_file):
            running = fix_and_kill(directory, kill_when(threshold))
            fixed_after_each_kill.append(assert_whole(directory, originals, expected))
            if not running:
                break
        first, second = (fixed_after_each_kill + [changing])[:2]
        if 0 < first < second < changing:
            break
    else:
        pytest.fail("the kills did not land mid-run in 4 attempts")

    # The next run finishes the job, and leaves any temporary file alone.
    leftovers = {name: data for name, data in read_tree(directory).items() if name not in originals}
    process = start_fix(directory)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 0, error.decode()
    assert read_tree(directory) == {**expected, **leftovers}


# Stops --fix after write_atomically has written and synced the temporary file, before the rename.
PAUSE_BEFORE_RENAME = """
import os, sys, time
marker = sys.argv.pop(1)
def paused_replace(source, target):
    open(marker, "w").close()
    time.sleep(120)
os.replace = paused_replace
from flake8_cancel.cli import main
sys.exit(main(["--jobs=1", *sys.argv[1:]]))
"""


def test_a_kill_between_write_and_rename_leaves_the_file_and_a_temporary_file(
    tmp_path, originals, expected
):
    names = sorted(originals)[:3]
    directory = tmp_path / "tree"
    write_tree(directory, {name: originals[name] for name in names})
    marker = tmp_path / "paused"
    process = start_fix(directory, "-c", PAUSE_BEFORE_RENAME, str(marker))
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped = process.poll() is not None
        assert marker.exists(), process.stderr.read().decode() if stopped else "no write in 60 s"
    finally:
        kill(process)

    first = names[0]
    files = read_tree(directory)
    leftovers = sorted(set(files) - set(names))
    assert len(leftovers) == 1 and leftovers[0].startswith(f".{first}."), leftovers
    assert LEFTOVER.match(leftovers[0])
    assert files[leftovers[0]] == expected[first]  # whole and synced, only not renamed
    mode = stat.S_IMODE((directory / leftovers[0]).stat().st_mode)
    assert mode == stat.S_IMODE((directory / first).stat().st_mode)
    subset = {name: originals[name] for name in names}
    assert assert_whole(directory, subset, {name: expected[name] for name in names}) == 0

    lint = subprocess.run(
        [sys.executable, "-m", "flake8_cancel", "."], cwd=directory, capture_output=True, text=True
    )
    assert lint.returncode == 1
    assert ".tmp" not in lint.stdout and all(name in lint.stdout for name in names)
