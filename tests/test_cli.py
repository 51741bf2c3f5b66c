"""The command line, driven as a user drives it: in process (in_process.py), and in a process of
its own where only a real process shows the behaviour (the console script, the process pool,
inputs that would crash the interpreter)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from in_process import run_cli

SWALLOW = (
    "import asyncio\n\n\nasync def f():\n    try:\n        await asyncio.sleep(1)\n"
    "    except asyncio.CancelledError:\n        pass\n"
)
BARE = "async def g(c):\n    try:\n        await c.x()\n    except:\n        pass\n"
CLEAN = "async def h(c):\n    await c.x()\n"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd)


def run_process(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_cancel", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "swallow.py").write_text(SWALLOW)
    (tmp_path / "pkg" / "bare.py").write_text(BARE)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    for skipped in (".git", ".tox", "build", "dist", "__pycache__", "node_modules", "env"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "hidden.py").write_text(SWALLOW)
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    return tmp_path


def test_default_is_the_current_directory_and_skips_tool_directories(project):
    done = run(cwd=project)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "./pkg/bare.py:4:5: CAN103 [*] bare 'except:' around an await swallows cancellation; "
        "re-raise CancelledError first",
        "./pkg/swallow.py:7:5: CAN101 [*] CancelledError is swallowed; re-raise it with bare "
        "'raise' after cleanup",
    ]


def test_clean_file_exits_zero(project):
    done = run("pkg/clean.py", cwd=project)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_select_ignore_and_extend_select_take_prefixes(project):
    assert "CAN103" not in run("--select=CAN101", "pkg", cwd=project).stdout
    assert "CAN101" in run("--select=CAN101", "pkg", cwd=project).stdout
    ignored = run("--ignore=CAN10", "pkg", cwd=project)
    assert (ignored.returncode, ignored.stdout) == (0, "")
    assert "CAN103" in run("--select=CAN101", "--extend-select=CAN103", "pkg", cwd=project).stdout


def test_unknown_code_is_a_usage_error(project):
    done = run("--select=XYZ1", "pkg", cwd=project)
    assert done.returncode == 2
    assert "XYZ1" in done.stderr


def test_missing_path_is_named_and_the_others_are_still_checked(project):
    done = run("pkg/swallow.py", "no/such/file.py", cwd=project)
    assert done.returncode == 2
    assert "CAN101" in done.stdout
    assert "no/such/file.py:1:1: CAN001 file not checked: no such file or directory" in done.stdout


def test_syntax_error_and_bad_encoding_name_the_file_and_reason(project):
    (project / "broken.py").write_text("async def f(:\n    try:\n        await x\n    except:\n        pass\n")
    (project / "latin.py").write_bytes(b"async def f():\n    x = '\xff'\n    await x\n")
    done = run("broken.py", "latin.py", "pkg/swallow.py", cwd=project)
    assert done.returncode == 2
    assert "broken.py:1:1: CAN001 file not checked: syntax error at line 1" in done.stdout
    assert "latin.py:1:1: CAN001 file not checked: cannot decode as UTF-8" in done.stdout
    assert "CAN101" in done.stdout
    assert "Traceback" not in done.stderr


def test_noqa_and_file_level_noqa(project):
    (project / "noqa.py").write_text(SWALLOW.replace("CancelledError:", "CancelledError:  # noqa"))
    (project / "filenoqa.py").write_text("# flake8: noqa\n" + SWALLOW)
    done = run("noqa.py", "filenoqa.py", cwd=project)
    assert (done.returncode, done.stdout) == (0, "")


@pytest.mark.slow
def test_parallel_and_serial_runs_agree(tmp_path):
    for index in range(40):
        (tmp_path / f"m{index:02}.py").write_text(SWALLOW if index % 3 else BARE)
    serial = run_process("--jobs=1", ".", cwd=tmp_path)
    parallel = run_process("--jobs=2", ".", cwd=tmp_path)
    assert serial.returncode == parallel.returncode == 1
    assert serial.stdout == parallel.stdout
    assert len(serial.stdout.splitlines()) == 40


def test_explain_prints_the_rule_doc(tmp_path):
    done = run("--explain", "can101", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("CAN101 (cancelled-error-swallowed)")
    assert "## Use instead" in done.stdout
    unknown = run("--explain", "CAN999", cwd=tmp_path)
    assert unknown.returncode == 2 and "'CAN999' is no rule code or name" in unknown.stderr
    by_name = run("--explain", "cancelled-error-swallowed", cwd=tmp_path)
    assert by_name.stdout == done.stdout


@pytest.mark.slow
def test_console_script_and_module_are_the_same_program(tmp_path):
    script = Path(sys.executable).with_name("flake8-cancel")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.strip() == run_process("--version", cwd=tmp_path).stdout.strip()
    assert done.stdout.strip() == run("--version", cwd=tmp_path).stdout.strip()


HANDLER = "async def f():\n    try:\n        await x\n    except:\n        pass\n"


BARE_MESSAGE = (
    "bare 'except:' around an await swallows cancellation; re-raise CancelledError first"
)


CRASHING_LIBCST = {
    "parens.py": HANDLER + "y = " + "(" * 5000 + "1" + ")" * 5000 + "\n",
    "unary.py": HANDLER + "y = " + "-" * 50000 + "1\n",
    "lambdas.py": HANDLER + "y = " + "lambda: " * 5000 + "1\n",
    "attributes.py": HANDLER + "y = a" + ".b" * 50000 + "\n",
}


@pytest.fixture(scope="module")
def run_on_input_that_crashes_libcst(tmp_path_factory) -> subprocess.CompletedProcess:
    # In a process of its own: were the screening to let one through, libcst's segfault would
    # end that process, not the test run.
    folder = tmp_path_factory.mktemp("crashing")
    for name, text in CRASHING_LIBCST.items():
        (folder / name).write_text(text)
    (folder / "ok.py").write_text(HANDLER)
    return run_process(*CRASHING_LIBCST, "ok.py", cwd=folder)


@pytest.mark.slow
@pytest.mark.parametrize("name", CRASHING_LIBCST)
def test_input_that_crashes_libcst_is_skipped_with_a_reason(run_on_input_that_crashes_libcst, name):
    # libcst's native parser segfaults on these; CPython's parser screens them out first.
    done = run_on_input_that_crashes_libcst
    assert done.returncode == 2
    assert f"{name}:1:1: CAN001 file not checked: skipped: too deeply nested\n" in done.stdout
    assert "ok.py:4:5: CAN103 " + BARE_MESSAGE + "\n" in done.stdout


def assert_skipped_as_too_deep(tmp_path: Path, name: str, text: str) -> None:
    """The CLI names the file and still checks a good one beside it."""
    (tmp_path / name).write_text(text)
    (tmp_path / "ok.py").write_text(HANDLER)
    done = run(name, "ok.py", cwd=tmp_path)
    assert done.returncode == 2
    assert f"{name}:1:1: CAN001 file not checked: skipped: too deeply nested" in done.stdout
    assert "ok.py:4:5: CAN103" in done.stdout


def test_nul_byte_is_named(tmp_path):
    (tmp_path / "nul.py").write_bytes(HANDLER.encode() + b"x = 1\0\n")
    done = run("nul.py", cwd=tmp_path)
    assert done.returncode == 2
    assert "nul.py:1:1: CAN001 file not checked: contains a NUL byte" in done.stdout


def test_timings_count_the_gate_and_libcst_in_lint_and_fix_modes(tmp_path):
    (tmp_path / "plain.py").write_text("def f():\n    return 1\n")
    (tmp_path / "bare.py").write_text(BARE)
    for mode in ((), ("--diff",)):
        done = run("--timings", *mode, ".", cwd=tmp_path)
        assert "files: 2 checked, 1 passed the gate, 1 parsed by libcst" in done.stderr


FORM_FEED = SWALLOW.replace("import asyncio\n", "import asyncio\n\x0c\n").replace(
    "    except asyncio.CancelledError:\n",
    "    except asyncio.CancelledError:  # noqa: CAN101\n",
)


def test_noqa_is_read_on_the_line_python_counts_after_a_form_feed(tmp_path):
    # str.splitlines() also ends a line at a form feed: it would look for the noqa one line up.
    (tmp_path / "feed.py").write_text(FORM_FEED)
    assert run("feed.py", cwd=tmp_path).stdout == ""
    assert run("--fix", "feed.py", cwd=tmp_path).returncode == 0
    assert (tmp_path / "feed.py").read_text() == FORM_FEED


def test_diff_keeps_a_form_feed_inside_its_line(tmp_path):
    (tmp_path / "feed.py").write_text(FORM_FEED.replace("  # noqa: CAN101", ""))
    done = run("--diff", "feed.py", cwd=tmp_path)
    assert done.returncode == 1
    # Line 6 is `try:` when the form feed's line counts once, as Python and patch count it.
    assert "@@ -6,4 +6,4 @@\n     try:\n" in done.stdout
    assert "-        pass\n+        raise\n" in done.stdout


@pytest.mark.parametrize(
    "name, text",
    [
        ("attribute_chain.py", HANDLER + "y = a" + ".b" * 1500 + "\n"),
        ("sum_chain.py", HANDLER + "y = 1" + " + 1" * 1500 + "\n"),
    ],
)
def test_chains_python_accepts_but_libcst_parses_in_quadratic_time_are_skipped(tmp_path, name, text):
    # Every Python parses these (3.9 and 3.10 even 50,000 long, which crashes libcst): the
    # tree's depth is measured before libcst sees the file, by the CLI and by the plugin.
    assert_skipped_as_too_deep(tmp_path, name, text)
    # flake8 itself stops at these (pyflakes' recursion), so the plugin is driven directly.
    from flake8_cancel.plugin import Plugin

    tree = ast.parse(text)
    assert [message for _, _, message, _ in Plugin(
        tree, text.splitlines(keepends=True), name).run()
    ] == ["CAN001 file not checked: skipped: too deeply nested"]


# -- what a ruff user reaches for -------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, warning",
    [
        (("--show-fixes",), "--show-fixes has no effect without --fix or --diff"),
        (("--exit-non-zero-on-fix",), "--exit-non-zero-on-fix has no effect without --fix"),
        (("--diff", "--format=sarif"), "--format=sarif has no effect with --diff"),
        (("--show-source", "--format=json"), "--show-source has no effect with --format=json"),
        (("--statistics", "--format=json"), "--format=json has no effect with --statistics"),
        (("--select=",), "no rule is enabled"),
    ],
)
def test_an_option_without_effect_is_a_warning(project, args, warning):
    done = run(*args, "pkg", cwd=project)
    assert f"flake8-cancel: warning: {warning}" in done.stderr


def test_a_run_that_checks_no_file_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    done = run(".", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == "flake8-cancel: warning: no Python file was checked in .\n"


def test_jobs_that_are_not_a_number_are_a_usage_error(project):
    done = run("-j", "abc", "pkg", cwd=project)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "flake8-cancel: error: argument --jobs/-j: 'abc' is not a number of jobs: use 1 or more"
    )


def test_rule_names_wherever_codes_are_accepted(project):
    by_name = run("--select=cancelled-error-swallowed,bare-except-swallows-cancellation",
                  "--ignore=bare-except-swallows-cancellation", "pkg", cwd=project)
    by_code = run("--select=CAN101,CAN103", "--ignore=CAN103", "pkg", cwd=project)
    assert by_name.stdout == by_code.stdout and "CAN101" in by_name.stdout
    ignored = run("--per-file-ignores=pkg/swallow.py:cancelled-error-swallowed", "pkg",
                  cwd=project)
    assert "swallow.py" not in ignored.stdout and "bare.py" in ignored.stdout
    unknown = run("--select=cancelled-error-swallow", "pkg", cwd=project)
    assert unknown.returncode == 2
    assert "'cancelled-error-swallow' is no rule name" in unknown.stderr


def test_show_fixes_lists_what_was_fixed_per_file_and_code(project):
    done = run("--fix", "--show-fixes", "pkg", cwd=project)
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        "Fixed 2 findings:",
        "- pkg/bare.py:",
        "    1 × CAN103 (bare-except-swallows-cancellation)",
        "- pkg/swallow.py:",
        "    1 × CAN101 (cancelled-error-swallowed)",
        "Fixed 2 findings (0 remaining)",
    ]


def test_unsafe_fixes_count_as_fixable_when_given(tmp_path):
    (tmp_path / "child.py").write_text(
        "import asyncio\n\n\nasync def stop(t):\n    t.cancel()\n    try:\n        await t\n"
        "    except asyncio.CancelledError:\n        pass\n"
    )
    plain = run("--extend-select=CAN110", "--target-version=3.11", "child.py", cwd=tmp_path)
    assert plain.stderr == "Found 1 finding (1 more with --fix --unsafe-fixes).\n"
    assert "[*]" not in plain.stdout
    unsafe = run("--extend-select=CAN110", "--target-version=3.11", "--unsafe-fixes", "child.py",
                 cwd=tmp_path)
    assert unsafe.stderr == "Found 1 finding (1 fixable with --fix --unsafe-fixes).\n"
    assert "CAN110 [*] " in unsafe.stdout
