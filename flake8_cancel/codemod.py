"""flake8-cancel's fixes as a libcst codemod command:

    python -m libcst.tool codemod --no-format -x flake8_cancel.codemod.FixCancellation PATH

It applies the same fixes as ``flake8-cancel --fix`` (the safe ones; ``--unsafe-fixes`` adds the
others), through the same engine and fix loop, with the same configuration (config.py: flake8's
configuration file and ``[tool.flake8-cancel]`` of the nearest ``pyproject.toml`` that has one,
and the command line's flags, which it takes too), and honours ``# noqa``. A file it cannot
check is skipped with the reason (libcst prints it).
"""

from __future__ import annotations

import argparse
import os
from functools import lru_cache
from typing import Any, Tuple

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile

from flake8_cancel.config import RunConfig, command_line_source
from flake8_cancel.discovery import Discovery, find_flake8_file, read_flake8_file
from flake8_cancel.engine import Engine
from flake8_cancel.fixer import fix_bytes
from flake8_cancel.options import add_flags, flag_values
from flake8_cancel.rules import rule_for
from flake8_cancel.settings import ConfigurationError
from flake8_cancel.source import UncheckableFile


@lru_cache(maxsize=None)
def _engine(config: RunConfig) -> Engine:
    """One engine per configuration, as the command line builds: libcst makes a command per file."""
    return Engine(config.settings, [rule_for(code) for code in config.codes])


@lru_cache(maxsize=None)
def _discovery(folder: str, flags: Tuple[Tuple[str, Any], ...]) -> Discovery:
    """The configuration as the command line reads it, run in ``folder`` with these flags."""
    return Discovery(command_line_source(dict(flags)), read_flake8_file(find_flake8_file(folder)))


class FixCancellation(CodemodCommand):
    DESCRIPTION = "Let asyncio cancellation propagate: apply flake8-cancel's fixes."

    def __init__(
        self, context: CodemodContext, unsafe_fixes: bool = False, **options: Any
    ) -> None:
        super().__init__(context)
        self.unsafe_fixes = unsafe_fixes
        self.flags = tuple(flag_values(options).items())

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument(
            "--unsafe-fixes",
            action="store_true",
            help="also apply fixes that may change behaviour beyond letting cancellation propagate",
        )
        add_flags(arg_parser)  # the command line's own flags, with the same meaning

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        path = self.context.filename  # None for a module transformed without a file
        original = tree.bytes
        try:
            discovery = _discovery(os.getcwd(), self.flags)
            config = (discovery.file_config(path) if path is not None
                      else discovery.folder_config(os.getcwd()))
            if config is None:
                raise SkipFile("excluded by the configuration (exclude, extend-exclude)")
            ignored = config.ignored_codes(path) if path is not None else ()
            result = fix_bytes(original, _engine(config), path, self.unsafe_fixes, ignore=ignored)
        except (UncheckableFile, ConfigurationError) as problem:
            raise SkipFile(f"file not checked: {problem}") from None
        if result.problem is not None:
            raise SkipFile(f"file not checked: {result.problem}")
        if result.data == original:
            return tree
        return cst.parse_module(result.data)
