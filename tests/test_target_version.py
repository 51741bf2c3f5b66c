"""The target version: option, else [tool.flake8-cancel], else requires-python, else 3.11."""

from __future__ import annotations

from pathlib import Path

import pytest

from flake8_cancel.settings import parse_target_version, requires_python_lower_bound
from in_process import run_cli, run_flake8

TIMEOUT_HANDLER = (
    "import asyncio\n\n\nasync def f(reader):\n    try:\n"
    "        return await asyncio.wait_for(reader.read(), 5)\n"
    "    except TimeoutError:\n        return b''\n"
)


@pytest.mark.parametrize(
    "specifier, expected",
    [
        (">=3.9", (3, 9)),
        (">=3.8, <4", (3, 8)),
        ("~=3.10", (3, 10)),
        ("==3.11.*", (3, 11)),
        (">3.9", (3, 9)),
        ("<4", None),
        (">=3.8,>=3.10", (3, 10)),
    ],
)
def test_requires_python_lower_bound(specifier, expected):
    assert requires_python_lower_bound(specifier) == expected


@pytest.mark.parametrize("text, expected", [("3.9", (3, 9)), ("3.10", (3, 10)), ("py311", (3, 11))])
def test_target_version_spellings(text, expected):
    assert parse_target_version(text) == expected


@pytest.mark.parametrize("text", ["banana", "2.7", "3", "3.x"])
def test_bad_target_version(text):
    with pytest.raises(ValueError, match="target version"):
        parse_target_version(text)


def codes(tmp_path: Path, *options: str) -> dict:
    """CAN202 findings from the CLI and from flake8 for tmp_path/pkg/mod.py (in process: each
    run reads the pyproject.toml files afresh, as a new process does)."""
    results = {}
    for tool, done in (
        ("cli", run_cli(*options, "pkg/mod.py", cwd=tmp_path)),
        ("flake8", run_flake8("--select=CAN", *[o.replace("--", "--cancel-", 1) for o in options],
                              "pkg/mod.py", cwd=tmp_path)),
    ):
        assert "Traceback" not in done.stderr
        results[tool] = (sorted(line.split()[1] for line in done.stdout.splitlines()), done.stderr)
    return results


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(TIMEOUT_HANDLER)
    return tmp_path


def test_no_pyproject_means_311(project):
    assert {tool: found for tool, (found, _) in codes(project).items()} == {"cli": [], "flake8": []}


def test_requires_python_of_the_nearest_pyproject(project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\nrequires-python = ">=3.9"\n')
    assert {tool: found for tool, (found, _) in codes(project).items()} == {
        "cli": ["CAN202"], "flake8": ["CAN202"]
    }
    # A nearer pyproject.toml decides for the files below it.
    (project / "pkg" / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.11"\n')
    assert {tool: found for tool, (found, _) in codes(project).items()} == {"cli": [], "flake8": []}


def test_tool_section_overrides_requires_python(project):
    (project / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.9"\n[tool.flake8-cancel]\ntarget-version = "3.11"\n'
    )
    assert {tool: found for tool, (found, _) in codes(project).items()} == {"cli": [], "flake8": []}


def test_option_overrides_the_project(project):
    (project / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.11"\n')
    found = codes(project, "--target-version=3.10")
    assert {tool: codes_ for tool, (codes_, _) in found.items()} == {
        "cli": ["CAN202"], "flake8": ["CAN202"]
    }


def test_bad_value_in_pyproject_is_a_clear_error(project):
    (project / "pyproject.toml").write_text('[tool.flake8-cancel]\ntarget-version = "banana"\n')
    found = codes(project)
    for tool in ("cli", "flake8"):
        assert "[tool.flake8-cancel] target-version" in found[tool][1]
        assert "banana" in found[tool][1]


def test_bad_option_is_a_usage_error(project):
    done = run_cli("--target-version=3", "pkg", cwd=project)
    assert done.returncode == 2 and "'3' is not a target version" in done.stderr
