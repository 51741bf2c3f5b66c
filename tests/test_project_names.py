"""Names imported from another module of the same project (flake8_cancel/modules.py).

An exception tuple, an alias of a cancellation or timeout class, or a function that never returns,
defined in ``const.py`` and imported elsewhere (relative or absolute) means there what its
definition means, exactly as if it were defined in the importing module. Each test writes a small
package in ``tmp_path``, marks the lines that must be reported with ``# error: CANNNN`` as the
fixtures do, and lints one module of it through the engine (and, at the end, through the command
line and flake8). Traps sit next to their still-reported twins.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from flake8_cancel import modules
from flake8_cancel.engine import Engine
from flake8_cancel.modules import MAX_BYTES, MAX_HOPS, imported_definitions_text, project_of
from flake8_cancel.names import Definition, Element
from flake8_cancel.rules import all_rules
from flake8_cancel.settings import Settings, module_package
from in_process import run_cli, run_flake8

ENGINE = Engine(Settings(target_version=(3, 11)), all_rules())
ANNOTATION = re.compile(r"#\s*error:\s*(CAN\d+)")

CONST = """\
import asyncio

CONNECT_ERRORS = (OSError, asyncio.TimeoutError, asyncio.CancelledError)
HARMLESS_ERRORS = (OSError, ValueError)
TIMEOUT_ERRORS = (OSError, TimeoutError)
Cancelled = asyncio.CancelledError
"""


def write(root: Path, files: Dict[str, str]) -> None:
    """The files (paths relative to ``root``), and an empty ``__init__.py`` in every folder of
    them that has none."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    for name in files:
        folder = (root / name).parent
        while folder != root:
            (folder / "__init__.py").touch(exist_ok=True)
            folder = folder.parent


