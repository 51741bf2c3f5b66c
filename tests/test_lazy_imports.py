"""libcst is loaded only when a file needs it (flake8_cancel/lazy.py).

Each check runs in a fresh interpreter: what a module imports is the point, and this process
has long loaded libcst.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

LOADED = "'libcst._nodes' in sys.modules"


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    "module", ["flake8_cancel.plugin", "flake8_cancel.cli"]
)
def test_importing_a_front_end_loads_no_libcst(module):
    assert run(f"import sys, {module}; print({LOADED})") == "False"


def test_checking_files_that_need_no_parse_loads_no_libcst():
    assert run(f"""
        import ast, sys
        from flake8_cancel.engine import Engine
        from flake8_cancel.fixer import fix_bytes
        engine = Engine()
        sync = "def f():\\n    return 1\\n"
        # async code, but no handler, suppress() or finally a rule could judge
        plain = "import asyncio\\n\\n\\nasync def f(q):\\n    await q.get()\\n"
        for source in (sync, plain):
            assert engine.check(source) == []
            assert engine.check(source, python_tree=ast.parse(source)) == []
            assert fix_bytes(source.encode(), engine).data == source.encode()
        print({LOADED})
    """) == "False"


def test_libcst_loads_when_a_file_needs_it_and_is_the_real_module():
    assert run(f"""
        import sys, types
        from flake8_cancel.engine import Engine
        source = (
            "import asyncio\\n\\n\\nasync def f(q):\\n    try:\\n        await q.get()\\n"
            "    except asyncio.CancelledError:\\n        pass\\n"
        )
        codes = [finding.code for finding in Engine().check(source)]
        import libcst, libcst.metadata
        print(codes, {LOADED}, type(libcst) is types.ModuleType)
    """) == "['CAN101'] True True"


def test_a_submodule_import_loads_libcst_first():
    assert run("""
        import flake8_cancel
        from libcst.metadata import PositionProvider
        import libcst
        print(libcst.parse_module("x = 1\\n").code.strip())
    """) == "x = 1"
