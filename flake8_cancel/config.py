"""The command line's configuration: ``[tool.flake8-cancel]`` of the nearest ``pyproject.toml``
at or above each checked file, overridden by command-line flags.

flake8 users configure the plugin through flake8's own configuration (``--cancel-*`` options);
this is for ``flake8-cancel`` / ``python -m flake8_cancel``. Every key is checked: a key or value
we cannot use is an error that names the file and the key, never silently ignored.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from flake8_cancel.selection import enabled_rules
from flake8_cancel.settings import (
    ConfigurationError,
    Settings,
    nearest_pyproject,
    parse_name_list,
    parse_target_version,
)

NAME_LISTS = {
    # key in [tool.flake8-cancel] -> Settings field
    "cancelled-names": "extra_cancelled_names",
    "never-returning": "extra_never_returning",
    "suppressors": "extra_suppressors",
    "timeout-managers": "extra_timeout_managers",
    "cleanup-methods": "extra_cleanup_methods",
}
CODE_LISTS = ("select", "ignore", "extend-select")
KNOWN_KEYS = frozenset(
    {*NAME_LISTS, *CODE_LISTS, "exclude", "per-file-ignores", "target-version"}
)


class Overrides(NamedTuple):
    """What the command line says; None where it says nothing (the file, or the default, holds)."""

    select: Optional[List[str]] = None
    ignore: Optional[List[str]] = None
    extend_select: Optional[List[str]] = None
    target_version: Optional[Tuple[int, int]] = None
    names: Dict[str, Tuple[str, ...]] = {}  # Settings field -> names, for the flags given


class RunConfig(NamedTuple):
    """Everything that decides how the files under one pyproject.toml are checked."""

    settings: Settings
    codes: Tuple[str, ...]  # the enabled rules
    root: str  # the folder of the pyproject.toml (or the current folder): patterns are relative to it
    exclude: Tuple[str, ...] = ()
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()

    def excludes(self, path: str) -> bool:
        """flake8's rule: a pattern matches the file's name or its path from the root."""
        return any(_matches(pattern, path, self.root) for pattern in self.exclude)

    def ignored_codes(self, path: str) -> Tuple[str, ...]:
        return tuple(
            code
            for pattern, codes in self.per_file_ignores
            if _matches(pattern, path, self.root)
            for code in codes
        )


def _matches(pattern: str, path: str, root: str) -> bool:
    relative = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
    return (
        fnmatch.fnmatch(os.path.basename(path), pattern)
        or fnmatch.fnmatch(relative, pattern)
        or fnmatch.fnmatch(relative, pattern.rstrip("/") + "/*")
    )


def config_for(path: str, overrides: Overrides) -> RunConfig:
    """The configuration that applies to ``path`` (a file or a folder)."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    found = nearest_pyproject(os.path.abspath(folder))
    if found is None:
        return build_config({}, os.getcwd(), "<defaults>", overrides)
    pyproject, data = found
    table = data.get("tool", {}).get("flake8-cancel", {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"{pyproject}: [tool.flake8-cancel] must be a table")
    return build_config(table, os.path.dirname(pyproject), pyproject, overrides)


def build_config(
    table: Dict[str, Any], root: str, source: str, overrides: Overrides
) -> RunConfig:
    def error(key: str, message: str) -> ConfigurationError:
        return ConfigurationError(f"{source}: [tool.flake8-cancel] {key}: {message}")

    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise error(unknown[0], f"unknown key (known: {', '.join(sorted(KNOWN_KEYS))})")

    def strings(key: str) -> Optional[List[str]]:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise error(key, f"expected a list of strings, got {value!r}")
        return value

    codes = {}
    for key in CODE_LISTS:
        value = strings(key)
        codes[key] = None if value is None else [code.strip().upper() for code in value]

    target_version: Optional[Tuple[int, int]] = overrides.target_version
    if target_version is None and "target-version" in table:
        try:
            target_version = parse_target_version(str(table["target-version"]))
        except ValueError as problem:
            raise error("target-version", str(problem)) from None

    names: Dict[str, Tuple[str, ...]] = {}
    for key, field in NAME_LISTS.items():
        value = strings(key)
        try:
            names[field] = parse_name_list(value or ())
        except ValueError as problem:
            raise error(key, str(problem)) from None
    names.update(overrides.names)

    per_file: List[Tuple[str, Tuple[str, ...]]] = []
    raw = table.get("per-file-ignores", {})
    if not isinstance(raw, dict):
        raise error("per-file-ignores", 'expected a table such as { "tests/*" = ["CAN101"] }')
    for pattern, listed in raw.items():
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, list) or not all(isinstance(code, str) for code in listed):
            raise error("per-file-ignores", f"{pattern!r}: expected a list of codes")
        per_file.append((pattern, tuple(code.strip().upper() for code in listed)))

    try:
        rules = enabled_rules(
            select=overrides.select if overrides.select is not None else codes["select"],
            ignore=overrides.ignore if overrides.ignore is not None else (codes["ignore"] or ()),
            extend_select=(
                overrides.extend_select
                if overrides.extend_select is not None
                else (codes["extend-select"] or ())
            ),
        )
        for _, listed in per_file:
            enabled_rules(ignore=listed)  # the same check of each code
    except ValueError as problem:
        raise ConfigurationError(f"{source}: [tool.flake8-cancel]: {problem}") from None

    settings = Settings(target_version=target_version, **names)
    return RunConfig(
        settings=settings,
        codes=tuple(rule.code for rule in rules),
        root=root,
        exclude=tuple(strings("exclude") or ()),
        per_file_ignores=tuple(per_file),
    )


def group_by_config(
    paths: Sequence[str], overrides: Overrides
) -> Dict[RunConfig, List[str]]:
    groups: Dict[RunConfig, List[str]] = {}
    for path in paths:
        config = config_for(path, overrides)
        if not config.excludes(path):
            groups.setdefault(config, []).append(path)
    return groups