def found(path: Path) -> Set[Tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return {(finding.line, finding.code) for finding in ENGINE.check(text, path=str(path))}


def expected(path: Path) -> Set[Tuple[int, str]]:
    return {
        (number, code)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for code in ANNOTATION.findall(line)
    }


def check(root: Path, files: Dict[str, str], linted: str = "myint/use.py") -> None:
    write(root, files)
    path = root / linted
    assert found(path) == expected(path)


@pytest.fixture
def read(monkeypatch) -> List[str]:
    """The paths of the project's modules parsed during the test, in order."""
    parsed: List[str] = []
    parse = modules._parse_file
    monkeypatch.setattr(modules, "_parse_file", lambda path: parsed.append(path) or parse(path))
    return parsed


# -- what is followed ----------------------------------------------------------------------------


def test_a_tuple_imported_relatively_or_absolutely_is_what_it_is_in_its_module(tmp_path):
    check(tmp_path, {
        "myint/const.py": CONST,
        "myint/use.py": """\
            from . import const
            from .const import CONNECT_ERRORS
            from myint.const import CONNECT_ERRORS as ABSOLUTE
            import myint.const


            async def relative(client):
                try:
                    await client.connect()
                except CONNECT_ERRORS:  # error: CAN101
                    return None


            async def absolute(client):
                try:
                    await client.connect()
                except ABSOLUTE:  # error: CAN101
                    return None


            async def module_attribute(client):
                try:
                    await client.connect()
                except (ValueError, const.CONNECT_ERRORS):  # error: CAN101
                    return None


            async def dotted(client):
                try:
                    await client.connect()
                except myint.const.CONNECT_ERRORS:  # error: CAN101
                    return None


            async def imported_in_the_function(client):
                from .const import CONNECT_ERRORS as LOCAL
                try:
                    await client.connect()
                except LOCAL:  # error: CAN101
                    return None
            """,
    })


def test_a_suppress_of_an_imported_tuple_is_reported(tmp_path):
    check(tmp_path, {
        "myint/const.py": CONST,
        "myint/use.py": """\
            from contextlib import suppress

            from .const import CONNECT_ERRORS, HARMLESS_ERRORS


            async def spread(client):
                with suppress(*CONNECT_ERRORS):  # error: CAN107
                    await client.connect()


            async def harmless(client):
                with suppress(*HARMLESS_ERRORS):
                    await client.connect()
            """,
    })


def test_an_imported_alias_of_the_cancellation_class_is_that_class(tmp_path):
    check(tmp_path, {
        "myint/const.py": CONST,
        "myint/compat.py": """\
            try:
                from asyncio import CancelledError
            except ImportError:
                from concurrent.futures import CancelledError
            """,
        "myint/use.py": """\
            from .compat import CancelledError
            from .const import Cancelled


            async def alias(client):
                try:
                    await client.connect()
                except Cancelled:  # error: CAN101
                    pass


            async def re_exported(client):
                try:
                    await client.connect()
                except CancelledError:  # error: CAN101
                    pass
            """,
    })


def test_an_element_means_what_the_defining_module_imports_not_the_importing_one(tmp_path):
    check(tmp_path, {
        "myint/asyncio_errors.py": """\
            from asyncio import CancelledError
            ERRORS = (OSError, CancelledError)
            """,
        "myint/futures_errors.py": """\
            from concurrent.futures import CancelledError
            ERRORS = (OSError, CancelledError)
            """,
        "myint/use.py": """\
            from asyncio import CancelledError
            from concurrent.futures import CancelledError as FuturesCancelledError

            from . import asyncio_errors, futures_errors


            async def asyncio_s(client):
                # This module's CancelledError is the futures' one, the tuple's is asyncio's.
                FuturesCancelledError
                try:
                    await client.connect()
                except asyncio_errors.ERRORS:  # error: CAN101
                    return None


            async def futures(client):
                CancelledError
                try:
                    await client.connect()
                except futures_errors.ERRORS:  # error: CAN109
                    return None
            """,
    })


def test_a_timeout_tuple_imported_into_a_timed_scope_is_reported(tmp_path):
    check(tmp_path, {
        "myint/const.py": CONST,
        "myint/use.py": """\
            import asyncio

            from .const import TIMEOUT_ERRORS


            async def timed(client):
                async with asyncio.timeout(1):
                    try:
                        await client.connect()
                    except TIMEOUT_ERRORS:  # error: CAN201
                        return None
            """,
    })
    # The clause names other exceptions too: catching the cancellation instead is no fix.
    done = run_cli("--diff", "--unsafe-fixes", "myint/use.py", cwd=tmp_path)
    assert done.stdout == ""


def test_re_exports_are_followed_through_star_imports_and_import_chains(tmp_path):
    check(tmp_path, {
        "myint/const.py": CONST,
        "myint/errors/__init__.py": "from ..const import *\n",
        "myint/again.py": "from .errors import CONNECT_ERRORS\nALSO = CONNECT_ERRORS\n",
        "myint/use.py": """\
            from .again import ALSO, CONNECT_ERRORS
            from .errors import *


            async def chain(client):
                try:
                    await client.connect()
                except CONNECT_ERRORS:  # error: CAN101
                    return None


            async def alias_of_the_tuple(client):
                try:
                    await client.connect()
                except ALSO:  # error: CAN101
                    return None


            async def star(client):
                try:
                    await client.connect()
                except Cancelled:  # error: CAN101
                    pass
            """,
    })


def test_a_chain_of_re_exports_longer_than_the_limit_is_not_followed(tmp_path):
    files = {"myint/m0.py": CONST}
    for index in range(1, MAX_HOPS + 3):
        files[f"myint/m{index}.py"] = f"from .m{index - 1} import CONNECT_ERRORS\n"
    files["myint/use.py"] = f"""\
        from .m3 import CONNECT_ERRORS as NEAR
        from .m{MAX_HOPS + 2} import CONNECT_ERRORS as FAR


        async def near(client):
            try:
                await client.connect()
            except NEAR:  # error: CAN101
                return None


        async def far(client):
            try:
                await client.connect()
            except FAR:
                return None
        """
    check(tmp_path, files)


# -- functions that never return ------------------------------------------------------------------


def test_an_imported_function_that_never_returns_ends_the_handler(tmp_path):
    check(tmp_path, {
        "myint/helpers.py": """\
            import typing
            from typing import NoReturn


            def fail(message) -> NoReturn:
                raise RuntimeError(message)


            def fail_qualified(message) -> typing.NoReturn:
                raise RuntimeError(message)


            def fail_quoted(message) -> "NoReturn":
                raise RuntimeError(message)


            def raises_on_every_path(message):
                if message:
                    raise RuntimeError(message)
                else:
                    try:
                        log(message)
                    finally:
                        raise ValueError(message)


            def raises_sometimes(message):
                if message:
                    raise RuntimeError(message)


            def returns_first(message):
                if message:
                    return message
                raise RuntimeError(message)
            """,
        "myint/reexport.py": "from .helpers import fail as stop\n",
        "myint/use.py": """\
            import asyncio

            from . import helpers
            from .helpers import fail, fail_qualified, fail_quoted, raises_on_every_path
            from .helpers import raises_sometimes, returns_first
            from .reexport import stop


            async def annotated(client):
                try:
                    await client.connect()
                except asyncio.CancelledError:
                    fail("cancelled")


            async def others(client, which):
                try:
                    await client.connect()
                except asyncio.CancelledError:
                    if which == 1:
                        fail_qualified("cancelled")
                    elif which == 2:
                        await fail_quoted("cancelled")
                    elif which == 3:
                        helpers.raises_on_every_path("cancelled")
                    else:
                        stop("cancelled")


            async def may_return(client):
                try:
                    await client.connect()
                except asyncio.CancelledError:  # error: CAN101
                    raises_sometimes("cancelled")


            async def returns(client):
                try:
                    await client.connect()
                except asyncio.CancelledError:  # error: CAN101
                    returns_first("cancelled")
            """,
    })


# -- traps, each beside its reported twin ----------------------------------------------------------


def test_a_same_named_tuple_of_another_package_is_not_followed(tmp_path):
    check(tmp_path, {
        "myint/const.py": CONST,
        "otherlib/const.py": CONST,
        "myint/use.py": """\
            from otherlib.const import CONNECT_ERRORS as THEIRS
            from .const import CONNECT_ERRORS as OURS


            async def theirs(client):
                try:
                    await client.connect()
                except THEIRS:
                    return None


            async def ours(client):
                try:
                    await client.connect()
                except OURS:  # error: CAN101
                    return None
            """,
    })


def test_only_modules_of_the_project_are_read(tmp_path, read):
    check(tmp_path, {
        "myint/const.py": CONST,
        "otherlib/const.py": CONST,
        "myint/use.py": """\
            import asyncio
            from otherlib.const import CONNECT_ERRORS as THEIRS
            from .const import CONNECT_ERRORS


            async def both(client):
                try:
                    await asyncio.sleep(1)
                except (THEIRS, asyncio.TimeoutError):
                    return None
                except CONNECT_ERRORS:  # error: CAN101
                    return None
            """,
    })
    assert read and all(Path(path).parts[-2] == "myint" for path in read), read


def test_a_local_rebinding_shadows_the_import(tmp_path):
    check(tmp_path, {
        "myint/const.py": CONST,
        "myint/rebound.py": """\
            from .const import CONNECT_ERRORS
            CONNECT_ERRORS = (OSError,)
            """,
        "myint/use.py": """\
            from .const import CONNECT_ERRORS
            from .rebound import CONNECT_ERRORS as REBOUND_THERE


            async def rebound_here(client):
                CONNECT_ERRORS = (OSError, ValueError)
                try:
                    await client.connect()
                except CONNECT_ERRORS:
                    return None


            async def rebound_there(client):
                try:
                    await client.connect()
                except REBOUND_THERE:
                    return None


            async def imported(client):
                try:
                    await client.connect()
                except CONNECT_ERRORS:  # error: CAN101
                    return None
            """,
    })


def test_a_module_level_rebinding_after_the_import_shadows_it(tmp_path):
    check(tmp_path, {
        "myint/const.py": CONST,
        "myint/use.py": """\
            from .const import CONNECT_ERRORS, Cancelled
            CONNECT_ERRORS = (OSError,)


            async def rebound(client):
                try:
                    await client.connect()
                except CONNECT_ERRORS:
                    return None


            async def kept(client):
                try:
                    await client.connect()
                except Cancelled:  # error: CAN101
                    pass
            """,
    })


HOSTILE_MODULES: Dict[str, bytes] = {
    "syntax_error": b"ERRORS = (OSError, asyncio.CancelledError\nimport asyncio\n",
    "latin1": b"import asyncio\nNAME = '\xff'\nERRORS = (OSError, asyncio.CancelledError)\n",
    "nul_byte": b"import asyncio\nERRORS = (OSError, asyncio.CancelledError)\n\x00\n",
    "huge": b"import asyncio\nERRORS = (OSError, asyncio.CancelledError)\n"
    + b"# padding\n" * (MAX_BYTES // 10 + 1),
    "nested": b"import asyncio\nERRORS = (OSError, asyncio.CancelledError)\nX = "
    + b"(" * 5000 + b"1" + b")" * 5000 + b"\n",
    "long_chain": b"import asyncio\nERRORS = (OSError, asyncio.CancelledError)\nX = a"
    + b".b" * 20000 + b"\n",
}


@pytest.mark.parametrize("broken", [*HOSTILE_MODULES, "missing", "folder", "circular"])
def test_a_module_that_cannot_be_read_gives_no_crash_and_no_finding(tmp_path, broken):
    write(tmp_path, {"myint/const.py": CONST})
    if broken in HOSTILE_MODULES:
        (tmp_path / "myint" / f"{broken}.py").write_bytes(HOSTILE_MODULES[broken])
    elif broken == "folder":
        (tmp_path / "myint" / "folder.py").mkdir()
    elif broken == "circular":
        write(tmp_path, {
            "myint/circular.py": "from .loop import ERRORS\n",
            "myint/loop.py": "from .circular import ERRORS\n",
        })
    check(tmp_path, {
        "myint/use.py": f"""\
            from .{broken} import ERRORS
            from .const import CONNECT_ERRORS


            async def unreadable(client):
                try:
                    await client.connect()
                except ERRORS:
                    return None


            async def readable(client):
                try:
                    await client.connect()
                except CONNECT_ERRORS:  # error: CAN101
                    return None
            """,
    })


def test_a_module_outside_a_package_follows_nothing(tmp_path):
    (tmp_path / "const.py").write_text(CONST)
    (tmp_path / "use.py").write_text(
        "from const import CONNECT_ERRORS\n\n\nasync def f(client):\n    try:\n"
        "        await client.connect()\n    except CONNECT_ERRORS:\n        return None\n"
    )
    assert found(tmp_path / "use.py") == set()


def test_a_text_without_a_path_follows_nothing(tmp_path):
    write(tmp_path, {"myint/const.py": CONST})
    text = (
        "from .const import CONNECT_ERRORS\n\n\nasync def f(client):\n    try:\n"
        "        await client.connect()\n    except CONNECT_ERRORS:\n        return None\n"
    )
    assert ENGINE.check(text) == []
    assert [f.code for f in ENGINE.check(text, path=str(tmp_path / "myint" / "use.py"))] == [
        "CAN101"
    ]


# -- exactly as if defined here --------------------------------------------------------------------

HANDLERS = [
    "except ERRORS:\n        return None",
    "except ERRORS:\n        raise",
    "except ERRORS as error:\n        if isinstance(error, OSError):\n            return None\n"
    "        raise",
    "except (KeyError, ERRORS):\n        log()",
    "except ERRORS:\n        raise RuntimeError('lost')",
    "except BaseException as error:\n        if isinstance(error, ERRORS):\n"
    "            return None\n"
    "        raise",
]
DEFINITIONS = [
    "(OSError, asyncio.CancelledError)",
    "(OSError, asyncio.TimeoutError)",
    "(ValueError, (KeyError, asyncio.CancelledError))",
    "(OSError, *BASE)",
    "asyncio.CancelledError",
    "anyio.get_cancelled_exc_class()",
]


@pytest.mark.parametrize("definition", DEFINITIONS)
@pytest.mark.parametrize("handler", HANDLERS)
def test_an_imported_definition_gives_the_findings_and_fixes_of_a_local_one(
    tmp_path, definition, handler
):
    header = "import asyncio\nimport anyio\nBASE = (asyncio.CancelledError,)\n"
    body = (
        "\n\nasync def f(client):\n    try:\n        await client.connect()\n    "
        f"{handler}\n"
    )
    write(tmp_path, {"myint/const.py": f"{header}ERRORS = {definition}\n"})
    local = tmp_path / "myint" / "local.py"
    imported = tmp_path / "myint" / "imported.py"
    local.write_text(f"{header}ERRORS = {definition}\n{body}")
    imported.write_text(f"{header}from .const import ERRORS\n{body}")
    assert found(imported) == found(local)
    # The same findings fixed, the same left; a fix may spell the class differently (a local
    # alias of it is reused, an imported one is not looked into).
    summaries = [
        run_cli("--diff", "--unsafe-fixes", path.name, cwd=path.parent).stderr
        for path in (local, imported)
    ]
    assert summaries[0] == summaries[1]


# -- read once, and only what is asked -------------------------------------------------------------


def test_each_module_is_read_once_per_process(tmp_path, read):
    use = """\
        from .const import CONNECT_ERRORS


        async def f(client):
            try:
                await client.connect()
            except CONNECT_ERRORS:  # error: CAN101
                return None
        """
    check(tmp_path, {"myint/const.py": CONST, "myint/one.py": use}, linted="myint/one.py")
    check(tmp_path, {"myint/two.py": use}, linted="myint/two.py")
    check(tmp_path, {}, linted="myint/one.py")
    assert read.count(str(tmp_path / "myint" / "const.py")) == 1


def test_a_module_is_read_only_for_a_name_that_is_asked_about(tmp_path, read):
    check(tmp_path, {
        "myint/const.py": CONST,
        "myint/unrelated.py": "VALUE = 1\n",
        "myint/use.py": """\
            import asyncio

            from .unrelated import VALUE


            async def f(client):
                try:
                    await client.connect(VALUE)
                except asyncio.CancelledError:  # error: CAN101
                    pass
            """,
    })
    assert read == []


EXCEPTIONS = """\
class IntegrationError(Exception):
    pass


class NotReady(IntegrationError):
    \"\"\"Raised as NotReady(...) by IntegrationError's users.\"\"\"
"""


def test_a_module_is_parsed_only_when_its_text_may_bind_the_name_to_more_than_a_class(
    tmp_path, read
):
    use = """\
        import asyncio

        from .errors import NotReady
        from .const import CONNECT_ERRORS


        async def f(client):
            try:
                await client.connect()
            except NotReady:
                pass
            except CONNECT_ERRORS:  # error: CAN101
                return None
        """
    check(tmp_path, {"myint/const.py": CONST, "myint/errors.py": EXCEPTIONS, "myint/use.py": use})
    assert read == [str(tmp_path / "myint" / "const.py")]


@pytest.mark.parametrize("text, name, binds", [
    (EXCEPTIONS, "NotReady", False),
    (EXCEPTIONS, "Missing", False),
    (CONST, "CONNECT_ERRORS", True),
    ("if sys.version_info >= (3, 11): Cancelled = asyncio.CancelledError\n", "Cancelled", True),
    ("x = 1; Cancelled = asyncio.CancelledError\n", "Cancelled", True),
    ("ERRORS: tuple = (OSError,)\n", "ERRORS", True),
    ("from .x import (\n    A,  # the first (of two)\n    ERRORS,\n)\n", "ERRORS", True),
    ("from .x import A, \\\n    ERRORS\n", "ERRORS", True),
    ("import pkg.errors as ERRORS\n", "ERRORS", True),
    ("from .x import \\\n    *\n", "ANYTHING", True),
    ("def fail(message) -> NoReturn:\n    raise RuntimeError(message)\n", "fail", True),
    ("from ERRORS import x\nraise ERRORS()\nERRORS == 1\n", "ERRORS", False),
])
def test_what_a_module_text_may_bind(text, name, binds):
    assert modules.BindingText(text).may_bind(name) is binds


def test_a_text_never_says_no_where_the_module_binds_the_name(tmp_path):
    """Every name that any module of this project, its tests or fixtures defines at its top
    level, as TopLevel reads it, is one its text may bind."""
    root = Path(__file__).resolve().parent.parent
    project = project_of(str(tmp_path / "myint" / "use.py"), "myint")
    assert project is not None
    checked = 0
    for path in sorted([*root.glob("flake8_cancel/**/*.py"), *root.glob("tests/*.py"),
                        *root.glob("fixtures/*.py")]):
        text = modules.BindingText(path.read_text(encoding="utf-8"))
        tree = modules._parse_file(str(path))
        if tree is None:
            continue
        top_level = modules.TopLevel(tree, "myint.module", "myint", project)
        for name in sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
                           | {node.name for node in ast.walk(tree)
                              if isinstance(node, (ast.FunctionDef, ast.ClassDef))}):
            if top_level.definition(name) is not None:
                checked += 1
                assert text.may_bind(name), (path, name)
    assert checked > 500


# -- the gate --------------------------------------------------------------------------------------


def test_the_gate_sees_what_the_imported_names_stand_for(tmp_path):
    write(tmp_path, {"myint/const.py": CONST, "myint/use.py": ""})
    path = str(tmp_path / "myint" / "use.py")
    source = (
        "from .const import CONNECT_ERRORS, HARMLESS_ERRORS as H, Cancelled\nimport os\n"
        "try:\n    pass\nexcept (CONNECT_ERRORS,  # a comment (with parentheses)\n    H):\n"
        "    pass\nexcept Cancelled:\n    pass\nexcept os.error:\n    pass\n"
    )
    assert imported_definitions_text(source, path) == (
        "CONNECT_ERRORS = (builtins.OSError, asyncio.TimeoutError, asyncio.CancelledError,)\n"
        "Cancelled = (asyncio.CancelledError,)\n"
        "H = (builtins.OSError, builtins.ValueError,)\n"
    )
    assert imported_definitions_text(source, None) == ""
    assert imported_definitions_text("import asyncio\nexcept OSError:\n", path) == ""


# -- the pieces: modules.Project ------------------------------------------------------------------


def test_a_definition_is_read_from_the_module_file_or_the_package_init(tmp_path):
    write(tmp_path, {
        "myint/const.py": CONST,
        "myint/sub/__init__.py": "from ..const import CONNECT_ERRORS as E\nimport asyncio as aio\n",
    })
    project = project_of(str(tmp_path / "myint" / "use.py"), "myint")
    assert project is not None
    assert project.definition("myint.const.Cancelled") == Definition(
        meanings=frozenset({"asyncio.CancelledError"})
    )
    elements = project.definition("myint.sub.E")
    assert elements is not None and elements.elements == (
        Element("OSError", frozenset({"builtins.OSError"})),
        Element("asyncio.TimeoutError", frozenset({"asyncio.TimeoutError"})),
        Element("asyncio.CancelledError", frozenset({"asyncio.CancelledError"})),
    )
    assert project.definition("myint.sub.aio") == Definition(meanings=frozenset({"asyncio"}))
    assert project.definition("myint.const.OSError") is None  # a builtin's name, not defined
    assert project.definition("myint.const.MISSING") is None
    assert project.definition("myint.nothing.E") is None


def test_the_project_is_found_from_the_importing_files_package(tmp_path):
    write(tmp_path, {"myint/sub/deep/use.py": ""})
    path = str(tmp_path / "myint" / "sub" / "deep" / "use.py")
    assert module_package(path) == "myint.sub.deep"
    project = project_of(path, module_package(path))
    assert project is not None and (project.root, project.top) == (str(tmp_path), "myint")
    assert project_of(path, None) is None
    assert project_of(None, "myint") is None


# -- the front ends --------------------------------------------------------------------------------

FRONT_END_FILES = {
    "myint/const.py": CONST,
    "myint/use.py": """\
        from contextlib import suppress

        from .const import CONNECT_ERRORS


        async def caught(client):
            try:
                await client.connect()
            except CONNECT_ERRORS:  # error: CAN101
                return None


        async def suppressed(client):
            with suppress(*CONNECT_ERRORS):  # error: CAN107
                await client.connect()
        """,
}
PRINTED = re.compile(r"^(?:\./)?(?P<path>.+?):(?P<line>\d+):\d+: (?P<code>CAN\d+) ", re.M)


def printed(output: str) -> Set[Tuple[str, int, str]]:
    return {(m["path"], int(m["line"]), m["code"]) for m in PRINTED.finditer(output)}


def test_the_command_line_and_flake8_follow_imported_names(tmp_path):
    write(tmp_path, FRONT_END_FILES)
    wanted = {("myint/use.py", line, code) for line, code in expected(tmp_path / "myint/use.py")}
    assert printed(run_cli("myint", cwd=tmp_path).stdout) == wanted
    assert printed(run_flake8("--select=CAN", "myint", cwd=tmp_path).stdout) == wanted
    text = (tmp_path / "myint" / "use.py").read_bytes()
    from_stdin = run_cli("--stdin-filename", "myint/use.py", "-", cwd=tmp_path, stdin=text)
    assert printed(from_stdin.stdout) == wanted
    assert printed(run_cli("-", cwd=tmp_path, stdin=text).stdout) == set()


@pytest.mark.slow
def test_processes_running_files_in_parallel_follow_imported_names(tmp_path):
    files = dict(FRONT_END_FILES)
    for index in range(12):
        files[f"myint/use{index}.py"] = FRONT_END_FILES["myint/use.py"]
    write(tmp_path, files)
    wanted = {
        (name, line, code)
        for name in files
        if "use" in name
        for line, code in expected(tmp_path / name)
    }
    for command in (
        [sys.executable, "-m", "flake8_cancel", "--jobs=2", "myint"],
        [sys.executable, "-m", "flake8", "--select=CAN", "--jobs=2", "myint"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
        # The command line's closing summary ("Found N findings.") is its only stderr.
        errors = [line for line in done.stderr.splitlines() if not line.startswith("Found ")]
        assert (printed(done.stdout), errors) == (wanted, []), command
