"""The pre-commit hooks, through the real pre-commit (`pre-commit try-repo`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BARE = "async def g(c):\n    try:\n        await c.x()\n    except:\n        pass\n"
CLEAN = "async def h(c):\n    await c.x()\n"


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    # One hook environment for both tests: pre-commit caches it per repository and revision.
    return tmp_path_factory.mktemp("pre-commit-home")


def git_repository(path: Path) -> Path:
    path.mkdir()
    for command in (["init", "-q"], ["config", "user.email", "t@example.invalid"], ["config", "user.name", "t"]):
        subprocess.run(["git", *command], cwd=path, check=True)
    (path / "bad.py").write_text(BARE)
    (path / "good.py").write_text(CLEAN)
    subprocess.run(["git", "add", "."], cwd=path, check=True)
    return path


def try_repo(hook: str, repository: Path, home: Path) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PRE_COMMIT_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--all-files"],
        capture_output=True, text=True, cwd=repository, env=environment,
    )


def test_check_hook_reports_and_fails(tmp_path, pre_commit_home):
    repository = git_repository(tmp_path / "repo")
    done = try_repo("flake8-cancel", repository, pre_commit_home)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bad.py:4:5: CAN103" in done.stdout
    assert "good.py" not in done.stdout.split("Failed")[-1].replace("bad.py", "")
    assert (repository / "bad.py").read_text() == BARE


def test_fix_hook_fixes_and_fails_when_it_changed_files(tmp_path, pre_commit_home):
    repository = git_repository(tmp_path / "repo")
    done = try_repo("flake8-cancel-fix", repository, pre_commit_home)
    assert done.returncode == 1, done.stdout + done.stderr
    fixed = (repository / "bad.py").read_text()
    assert "    except asyncio.CancelledError:\n        raise\n    except:\n" in fixed
    assert (repository / "good.py").read_text() == CLEAN
    again = try_repo("flake8-cancel-fix", repository, pre_commit_home)
    assert again.returncode == 0, again.stdout + again.stderr
