"""The pre-commit hooks, through the real pre-commit, as a project uses them: its
``.pre-commit-config.yaml`` names this repository, a revision and the hooks.

The repository is a snapshot of the working tree (a git repository of its own with one commit),
so that uncommitted changes are tested too. Every run shares one PRE_COMMIT_HOME: pre-commit
builds the hooks' environment (a virtualenv and a pip install, seconds) once per repository and
revision. (``pre-commit try-repo`` would build it again on every run: it keeps its store in a
temporary folder.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "flake8_cancel"
BARE = "async def g(c):\n    try:\n        await c.x()\n    except:\n        pass\n"
CLEAN = "async def h(c):\n    await c.x()\n"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def snapshot_files() -> list:
    """What the hooks' install needs, as it is in the working tree: the top-level files and the
    package (new files too, before anyone has added them to git), nothing ignored."""
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT)
    return sorted(
        name for name in listed.split("\0")
        if name and ("/" not in name or name.startswith(f"{PACKAGE}/")) and (ROOT / name).is_file()
    )


@pytest.fixture(scope="module")
def hooks_repository(tmp_path_factory) -> Path:
    snapshot = tmp_path_factory.mktemp("hooks-repository")
    for name in snapshot_files():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, snapshot / name)
    git("init", "-q", cwd=snapshot)
    git("add", ".", cwd=snapshot)
    git("-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-q", "-m", "snapshot",
        cwd=snapshot)
    return snapshot


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def git_repository(path: Path, hooks: Path) -> Path:
    """A project with one bad and one clean file, whose pre-commit configuration uses both hooks."""
    path.mkdir()
    git("init", "-q", cwd=path)
    git("config", "user.email", "t@example.invalid", cwd=path)
    git("config", "user.name", "t", cwd=path)
    revision = git("rev-parse", "HEAD", cwd=hooks).strip()
    (path / ".pre-commit-config.yaml").write_text(
        f"repos:\n-   repo: {hooks}\n    rev: {revision}\n    hooks:\n"
        "    -   id: flake8-cancel\n    -   id: flake8-cancel-fix\n"
    )
    (path / "bad.py").write_text(BARE)
    (path / "good.py").write_text(CLEAN)
    git("add", ".", cwd=path)
    return path


def run_hook(hook: str, repository: Path, home: Path) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PRE_COMMIT_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", hook, "--all-files"],
        capture_output=True, text=True, cwd=repository, env=environment,
    )


def test_the_snapshot_holds_the_hook_definitions_and_the_package(hooks_repository):
    assert (hooks_repository / ".pre-commit-hooks.yaml").is_file()
    assert (hooks_repository / "pyproject.toml").is_file()
    assert (hooks_repository / PACKAGE / "cli.py").is_file()
    assert git("status", "--porcelain", cwd=hooks_repository) == ""  # all of it committed


def test_check_hook_reports_and_fails(tmp_path, hooks_repository, pre_commit_home):
    repository = git_repository(tmp_path / "repo", hooks_repository)
    done = run_hook("flake8-cancel", repository, pre_commit_home)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bad.py:4:5: CAN103" in done.stdout
    assert "good.py" not in done.stdout.split("Failed")[-1]
    assert (repository / "bad.py").read_text() == BARE


def test_fix_hook_fixes_and_fails_when_it_changed_files(
    tmp_path, hooks_repository, pre_commit_home
):
    repository = git_repository(tmp_path / "repo", hooks_repository)
    done = run_hook("flake8-cancel-fix", repository, pre_commit_home)
    assert done.returncode == 1, done.stdout + done.stderr
    fixed = (repository / "bad.py").read_text()
    assert "    except asyncio.CancelledError:\n        raise\n    except:\n" in fixed
    assert (repository / "good.py").read_text() == CLEAN
    again = run_hook("flake8-cancel-fix", repository, pre_commit_home)
    assert again.returncode == 0, again.stdout + again.stderr
