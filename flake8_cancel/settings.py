"""What a run is configured with, whoever configured it (flake8 options or the CLI)."""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from typing import Any, Dict, FrozenSet, NamedTuple, Optional, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9 and 3.10
    import tomli as tomllib

from flake8_cancel import names

DEFAULT_TARGET_VERSION = (3, 11)
_VERSION = re.compile(r"(?:py)?3\.?(\d{1,2})")


class Settings(NamedTuple):
    # None: the project's (see project_target_version), else DEFAULT_TARGET_VERSION.
    target_version: Optional[Tuple[int, int]] = None
    # Extra qualified names, e.g. "trio.Cancelled" or "myproject.errors.fail".
    extra_cancelled_names: Tuple[str, ...] = ()
    extra_never_returning: Tuple[str, ...] = ()
    extra_suppressors: Tuple[str, ...] = ()
    extra_timeout_managers: Tuple[str, ...] = ()
    extra_cleanup_methods: Tuple[str, ...] = ()  # method names, e.g. "dispose"

    @property
    def cleanup_methods(self) -> FrozenSet[str]:
        return names.CLEANUP_METHODS | frozenset(self.extra_cleanup_methods)

    @property
    def timeout_managers(self) -> FrozenSet[str]:
        return names.TIMEOUT_MANAGERS | frozenset(self.extra_timeout_managers)

    def target_version_for(self, path: Optional[str]) -> Tuple[int, int]:
        """The option if given, else what the project declares, else 3.11."""
        if self.target_version is not None:
            return self.target_version
        declared = project_target_version(path) if path else None
        return declared or DEFAULT_TARGET_VERSION

    @property
    def cancelled_names(self) -> FrozenSet[str]:
        return names.CANCELLATION_CLASSES | frozenset(self.extra_cancelled_names)

    @property
    def never_returning(self) -> FrozenSet[str]:
        return names.NEVER_RETURNING_FUNCTIONS | frozenset(self.extra_never_returning)

    @property
    def suppressors(self) -> FrozenSet[str]:
        return names.SUPPRESSORS | frozenset(self.extra_suppressors)


# The versions a target may name: CancelledError is a BaseException from 3.8 on, which every
# rule assumes; the newest is the newest Python released or in beta.
OLDEST_TARGET_VERSION = (3, 8)
NEWEST_TARGET_VERSION = (3, 15)
TARGET_VERSIONS_ALLOWED = (
    f'"3.{OLDEST_TARGET_VERSION[1]}" to "3.{NEWEST_TARGET_VERSION[1]}" (or "py3{OLDEST_TARGET_VERSION[1]}" '
    f'to "py3{NEWEST_TARGET_VERSION[1]}")'
)


def parse_target_version(value: object) -> Tuple[int, int]:
    """``"3.9"``, ``"3.10"``, ``"py39"`` or ``"py310"`` -> (3, minor); ValueError saying what is
    allowed. A TOML number is refused: ``3.10`` reads as 3.1."""
    if not isinstance(value, str):
        hint = " (TOML reads 3.10 unquoted as the number 3.1: quote it)" if isinstance(
            value, float) else ""
        raise ValueError(
            f"{value!r} is not a string; expected a version such as \"3.10\"{hint}"
        )
    match = _VERSION.fullmatch(value.strip().lower())
    version = (3, int(match.group(1))) if match else None
    if version is None or not OLDEST_TARGET_VERSION <= version <= NEWEST_TARGET_VERSION:
        raise ValueError(f"{value!r} is not a target version such as \"3.10\": "
                         f"use {TARGET_VERSIONS_ALLOWED}")
    return version


class ConfigurationError(ValueError):
    """A configuration file holds a value we cannot use; the message names the file and key."""


def module_package(path: str) -> Optional[str]:
    """The dotted package a module file belongs to, from the ``__init__.py`` files above it
    (``src/anyio/streams/tls.py`` -> ``anyio.streams``); None outside a package."""
    return _package_of_folder(os.path.dirname(os.path.abspath(path)))


@lru_cache(maxsize=None)
def _package_of_folder(directory: str) -> Optional[str]:
    if not os.path.isfile(os.path.join(directory, "__init__.py")):
        return None
    parent = _package_of_folder(os.path.dirname(directory))
    name = os.path.basename(directory)
    if not name.isidentifier():
        return None
    return f"{parent}.{name}" if parent else name


def requires_python_lower_bound(specifier: str) -> Optional[Tuple[int, int]]:
    """``>=3.9``, ``>=3.8,<4``, ``~=3.10``, ``==3.11.*`` -> the oldest (3, minor) allowed."""
    bounds = [
        (int(major), int(minor))
        for major, minor in re.findall(r"(?:>=|~=|==|>)\s*(\d+)\.(\d+)", specifier)
    ]
    return max(bounds) if bounds else None


def project_target_version(path: str) -> Optional[Tuple[int, int]]:
    """What the project of ``path`` declares when no configuration names a target version: the
    lower bound of ``[project] requires-python`` in the nearest ``pyproject.toml`` above it,
    else of ``python_requires`` in the nearest ``setup.cfg`` (``[options]``) or ``setup.py``."""
    directory = os.path.dirname(os.path.abspath(path))
    found = nearest_pyproject(directory)
    declared = None
    if found is not None:
        requires = found[1].get("project", {}).get("requires-python")
        declared = requires_python_lower_bound(requires) if isinstance(requires, str) else None
    return declared or setup_python_requires(directory)


@lru_cache(maxsize=None)
def setup_python_requires(directory: str) -> Optional[Tuple[int, int]]:
    """The lower bound of ``python_requires`` in the nearest ``setup.cfg`` or ``setup.py`` at or
    above ``directory`` (cached per folder); None where neither says."""
    for name, pattern in (
        ("setup.cfg", r"^\s*python_requires\s*=\s*([^\n#]+)"),
        ("setup.py", r"python_requires\s*=\s*[\"']([^\"']+)[\"']"),
    ):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8", errors="replace") as handle:
                    match = re.search(pattern, handle.read(), re.M)
            except OSError:
                match = None
            if match:
                return requires_python_lower_bound(match.group(1))
    parent = os.path.dirname(directory)
    return None if parent == directory else setup_python_requires(parent)


@lru_cache(maxsize=None)
def nearest_pyproject(directory: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    """The nearest ``pyproject.toml`` at or above ``directory``, parsed (cached per folder)."""
    candidate = os.path.join(directory, "pyproject.toml")
    if os.path.isfile(candidate):
        return candidate, read_pyproject(candidate)
    parent = os.path.dirname(directory)
    return None if parent == directory else nearest_pyproject(parent)


@lru_cache(maxsize=None)
def read_pyproject(path: str) -> Dict[str, Any]:
    """A ``pyproject.toml``, parsed (cached); ConfigurationError naming it if it cannot be."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"{path}: cannot read: {error}") from None
