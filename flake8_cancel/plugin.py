"""The flake8 entry point (``CAN``): adapts flake8's inputs to the engine, nothing more.

It never writes files and never raises: a file that libcst cannot parse, or that is too deeply
nested, is skipped silently (flake8 reports real syntax errors itself, as E999).
"""

from __future__ import annotations

import argparse
import ast
import logging
import sys
from typing import Any, ClassVar, Iterator, Sequence, Tuple, Type

from flake8_cancel import __version__
from flake8_cancel.engine import Engine
from flake8_cancel.options import SETTINGS_OPTIONS, Option
from flake8_cancel.rules import all_rules
from flake8_cancel.settings import ConfigurationError, Settings
from flake8_cancel.source import UncheckableFile

LOG = logging.getLogger(__name__)


def _dest(option: Option) -> str:
    return option.flake8_flag[2:].replace("-", "_")


class Plugin:
    name = "flake8-cancel"
    version = __version__
    engine: ClassVar[Engine] = Engine()

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
                option.flake8_flag,
                dest=_dest(option),
                parse_from_config=True,
                type=option.kind.argument_type,
                default=option.default,
                metavar=option.kind.metavar,
                help=f"{option.help} (default: {option.shown_default})",
            )
        off_by_default = [rule.code for rule in all_rules() if not rule.default_enabled]
        if off_by_default:
            manager.extend_default_ignore(off_by_default)

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        settings = Settings(
            **{option.settings_field: getattr(options, _dest(option))
               for option in SETTINGS_OPTIONS}
        )
        # flake8 drops extend_default_ignore once a user sets `ignore`, and lets any explicit
        # `select` (even just `CAN`) beat it: an opt-in rule runs only when named in full.
        named = {*(options.select or ()), *(getattr(options, "extend_select", None) or ())}
        rules = [rule for rule in all_rules() if rule.default_enabled or rule.code in named]
        cls.engine = Engine(settings, rules)

    def run(self) -> Iterator[Tuple[int, int, str, Type["Plugin"]]]:
        try:
            findings = self.engine.check(
                "".join(self.lines), path=self.filename, python_tree=self.tree
            )
        except UncheckableFile as problem:
            LOG.info("flake8-cancel: %s: %s", self.filename, problem)
            return
        except ConfigurationError as problem:
            # A project setting we cannot use must not silently turn the linter off.
            sys.stderr.write(f"flake8-cancel: {self.filename} not checked: {problem}\n")
            return
        except Exception as error:  # never show flake8 users a traceback of ours: one line
            sys.stderr.write(
                f"flake8-cancel: {self.filename} not checked: internal error: "
                f"{type(error).__name__}: {error}\n"
            )
            LOG.debug("flake8-cancel: internal error on %s", self.filename, exc_info=True)
            return
        for finding in findings:
            yield finding.line, finding.column, finding.text, type(self)
