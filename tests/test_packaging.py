"""Promises made in pyproject.toml that a change could silently break."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import flake8_cancel

PACKAGE = Path(flake8_cancel.__file__).resolve().parent
ROOT = Path(__file__).resolve().parent.parent


def test_package_source_parses_as_the_oldest_supported_python():
    declared = re.search(r'requires-python = ">=3\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert declared
    oldest = (3, int(declared.group(1)))
    for path in PACKAGE.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=oldest)


def test_runtime_dependencies_are_flake8_and_libcst_and_only_a_backport_beside():
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)\]", text, re.S | re.M)
    assert block
    requirements = re.findall(r'^\s*"([^"]+)"', block.group(1), re.M)
    unconditional = sorted(re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in requirements if ";" not in r)
    assert unconditional == ["flake8", "libcst"]
    # tomllib is in the standard library from 3.11 on; older Pythons get its backport.
    assert [r for r in requirements if ";" in r] == ["tomli>=1.1; python_version < '3.11'"]
