"""One configuration model for every front end (the flake8 plugin, the command line and its
pre-commit hooks, the codemod): where values come from, how they combine, what they mean.

Three sources, each read and checked the same way whichever front end runs:

- flake8's configuration file: the ``[flake8]`` section of ``setup.cfg``, ``tox.ini`` or
  ``.flake8``, found as flake8 finds it: our ``cancel-KEY`` options, and flake8's own
  ``select``, ``ignore``, ``extend-select``, ``extend-ignore``, ``exclude``, ``extend-exclude``
  and ``per-file-ignores`` as far as they name our codes (``E501`` is another tool's);
- ``[tool.flake8-cancel]`` of the nearest ``pyproject.toml`` that has that table (discovery.py);
- the command line: flake8-cancel's flags, or flake8's own options and ``--cancel-*`` options.

How they combine (README, *Configuration*):

- ``target-version``: the command line, else ``[tool.flake8-cancel]``, else flake8's file;
- the name lists add up;
- selection: each file's ``select``/``ignore``/``extend-select`` applies (under flake8, flake8
  applies its own to every plugin's codes, so the command line does the same): a code either
  turns off is off; an opt-in rule runs when either names it. A flag replaces that key in both.
- ``exclude``, ``extend-exclude``, ``per-file-ignores``: both files' apply; a flag replaces the
  key in both. ``exclude`` replaces the default list of skipped folders, which only the
  command line's folder walk uses (flake8 has its own).

A key or value that cannot be used is a :class:`ConfigurationError` naming the file and key and
saying what is allowed: never silently ignored.
"""

from __future__ import annotations

import fnmatch
import os
import re
from functools import lru_cache
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Sequence, Tuple

from flake8_cancel.options import (
    CODES,
    CODES_BY_PATTERN,
    DEFAULT_EXCLUDE,
    OPTIONS_BY_KEY,
    SETTINGS_OPTIONS,
    Option,
)
from flake8_cancel.selection import Selection, enabled_rules, is_ours, resolve_codes
from flake8_cancel.settings import ConfigurationError, Settings

# flake8's own keys that we read from its file, and the key of ours each feeds.
FLAKE8_OWN_KEYS = {
    "select": "select",
    "ignore": "ignore",
    "extend-ignore": "ignore",
    "extend-select": "extend-select",
    "exclude": "exclude",
    "extend-exclude": "extend-exclude",
    "per-file-ignores": "per-file-ignores",
}
COMMAND_LINE = "the command line"
TABLE = "[tool.flake8-cancel]"


class Source(NamedTuple):
    """One source's values, read and checked: option key -> value (codes resolved)."""

    name: str  # the file (with its section), or "the command line"
    root: str  # the folder its patterns are relative to
    values: Mapping[str, Any]

    def get(self, key: str) -> Any:
        return self.values.get(key)

    @property
    def is_table(self) -> bool:
        return self.name.endswith(TABLE)


def _checked(option: Option, raw: Any) -> Any:
    value = option.kind.parse(raw)
    if option.kind is CODES:
        return resolve_codes(value)
    if option.kind is CODES_BY_PATTERN:
        return tuple((pattern, resolve_codes(codes)) for pattern, codes in value)
    return value


def table_source(table: Any, pyproject: str) -> Source:
    """``[tool.flake8-cancel]`` of ``pyproject``, checked key by key."""
    where = f"{pyproject}: [tool.flake8-cancel]"
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where} must be a table, got {table!r}")
    values: Dict[str, Any] = {}
    for key, raw in table.items():
        option = OPTIONS_BY_KEY.get(key)
        try:
            if option is None:
                raise ValueError(f"unknown key (known: {', '.join(OPTIONS_BY_KEY)})")
            values[key] = _checked(option, raw)
        except ValueError as problem:
            raise ConfigurationError(f"{where} {key}: {problem}") from None
    return Source(f"{pyproject} {TABLE}", os.path.dirname(pyproject), values)


