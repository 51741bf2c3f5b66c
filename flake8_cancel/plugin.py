"""The flake8 entry point (``CAN``): adapts flake8's inputs to the engine, nothing more.

It never writes files and never raises: a file that libcst cannot parse, or that is too deeply
nested, is skipped silently (flake8 reports real syntax errors itself, as E999).
"""

from __future__ import annotations

import argparse
import ast
import logging
import sys
from typing import Any, ClassVar, Iterator, List, Sequence, Tuple, Type

from flake8_cancel import __version__
from flake8_cancel.engine import Engine
from flake8_cancel.rules import all_rules
from flake8_cancel.settings import ConfigurationError, Settings, parse_name_list, parse_target_version
from flake8_cancel.source import UncheckableFile

LOG = logging.getLogger(__name__)


def _target_version(text: str) -> Tuple[int, int]:
    try:
        return parse_target_version(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--cancel-target-version: {error}") from None


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
        manager.add_option(
            "--cancel-target-version",
            parse_from_config=True,
            type=_target_version,
            default=None,
            help="Python version the checked code runs on, e.g. 3.10 (default: the project's "
            "requires-python, else 3.11)",
        )
        for option, help_text in (
            ("--cancel-cancelled-names", "extra exceptions that mean cancellation, e.g. trio.Cancelled"),
            ("--cancel-never-returning", "extra functions that never return, e.g. mypkg.fail"),
            ("--cancel-suppressors", "extra context managers that suppress exceptions"),
            ("--cancel-timeout-managers", "extra context managers that set a deadline"),
            ("--cancel-cleanup-methods", "extra methods that release a resource (CAN111)"),
        ):
            manager.add_option(
                option,
                parse_from_config=True,
                comma_separated_list=True,
                default=[],
                help=help_text,
            )
        off_by_default = [rule.code for rule in all_rules() if not rule.default_enabled]
        if off_by_default:
            manager.extend_default_ignore(off_by_default)

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        def names(option: str, values: List[str]) -> Tuple[str, ...]:
            try:
                return parse_name_list(values)
            except ValueError as error:
                raise SystemExit(f"flake8-cancel: {option}: {error}") from None

        settings = Settings(
            target_version=options.cancel_target_version,
            extra_cancelled_names=names("--cancel-cancelled-names", options.cancel_cancelled_names),
            extra_never_returning=names("--cancel-never-returning", options.cancel_never_returning),
            extra_suppressors=names("--cancel-suppressors", options.cancel_suppressors),
            extra_timeout_managers=names(
                "--cancel-timeout-managers", options.cancel_timeout_managers
            ),
            extra_cleanup_methods=names("--cancel-cleanup-methods", options.cancel_cleanup_methods),
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
