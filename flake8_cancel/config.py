"""The command line's configuration: ``[tool.flake8-cancel]`` of the nearest ``pyproject.toml``
at or above each checked file, overridden by command-line flags.

flake8 users configure the plugin through flake8's own configuration (``--cancel-*`` options);
this is for ``flake8-cancel`` / ``python -m flake8_cancel``. Every key is checked: a key or value
we cannot use is an error that names the file and the key, never silently ignored.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any, Dict, Iterable, List, NamedTuple, Sequence, Tuple

from flake8_cancel.options import CODES, CODES_BY_PATTERN, OPTIONS, OPTIONS_BY_KEY, Option
from flake8_cancel.selection import enabled_rules
from flake8_cancel.settings import ConfigurationError, Settings, nearest_pyproject

# What the command line says: option key -> value, for the flags given (for the other options
# the file, or the default, holds).
Overrides = Dict[str, Any]


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


def check_codes(option: Option, value: Any) -> None:
    """Every code prefix in ``value`` matches a rule; else ValueError naming it and the codes.
    (The table's parsers cannot check this: they sit below the rules.)"""
    codes: Iterable[str] = ()
    if option.kind is CODES:
        codes = value
    elif option.kind is CODES_BY_PATTERN:
        codes = [code for _, listed in value for code in listed]
    enabled_rules(ignore=tuple(codes))


def build_config(
    table: Dict[str, Any], root: str, source: str, overrides: Overrides
) -> RunConfig:
    values: Dict[str, Any] = {}
    for key, value in table.items():
        option = OPTIONS_BY_KEY.get(key)
        try:
            if option is None:
                raise ValueError(f"unknown key (known: {', '.join(sorted(OPTIONS_BY_KEY))})")
            values[key] = option.kind.parse(value)
            check_codes(option, values[key])
        except ValueError as problem:
            raise ConfigurationError(f"{source}: [tool.flake8-cancel] {key}: {problem}") from None
    values.update(overrides)
    chosen = {option.key: values.get(option.key, option.default) for option in OPTIONS}
    rules = enabled_rules(
        select=chosen["select"], ignore=chosen["ignore"], extend_select=chosen["extend-select"]
    )
    return RunConfig(
        settings=Settings(
            **{option.settings_field: chosen[option.key] for option in OPTIONS
               if option.settings_field}
        ),
        codes=tuple(rule.code for rule in rules),
        root=root,
        exclude=chosen["exclude"],
        per_file_ignores=chosen["per-file-ignores"],
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