def flake8_section_source(section: Mapping[str, str], path: str) -> Source:
    """The ``[flake8]`` section of flake8's configuration file ``path``: our ``cancel-*`` keys
    (an unknown one is an error: flake8 would ignore it without a word), and flake8's own keys
    as far as they name our codes."""
    values: Dict[str, Any] = {}
    known = {option.flake8_key: option for option in SETTINGS_OPTIONS}
    for raw_key, text in section.items():
        key = raw_key.replace("_", "-")
        try:
            if key in known:
                option = known[key]
                value = _checked(option, text)
                if option.kind.repeatable:
                    value = tuple(dict.fromkeys((*values.get(option.key, ()), *value)))
                values[option.key] = value
            elif key.startswith("cancel-"):
                raise ValueError(f"unknown option (known: {', '.join(known)})")
            elif key in FLAKE8_OWN_KEYS:
                ours = FLAKE8_OWN_KEYS[key]
                # ignore and extend-ignore both feed ignore, in either order
                values[ours] = values.get(ours, ()) + _flake8_own(OPTIONS_BY_KEY[ours], text)
        except ValueError as problem:
            raise ConfigurationError(f"{path}: [flake8] {raw_key}: {problem}") from None
    return Source(f"{path} [flake8]", os.path.dirname(os.path.abspath(path)), values)


def flake8_codes(prefixes: Iterable[str]) -> Tuple[str, ...]:
    """The prefixes of flake8's own select or ignore that concern our codes (E501 does not)."""
    return resolve_codes(prefix for prefix in prefixes if is_ours(prefix))


def _flake8_own(option: Option, text: str) -> Any:
    """A value of flake8's own option, as far as it concerns our codes."""
    value = option.kind.parse(text)
    if option.kind is CODES:
        return flake8_codes(value)
    if option.kind is CODES_BY_PATTERN:
        pairs = ((pattern, tuple(c for c in codes if is_ours(c))) for pattern, codes in value)
        return tuple((pattern, resolve_codes(codes)) for pattern, codes in pairs if codes)
    return value


def command_line_source(values: Mapping[str, Any]) -> Source:
    """The flags given, already parsed by their kinds (the codes are resolved here)."""
    checked: Dict[str, Any] = {}
    for key, value in values.items():
        option = OPTIONS_BY_KEY[key]
        try:
            if option.kind is CODES:
                value = resolve_codes(value)
            elif option.kind is CODES_BY_PATTERN:
                value = tuple((pattern, resolve_codes(codes)) for pattern, codes in value)
        except ValueError as problem:
            raise ConfigurationError(f"{option.flag}: {problem}") from None
        checked[key] = value
    return Source(COMMAND_LINE, os.getcwd(), checked)


Patterns = Tuple[Tuple[str, str], ...]  # (the folder a pattern is relative to, the pattern)


class RunConfig(NamedTuple):
    """Everything that decides how the files under one configuration are checked."""

    settings: Settings
    codes: Tuple[str, ...]  # the enabled rules
    root: str  # the folder of the pyproject.toml in force, else the current folder
    exclude: Patterns = ()
    per_file_ignores: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = ()  # (folder, pattern, codes)
    reports_unchecked: bool = True  # CAN001, unless an ignore names it
    # Where each key's value came from ("key", "source"), for --show-settings.
    origins: Tuple[Tuple[str, str], ...] = ()

    def excludes(self, path: str) -> bool:
        """flake8's rule: a pattern matches the file's name, or its path from the pattern's
        folder (a folder's pattern also matches what is in it)."""
        return _excluder(self.exclude)(path)

    def ignored_codes(self, path: str) -> Tuple[str, ...]:
        return tuple(
            code
            for folder, pattern, codes in self.per_file_ignores
            if _excluder(((folder, pattern),))(path)
            for code in codes
        )

    def reports_unchecked_in(self, path: str) -> bool:
        """Is a file that could not be checked reported (CAN001) for ``path``?"""
        return self.reports_unchecked and not Selection(
            ignore=self.ignored_codes(path)
        ).drops_unchecked()

    def is_inside(self, path: str) -> bool:
        """Is ``path`` below the root (where its exclusions apply to folders above a file)?"""
        relative = os.path.relpath(os.path.abspath(path), self.root)
        return relative != "." and not relative.startswith("..")


@lru_cache(maxsize=256)
def _excluder(patterns: Patterns) -> Callable[[str], bool]:
    """Does one of ``patterns`` match a path (``RunConfig.excludes``)? The walk asks this of
    every file and folder, so the patterns of each folder are compiled into one expression for
    names and one for relative paths (``fnmatch``'s own translation: ``*`` crosses ``/``)."""
    by_folder: Dict[str, List[str]] = {}
    for folder, pattern in patterns:
        by_folder.setdefault(os.path.abspath(folder), []).append(pattern)
    compiled = [
        (
            folder,
            re.compile("|".join(fnmatch.translate(os.path.normcase(p)) for p in found)),
            re.compile("|".join(
                fnmatch.translate(os.path.normcase(written))
                for p in found
                for written in (p, p.rstrip("/") + "/*")
            )),
        )
        for folder, found in by_folder.items()
    ]

    def matches(path: str) -> bool:
        absolute = os.path.abspath(path)
        name = os.path.normcase(os.path.basename(absolute))
        for folder, names, relatives in compiled:
            if names.match(name):
                return True
            if absolute.startswith(folder + os.sep):
                relative = absolute[len(folder) + 1:]
            else:
                relative = os.path.relpath(absolute, folder)
            if relatives.match(os.path.normcase(relative).replace(os.sep, "/")):
                return True
        return False

    return matches


