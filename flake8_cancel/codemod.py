"""flake8-cancel's fixes as a libcst codemod command:

    python -m libcst.tool codemod --no-format -x flake8_cancel.codemod.FixCancellation PATH

It applies the same fixes as ``flake8-cancel --fix`` (the safe ones; ``--unsafe-fixes`` adds the
others), through the same engine and fix loop, and honours ``# noqa``.
"""

from __future__ import annotations

import argparse

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile

from flake8_cancel.engine import Engine
from flake8_cancel.fixer import fix_bytes
from flake8_cancel.settings import ConfigurationError
from flake8_cancel.source import UncheckableFile


class FixCancellation(CodemodCommand):
    DESCRIPTION = "Let asyncio cancellation propagate: apply flake8-cancel's fixes."

    def __init__(self, context: CodemodContext, unsafe_fixes: bool = False) -> None:
        super().__init__(context)
        self.unsafe_fixes = unsafe_fixes
        self.engine = Engine()

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument(
            "--unsafe-fixes",
            action="store_true",
            help="also apply fixes that may change behaviour beyond letting cancellation propagate",
        )

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        original = tree.bytes
        try:
            result = fix_bytes(original, self.engine, self.context.filename, self.unsafe_fixes)
        except (UncheckableFile, ConfigurationError) as problem:
            raise SkipFile(str(problem)) from None
        if result.problem is not None:
            raise SkipFile(result.problem)
        if result.data == original:
            return tree
        return cst.parse_module(result.data)
