"""Which configuration applies to each file, and which files a walk finds: as ruff does it.

- The configuration of a folder is ``[tool.flake8-cancel]`` of the nearest ``pyproject.toml``
  at or above it that has that table (a ``pyproject.toml`` without one does not hide the one
  above: monorepos), combined with flake8's configuration file (config.py).
- Folders are read from the top down: a folder that the configuration above it excludes is
  never entered, so nothing in it is read (not even a broken ``pyproject.toml``). Above the
  project's root (the folder of the ``pyproject.toml`` in force, else the current folder) no
  folder is excluded: a checkout inside a folder named ``build`` is still checked.
- A file named on the command line is excluded like a file found in a folder (pre-commit names
  the files it passes).
- flake8's configuration file is found as flake8 finds it: the first ``setup.cfg``, ``tox.ini``
  or ``.flake8`` with a ``[flake8]`` section, from the current folder up (not the home folder).
"""

from __future__ import annotations

import configparser
import os
import stat
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from flake8_cancel.config import (
    RunConfig,
    Source,
    build_config,
    flake8_section_source,
    table_source,
)
from flake8_cancel.settings import ConfigurationError, read_pyproject

FLAKE8_FILES = ("setup.cfg", "tox.ini", ".flake8")

Problems = List[Tuple[str, str]]  # (path, reason) of what could not be read


def find_flake8_file(start: str) -> Optional[str]:
    """The file flake8 would read its configuration from, run in ``start`` (flake8's search)."""
    home = os.path.expanduser("~")
    path = os.path.abspath(start)
    while True:
        for name in FLAKE8_FILES:
            candidate = os.path.join(path, name)
            parser = configparser.RawConfigParser()
            try:
                parser.read(candidate, encoding="UTF-8")
            except (UnicodeDecodeError, configparser.Error):
                continue  # flake8 ignores it too (with a warning in its log)
            if "flake8" in parser or "flake8:local-plugins" in parser:
                return candidate
        parent = os.path.dirname(path)
        if parent == path or _same(parent, home):
            return None
        path = parent


def _same(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def flake8_source(parser: configparser.RawConfigParser, name: str) -> Optional[Source]:
    """Our part of flake8's ``[flake8]`` section, checked (None without one)."""
    if "flake8" not in parser:
        return None
    return flake8_section_source(dict(parser["flake8"]), name)


def read_flake8_file(path: Optional[str]) -> Optional[Source]:
    if path is None:
        return None
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="UTF-8")
    except (UnicodeDecodeError, configparser.Error) as error:
        raise ConfigurationError(f"{path}: cannot read: {error}") from None
    return flake8_source(parser, path)


def pyproject_table(directory: str) -> Optional[Source]:
    """``[tool.flake8-cancel]`` of ``directory``'s pyproject.toml, checked; None without one."""
    candidate = os.path.join(directory, "pyproject.toml")
    if not os.path.isfile(candidate):
        return None
    data = read_pyproject(candidate)
    tool = data.get("tool")
    if not isinstance(tool, dict) or "flake8-cancel" not in tool:
        return None
    return table_source(tool["flake8-cancel"], candidate)


class Discovery:
    """The configuration of each folder and file, for one run (each folder is read once)."""

    def __init__(
        self,
        command_line: Source,
        flake8: Optional[Source],
        walking: bool = True,
        isolated: bool = False,
    ) -> None:
        """``isolated``: no ``[tool.flake8-cancel]`` table is read (and the caller passes no
        flake8 file): the command line and the defaults alone, as ruff's ``--isolated``."""
        self.command_line = command_line
        self.flake8 = flake8
        self.walking = walking
        self.isolated = isolated
        self._folders: Dict[str, Optional[RunConfig]] = {}
        self._built: Dict[Optional[str], RunConfig] = {}  # by the table's name
        self.tables: Dict[str, Source] = {}  # the tables read, by folder

    def _config(self, table: Optional[Source]) -> RunConfig:
        key = table.name if table is not None else None
        if key not in self._built:
            files = [source for source in (self.flake8, table) if source is not None]
            self._built[key] = build_config(files, self.command_line, self.walking)
        return self._built[key]

    def folder_config(self, folder: str) -> Optional[RunConfig]:
        """The configuration in force in ``folder``; None when it (or a folder above it, below
        the root) is excluded. Raises ConfigurationError for a table that cannot be used."""
        folder = os.path.abspath(folder)
        if folder in self._folders:
            return self._folders[folder]
        parent = os.path.dirname(folder)
        above: Optional[RunConfig] = None
        if parent != folder:
            above = self.folder_config(parent)
            if above is None or (above.is_inside(folder) and above.excludes(folder)):
                self._folders[folder] = None
                return None
        table = None if self.isolated else pyproject_table(folder)
        if table is not None:
            self.tables[folder] = table
            config: RunConfig = self._config(table)
        else:
            config = above if above is not None else self._config(None)
        self._folders[folder] = config
        return config

    def file_config(self, path: str) -> Optional[RunConfig]:
        """The configuration of the file ``path``; None when it is excluded."""
        config = self.folder_config(os.path.dirname(os.path.abspath(path)))
        return None if config is None or config.excludes(path) else config

    def table_for(self, path: str) -> Optional[Source]:
        """The table in force for ``path`` (after ``file_config``/``folder_config``)."""
        folder = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path))
        while True:
            if folder in self.tables:
                return self.tables[folder]
            parent = os.path.dirname(folder)
            if parent == folder:
                return None
            folder = parent

    def files(self, paths: Iterable[str], problems: Problems) -> Iterator[Tuple[str, RunConfig]]:
        """Python files under the given paths, each with its configuration. A path given
        explicitly is checked whatever its name and kind (``<(...)`` in a shell is a pipe),
        unless excluded."""
        for path in paths:
            try:
                is_directory = stat.S_ISDIR(os.stat(path).st_mode)
            except FileNotFoundError:
                problems.append((path, "no such file or directory"))
                continue
            except OSError as error:  # a symlink loop, a folder we may not enter
                problems.append((path, f"cannot read: {error.strerror or error}"))
                continue
            if not is_directory:
                config = self.file_config(path)
                if config is not None:
                    yield path, config
            elif self.folder_config(path) is not None:
                yield from self._walk(path, problems)

    def _walk(self, top: str, problems: Problems) -> Iterator[Tuple[str, RunConfig]]:
        def unreadable(error: OSError) -> None:  # os.walk would skip the folder without a word
            problems.append((error.filename or top, f"cannot read: {error.strerror or error}"))

        # Symlinked folders are not followed, so a symlink loop cannot make the walk endless.
        for directory, subdirectories, files in os.walk(top, onerror=unreadable):
            config = self.folder_config(directory)
            if config is None:  # the top itself, or a folder its parent's walk left out
                subdirectories[:] = []
                continue
            subdirectories[:] = sorted(
                name
                for name in subdirectories
                if not config.excludes(os.path.join(directory, name))
                and not os.path.exists(os.path.join(directory, name, "pyvenv.cfg"))
            )
            for name in sorted(files):
                if not (name.endswith(".py") or name.endswith(".pyi")):
                    continue
                path = os.path.join(directory, name)
                if config.excludes(path):
                    continue
                if _is_special_file(path):  # reading a FIFO would wait for a writer forever
                    problems.append((path, "cannot read: not a regular file"))
                else:
                    yield path, config


def _is_special_file(path: str) -> bool:
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # a dangling symlink: reading it says why
        return False
