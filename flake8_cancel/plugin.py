"""The flake8 entry point (``CAN``): adapts flake8's inputs to the engine, nothing more.

It reads the same configuration as the command line (config.py, discovery.py): flake8's own
options and ``--cancel-*`` options, and ``[tool.flake8-cancel]`` of the nearest pyproject.toml
that has one. It never writes files, and it is never silent:

- a configuration that cannot be used stops flake8 (exit 2) with one line naming the file, the
  key and what is allowed; one found only for some files (a nested pyproject.toml) makes each
  of those files a CAN001 finding;
- a file it could not check is a finding ``CAN001 file not checked: REASON`` at 1:1 (as flake8
  reports its own E902), which fails the run. A file that Python cannot parse is flake8's E999
  alone.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from typing import Any, ClassVar, Dict, Iterator, Optional, Sequence, Tuple, Type

from flake8_cancel import __version__
from flake8_cancel.config import RunConfig, Source, command_line_source, flake8_codes
from flake8_cancel.discovery import Discovery, find_flake8_file, flake8_source
from flake8_cancel.engine import Engine
from flake8_cancel.options import OPTIONS_BY_KEY, SETTINGS_OPTIONS, Option
from flake8_cancel.rules import rule_for
from flake8_cancel.selection import UNCHECKED_CODE, UNCHECKED_MESSAGE
from flake8_cancel.settings import ConfigurationError
from flake8_cancel.source import UncheckableFile

Result = Tuple[int, int, str, Type["Plugin"]]


def _dest(option: Option) -> str:
    return option.flake8_key.replace("-", "_")


class Plugin:
    name = "flake8-cancel"
    version = __version__
    discovery: ClassVar[Optional[Discovery]] = None
    engines: ClassVar[Dict[RunConfig, Engine]] = {}

    def __init__(self, tree: ast.AST, lines: Sequence[str], filename: str) -> None:
        self.tree = tree
        self.lines = lines
        self.filename = filename

    @staticmethod
    def add_options(manager: Any) -> None:
        # flake8 runs a value from its configuration files through `type` too, so a value is
        # read and checked the same way on its command line and in its configuration.
        for option in SETTINGS_OPTIONS:
            manager.add_option(
                f"--{option.flake8_key}",
                dest=_dest(option),
                parse_from_config=True,
                type=option.kind.argument_type,
                default=None,
                metavar=option.kind.metavar,
                help=f"{option.help} (default: {option.shown_default})",
            )

    @classmethod
    def parse_options(cls, manager: Any, options: argparse.Namespace, args: Any = None) -> None:
        try:
            cls.discovery = _discovery(options)
            cls.discovery.folder_config(os.getcwd())  # the project's own: an error stops flake8
        except ConfigurationError as error:
            sys.stderr.write(f"flake8-cancel: error: {error}\n")
            raise SystemExit(2) from None
        cls.engines = {}

    @classmethod
    def engine_for(cls, config: RunConfig) -> Engine:
        if config not in cls.engines:
            cls.engines[config] = Engine(config.settings, [rule_for(c) for c in config.codes])
        return cls.engines[config]

    def run(self) -> Iterator[Result]:
        discovery = self.discovery or _discovery(None)
        config: Optional[RunConfig] = None
        try:
            config = discovery.file_config(self.filename)
            if config is None:  # excluded by [tool.flake8-cancel]
                return
            ignored = config.ignored_codes(self.filename)
            findings = self.engine_for(config).check(
                "".join(self.lines), path=self.filename, python_tree=self.tree
            )
        except (UncheckableFile, ConfigurationError) as problem:
            yield from self._unchecked(config, str(problem))
            return
        except Exception as error:  # never show flake8 users a traceback of ours: one finding
            yield from self._unchecked(config, f"internal error: {type(error).__name__}: {error}")
            return
        for finding in findings:
            if not (ignored and finding.code.startswith(ignored)):
                yield finding.line, finding.column, finding.text, type(self)

    def _unchecked(self, config: Optional[RunConfig], reason: str) -> Iterator[Result]:
        if config is None or config.reports_unchecked_in(self.filename):
            yield 1, 0, f"{UNCHECKED_CODE} {UNCHECKED_MESSAGE}: {reason}", type(self)


def _discovery(options: Optional[argparse.Namespace]) -> Discovery:
    """The configuration as the command line reads it, from flake8's options: flake8's file
    (the one flake8 read), and what flake8's command line set besides it."""
    return Discovery(*_sources(options), walking=False)


def _sources(options: Optional[argparse.Namespace]) -> Tuple[Source, Optional[Source]]:
    if options is None:  # run without flake8's option parsing (tests, other runners)
        return command_line_source({}), None
    from flake8.options.config import load_config

    parser, _ = load_config(options.config, list(options.append_config or ()),
                            isolated=bool(options.isolated))
    name = options.config or find_flake8_file(os.getcwd()) or "flake8's configuration"
    file_source = flake8_source(parser, name)
    in_file = file_source.values if file_source is not None else {}
    given: Dict[str, Any] = {}
    for option in SETTINGS_OPTIONS:
        value = getattr(options, _dest(option), None)
        if value is None:
            continue
        value = tuple(value) if isinstance(value, list) else value
        if value != in_file.get(option.key):  # flake8's command line gave it
            given[option.key] = value
    # flake8 applies its own selection, exclude and per-file-ignores (from its file and its
    # command line) to every plugin's codes; the plugin takes the same selection, so that an
    # opt-in rule named there runs.
    values = {key: value for key, value in in_file.items() if OPTIONS_BY_KEY[key].settings_field}
    values.update(_flake8_selection(options))
    file_source = Source(name + " [flake8]", os.getcwd(), values)
    return command_line_source(given), file_source


def _flake8_selection(options: argparse.Namespace) -> Dict[str, Any]:
    """flake8's select, ignore (with extend-ignore) and extend-select in force, as far as they
    name our codes."""
    given = {
        "select": options.select,
        "ignore": [*(options.ignore or ()), *(getattr(options, "extend_ignore", None) or ())],
        "extend-select": getattr(options, "extend_select", None) or (),
    }
    found: Dict[str, Any] = {}
    for key, prefixes in given.items():
        if prefixes is None:
            continue
        try:
            found[key] = flake8_codes(prefixes)
        except ValueError as problem:  # CAN999: a typo, in flake8's file or command line
            raise ConfigurationError(f"flake8's {key}: {problem}") from None
    return found
