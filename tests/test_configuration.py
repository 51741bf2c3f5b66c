"""One configuration for every front end, found as ruff finds its own.

flake8 (with the plugin), the command line and the codemod, on the same project configured
each way (``[tool.flake8-cancel]``, or flake8's ``setup.cfg``, ``tox.ini`` or ``.flake8``),
report and fix the same things; configuration files are discovered per folder, excluded folders
are never read, and a configuration that cannot be used stops every front end with a message
naming the file, the key and what is allowed. In process (in_process.py); the codemod through
its command class, as libcst's runner calls it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Set, Tuple

import libcst as cst
import pytest
from libcst.codemod import CodemodContext, SkipFile

from flake8_cancel import codemod
from in_process import run_cli, run_flake8

SWALLOW = (
    "import asyncio\n\n\nasync def f():\n    try:\n        await asyncio.sleep(1)\n"
    "    except asyncio.CancelledError:\n        pass\n"
)
BARE = "\n\nasync def g(c):\n    try:\n        await c.x()\n    except:\n        pass\n"
BASE = "\n\nasync def h(c):\n    try:\n        await c.x()\n    except BaseException:\n        pass\n"
# CAN111 only when `dispose` is a cleanup method.
DISPOSE = (
    "\n\nasync def use(resource):\n    try:\n        await resource.run()\n"
    "    except Exception:\n        resource.dispose()\n        raise\n"
)
# CAN110, the opt-in rule, only when selected.
CHILD = (
    "\n\nasync def stop(worker):\n    worker.cancel()\n    try:\n        await worker\n"
    "    except asyncio.CancelledError:\n        pass\n"
)
FILES = {
    "src/app.py": SWALLOW + BARE + DISPOSE + CHILD,
    "tests/test_app.py": SWALLOW + BASE,
    "generated/gen.py": SWALLOW,
}
PYPROJECT = """\
[tool.flake8-cancel]
extend-select = ["child-cancel-swallows-own"]
ignore = ["CAN103"]
exclude = ["generated"]
per-file-ignores = { "tests/*" = ["CAN101"] }
cleanup-methods = ["dispose"]
"""
FLAKE8_SECTION = """\
[flake8]
extend-select = CAN110
extend-ignore = CAN103, E501
extend-exclude = generated
per-file-ignores =
    tests/*:CAN101,E402
cancel-cleanup-methods = dispose
"""
CONFIGURATIONS = {
    "pyproject.toml": PYPROJECT,
    "setup.cfg": "[metadata]\nname = demo\n\n" + FLAKE8_SECTION,
    "tox.ini": "[tox]\nenvlist = py\n\n" + FLAKE8_SECTION,
    ".flake8": FLAKE8_SECTION,
}
# What every front end must find, whichever way the project is configured.
EXPECTED = {
    ("src/app.py", 7, "CAN101"),
    ("src/app.py", 21, "CAN111"),
    ("src/app.py", 30, "CAN110"),
    ("tests/test_app.py", 14, "CAN104"),
}
Found = Set[Tuple[str, int, str]]
LINE = re.compile(r"^(?:\./)?(?P<path>[^:]+):(?P<line>\d+):\d+: (?P<code>CAN\d+) ", re.M)


def make(folder: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def found(stdout: str) -> Found:
    return {(m.group("path"), int(m.group("line")), m.group("code")) for m in LINE.finditer(stdout)}


def codemodded(project: Path, monkeypatch) -> Dict[str, str]:
    """Each Python file after the codemod, run in ``project`` as libcst's runner runs it."""
    monkeypatch.chdir(project)
    codemod._discovery.cache_clear()
    result = {}
    for name in FILES:
        path = project / name
        command = codemod.FixCancellation(CodemodContext(filename=str(path)))
        try:
            result[name] = command.transform_module(cst.parse_module(path.read_bytes())).code
        except SkipFile:
            result[name] = path.read_text()
    codemod._discovery.cache_clear()
    return result


@pytest.mark.parametrize("configured", CONFIGURATIONS)
def test_flake8_the_command_line_and_the_codemod_agree(tmp_path, monkeypatch, configured):
    project = make(tmp_path / "project", {**FILES, configured: CONFIGURATIONS[configured]})
    by_flake8 = run_flake8("--select=CAN", ".", cwd=project)
    assert found(by_flake8.stdout) == EXPECTED, by_flake8.stdout + by_flake8.stderr
    by_cli = run_cli(cwd=project)
    assert found(by_cli.stdout) == EXPECTED, by_cli.stdout + by_cli.stderr
    assert by_flake8.returncode == by_cli.returncode == 1

    fixed = make(tmp_path / "fixed", {**FILES, configured: CONFIGURATIONS[configured]})
    assert run_cli("--fix", "--unsafe-fixes", cwd=fixed).returncode == 1
    by_fix = {name: (fixed / name).read_text() for name in FILES}
    assert by_fix["src/app.py"] != FILES["src/app.py"]
    assert by_fix["tests/test_app.py"].startswith(SWALLOW)  # its CAN101 is ignored there
    assert by_fix["generated/gen.py"] == SWALLOW  # excluded
    codemod_project = make(tmp_path / "codemod", {**FILES, configured: CONFIGURATIONS[configured]})
    monkeypatch.setattr(codemod.FixCancellation, "__init__", _unsafe_init)
    assert codemodded(codemod_project, monkeypatch) == by_fix


_plain_init = codemod.FixCancellation.__init__


def _unsafe_init(self, context, unsafe_fixes=False, **options):
    _plain_init(self, context, True, **options)


def test_the_same_value_in_both_files_reads_the_same(tmp_path):
    project = make(tmp_path, {**FILES, "pyproject.toml": PYPROJECT, "setup.cfg": FLAKE8_SECTION})
    assert found(run_cli(cwd=project).stdout) == EXPECTED
    assert found(run_flake8("--select=CAN", ".", cwd=project).stdout) == EXPECTED


def test_both_files_filter_and_the_table_beats_flake8s_file_for_a_value(tmp_path):
    timeout = (
        "import asyncio\n\n\nasync def f(reader):\n    try:\n"
        "        return await asyncio.wait_for(reader.read(), 5)\n"
        "    except TimeoutError:\n        return b''\n"
    )
    project = make(tmp_path, {
        "m.py": timeout + BARE + BASE,
        "setup.cfg": "[flake8]\nextend-ignore = CAN104\ncancel-target-version = 3.11\n",
        "pyproject.toml": '[tool.flake8-cancel]\nignore = ["CAN103"]\ntarget-version = "3.10"\n',
    })
    # CAN103 off by the table, CAN104 by flake8's file; CAN202 on: the table's 3.10 wins.
    expected = {("m.py", 7, "CAN202")}
    assert found(run_cli(cwd=project).stdout) == expected
    assert found(run_flake8("--select=CAN", ".", cwd=project).stdout) == expected
    # The command line beats both: flake8's own option, or the flag.
    assert found(run_cli("--target-version=3.12", cwd=project).stdout) == set()
    assert found(run_flake8("--select=CAN", "--cancel-target-version=3.12", ".",
                            cwd=project).stdout) == set()


# -- discovery ------------------------------------------------------------------------------------
def test_a_pyproject_without_the_table_does_not_hide_the_one_above(tmp_path):
    project = make(tmp_path, {
        "pyproject.toml": '[tool.flake8-cancel]\nignore = ["CAN101"]\n',
        "pkg/pyproject.toml": '[project]\nname = "pkg"\n',
        "pkg/m.py": SWALLOW + BARE,
    })
    assert found(run_cli(cwd=project).stdout) == {("pkg/m.py", 14, "CAN103")}
    assert found(run_flake8("--select=CAN", ".", cwd=project).stdout) == {("pkg/m.py", 14, "CAN103")}


def test_the_nearest_table_wins_whole(tmp_path):
    project = make(tmp_path, {
        "pyproject.toml": '[tool.flake8-cancel]\nignore = ["CAN101"]\n',
        "pkg/pyproject.toml": '[tool.flake8-cancel]\nselect = ["CAN101"]\n',
        "pkg/m.py": SWALLOW + BARE,
        "top.py": SWALLOW + BARE,
    })
    expected = {("pkg/m.py", 7, "CAN101"), ("top.py", 14, "CAN103")}
    assert found(run_cli(cwd=project).stdout) == expected
    assert found(run_flake8("--select=CAN", ".", cwd=project).stdout) == expected


def test_an_excluded_folder_is_never_read(tmp_path):
    project = make(tmp_path, {
        "pyproject.toml": '[tool.flake8-cancel]\nextend-exclude = ["vendor"]\n',
        "vendor/pyproject.toml": "this is [not toml\n",
        "vendor/lib.py": SWALLOW,
        "m.py": SWALLOW,
    })
    done = run_cli(cwd=project)
    assert (done.returncode, found(done.stdout)) == (1, {("m.py", 7, "CAN101")})
    assert "vendor" not in done.stderr
    # A folder that is not excluded is read, and its broken pyproject.toml stops the run.
    (project / "pyproject.toml").write_text("[tool.flake8-cancel]\n")
    done = run_cli(cwd=project)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"flake8-cancel: error: {project / 'vendor' / 'pyproject.toml'}: "
                                  "cannot read: ")


def test_the_default_excludes_can_be_replaced_or_extended(tmp_path):
    project = make(tmp_path, {"build/gen.py": SWALLOW, "out/gen.py": SWALLOW, "m.py": SWALLOW})
    assert {path for path, _, _ in found(run_cli(cwd=project).stdout)} == {"m.py", "out/gen.py"}
    assert {path for path, _, _ in found(run_cli("--extend-exclude=out", cwd=project).stdout)} == {
        "m.py"
    }
    (project / "pyproject.toml").write_text('[tool.flake8-cancel]\nexclude = ["out"]\n')
    assert {path for path, _, _ in found(run_cli(cwd=project).stdout)} == {"m.py", "build/gen.py"}


def test_stdin_filename_alone_reads_standard_input(tmp_path):
    done = run_cli("--stdin-filename", "src/app.py", cwd=tmp_path, stdin=SWALLOW.encode())
    assert found(done.stdout) == {("src/app.py", 7, "CAN101")}
    mixed = run_cli("--stdin-filename", "src/app.py", "other.py", cwd=tmp_path)
    assert mixed.returncode == 2 and "cannot be combined with paths" in mixed.stderr


# -- a configuration that cannot be used ----------------------------------------------------------
@pytest.mark.parametrize(
    "table, says",
    [
        ("target-version = 3.10\n", "target-version: 3.1 is not a string; expected a version "
                                    'such as "3.10" (TOML reads 3.10 unquoted as the number 3.1: '
                                    "quote it)"),
        ('target-version = "3.1"\n', 'target-version: \'3.1\' is not a target version such as '
                                     '"3.10": use "3.8" to "3.15"'),
        ('cleanup-methods = ["dispose()"]\n', "cleanup-methods: 'dispose()' is not a method name "
                                              "such as 'dispose'"),
        ('selekt = ["CAN101"]\n', "selekt: unknown key (known: select, "),
        ('select = ["cancelled-error-swallow"]\n', "select: 'cancelled-error-swallow' is no rule "
                                                   "name"),
    ],
)
def test_a_bad_table_stops_every_front_end_naming_file_key_and_what_is_allowed(tmp_path, table,
                                                                                 says):
    project = make(tmp_path, {"m.py": SWALLOW, "pyproject.toml": f"[tool.flake8-cancel]\n{table}"})
    message = f"flake8-cancel: error: {project / 'pyproject.toml'}: [tool.flake8-cancel] {says}"
    for done in (run_cli(cwd=project), run_flake8("m.py", cwd=project)):
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith(message), done.stderr
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_broken_nested_pyproject_makes_its_files_can001_under_flake8(tmp_path):
    project = make(tmp_path, {"m.py": SWALLOW, "pkg/pyproject.toml": "[oops\n", "pkg/n.py": SWALLOW})
    done = run_flake8("--select=CAN", ".", cwd=project)
    assert done.returncode == 1
    assert found(done.stdout) == {("m.py", 7, "CAN101"), ("pkg/n.py", 1, "CAN001")}
    assert "pkg/pyproject.toml: cannot read: " in done.stdout


@pytest.mark.parametrize("key", ["cancel-cancelled-namez = trio.Cancelled", "cancel-target-version = 3.1"])
def test_a_bad_cancel_key_in_flake8s_file_stops_both(tmp_path, key):
    project = make(tmp_path, {"m.py": SWALLOW, "setup.cfg": f"[flake8]\n{key}\n"})
    cli = run_cli(cwd=project)
    flake8 = run_flake8("m.py", cwd=project)
    assert cli.returncode == flake8.returncode == 2
    name = key.split(" =")[0]
    for done in (cli, flake8):
        assert name in done.stderr and "Traceback" not in done.stderr
        assert done.stdout == ""


def test_show_settings_says_where_each_value_comes_from(tmp_path):
    project = make(tmp_path, {**FILES, "pyproject.toml": PYPROJECT, "setup.cfg": FLAKE8_SECTION})
    done = run_cli("--show-settings", "src/app.py", cwd=project)
    assert done.returncode == 0
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert lines["configuration files"] == (
        f"{project / 'setup.cfg'} [flake8], {project / 'pyproject.toml'} [tool.flake8-cancel]"
    )
    assert lines["cleanup-methods"].startswith("dispose  [")
    assert "CAN110" in lines["enabled rules"] and "CAN103" not in lines["enabled rules"]
    assert os.path.basename(str(project)) in lines["exclude"]


def test_a_code_of_ours_that_does_not_exist_in_flake8s_selection_stops_it(tmp_path):
    project = make(tmp_path, {"m.py": SWALLOW})
    done = run_flake8("--select=E,CAN999", "m.py", cwd=project)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("flake8-cancel: error: flake8's select: 'CAN999' matches no "
                                  "flake8-cancel code (known: CAN001, CAN101")
    # Another tool's codes are its own business.
    assert run_flake8("--select=E501,CAN", "m.py", cwd=project).returncode == 1