def build_config(
    files: Sequence[Source], command_line: Source, walking: bool = True
) -> RunConfig:
    """The configuration from flake8's file and ``[tool.flake8-cancel]`` (``files``, lowest
    precedence first, either may be missing) and the command line. ``walking``: the command
    line's default list of skipped folders applies (flake8 chooses its files itself)."""
    table = next((source for source in files if source.is_table), None)
    origins: Dict[str, str] = {}  # key -> where its value comes from

    settings: Dict[str, Any] = {}
    for option in SETTINGS_OPTIONS:
        if option.kind.repeatable:  # the name lists add up
            found = [s for s in (*files, command_line) if s.get(option.key)]
            value = tuple(dict.fromkeys(name for s in found for name in s.get(option.key)))
            if found:
                origins[option.key] = " + ".join(s.name for s in found)
        else:  # the command line, else the table, else flake8's file
            source = next((s for s in (command_line, *reversed(files)) if s.get(option.key)
                           is not None), None)
            value = source.get(option.key) if source is not None else None
            if source is not None:
                origins[option.key] = source.name
        settings[option.settings_field] = option.default if value is None else value

    with_flags = [
        Source(source.name, source.root, {**source.values, **{
            key: command_line.get(key) for key in command_line.values
            if not OPTIONS_BY_KEY[key].settings_field
        }})
        for source in files
    ] or [command_line]
    selections = [
        Selection(source.get("select"), source.get("ignore") or (),
                  source.get("extend-select") or ())
        for source in with_flags
    ]

    def folder(key: str, source: Source) -> str:  # a flag's patterns are from the current folder
        return command_line.root if key in command_line.values else source.root

    exclude: List[Tuple[str, str]] = []
    replaced = any(s.get("exclude") is not None for s in (command_line, table) if s is not None)
    if walking and not replaced:
        exclude += [(command_line.root, pattern) for pattern in DEFAULT_EXCLUDE]
    per_file: List[Tuple[str, str, Tuple[str, ...]]] = []
    for source in with_flags:
        for key in ("exclude", "extend-exclude"):
            exclude += [(folder(key, source), pattern) for pattern in source.get(key) or ()]
        per_file += [(folder("per-file-ignores", source), pattern, codes)
                     for pattern, codes in source.get("per-file-ignores") or ()]
    for key in ("select", "ignore", "extend-select", "exclude", "extend-exclude",
                "per-file-ignores"):
        named = [s.name for s in with_flags if s.get(key) is not None]
        if named:
            origins[key] = COMMAND_LINE if key in command_line.values else " + ".join(named)

    return RunConfig(
        settings=Settings(**settings),
        codes=tuple(rule.code for rule in enabled_rules(selections)),
        root=table.root if table is not None else command_line.root,
        exclude=tuple(dict.fromkeys(exclude)),
        per_file_ignores=tuple(dict.fromkeys(per_file)),
        reports_unchecked=not any(selection.drops_unchecked() for selection in selections),
        origins=tuple(sorted(origins.items())),
    )


def show_settings(config: RunConfig, files: Sequence[str]) -> str:
    """``--show-settings``: each option's value in force, and where it came from."""
    values: Dict[str, Any] = {
        option.key: getattr(config.settings, option.settings_field)
        for option in SETTINGS_OPTIONS
    }
    values["enabled rules"] = config.codes
    values["exclude"] = tuple(f"{pattern} (from {folder})" for folder, pattern in config.exclude)
    values["per-file-ignores"] = tuple(
        f"{pattern}: {', '.join(codes)} (from {folder})"
        for folder, pattern, codes in config.per_file_ignores
    )
    origins = dict(config.origins)
    lines = ["configuration files: " + (", ".join(files) or "none")]
    for key, value in values.items():
        if isinstance(value, tuple) and (not value or isinstance(value[0], str)):
            shown = ", ".join(value) or "none"
        else:
            shown = "default (from the project)" if value is None else ".".join(map(str, value))
        origin = origins.get(key) or origins.get(key.split(" ")[0])
        lines.append(f"{key}: {shown}" + (f"  [{origin}]" if origin else ""))
    return "\n".join(lines)
