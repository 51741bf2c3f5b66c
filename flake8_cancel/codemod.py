"""flake8-cancel's fixes as a libcst codemod command:

    python -m libcst.tool codemod --no-format -x flake8_cancel.codemod.FixCancellation PATH

It applies the same fixes as ``flake8-cancel --fix`` (the safe ones; ``--unsafe-fixes`` adds the
others), through the same engine and fix loop, with the same configuration (``[tool.flake8-cancel]``
of the nearest ``pyproject.toml``: the rules, excluded files, per-file ignores, target version and
name lists), and honours ``# noqa``.
"""

from __future__ import annotations

import argparse
import os
from functools import lru_cache

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile

from flake8_cancel.config import RunConfig, config_for
from flake8_cancel.engine import Engine
from flake8_cancel.fixer import fix_bytes
from flake8_cancel.rules import rule_for
from flake8_cancel.settings import ConfigurationError
from flake8_cancel.source import UncheckableFile


@lru_cache(maxsize=None)
def _engine(config: RunConfig) -> Engine:
    """One engine per configuration, as the command line builds: libcst makes a command per file."""
    return Engine(config.settings, [rule_for(code) for code in config.codes])


class FixCancellation(CodemodCommand):
    DESCRIPTION = "Let asyncio cancellation propagate: apply flake8-cancel's fixes."

    def __init__(self, context: CodemodContext, unsafe_fixes: bool = False) -> None:
        super().__init__(context)
        self.unsafe_fixes = unsafe_fixes

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument(
            "--unsafe-fixes",
            action="store_true",
            help="also apply fixes that may change behaviour beyond letting cancellation propagate",
        )

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        path = self.context.filename  # None for a module transformed without a file
        original = tree.bytes
        try:
            config = config_for(path or os.getcwd(), {})
            if path is not None and config.excludes(path):
                raise SkipFile("excluded by [tool.flake8-cancel] exclude")
            ignored = config.ignored_codes(path) if path is not None else ()
            result = fix_bytes(original, _engine(config), path, self.unsafe_fixes, ignore=ignored)
        except (UncheckableFile, ConfigurationError) as problem:
            raise SkipFile(str(problem)) from None
        if result.problem is not None:
            raise SkipFile(result.problem)
        if result.data == original:
            return tree
        return cst.parse_module(result.data)
