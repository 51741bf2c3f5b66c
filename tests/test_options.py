"""The option table is the one declaration: every front end takes each option from it, with the
same meaning (in process: the command line's parser, pyproject.toml and flake8's own parsing)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Tuple

import pytest
from flake8.options.parse_args import parse_args as flake8_parse_args

from flake8_cancel.cli import _flag_values, _parser
from flake8_cancel.config import RunConfig, command_line_source
from flake8_cancel.discovery import Discovery
from flake8_cancel.options import OPTIONS, SETTINGS_OPTIONS, Option, options_table
from flake8_cancel.plugin import Plugin
from flake8_cancel.settings import ConfigurationError, Settings

ROOT = Path(__file__).resolve().parent.parent

# For each option, a value other than its default: as TOML, and as text (a flag's, flake8's).
SAMPLES = {
    "select": ('["CAN101", "bare-except-swallows-cancellation"]', "CAN101,CAN103"),
    "ignore": ('["CAN10"]', "CAN10"),
    "extend-select": ('["CAN110"]', "CAN110"),
    "exclude": ('["generated/*", "vendor"]', "generated/*,vendor"),
    "extend-exclude": ('["generated/*", "vendor"]', "generated/*,vendor"),
    "per-file-ignores": (
        '{ "tests/*" = ["CAN101"], "scripts/*.py" = ["CAN103", "CAN104"] }',
        "tests/*:CAN101 scripts/*.py:CAN103,CAN104",
    ),
    "target-version": ('"3.10"', "3.10"),
    "cancelled-names": ('["trio.Cancelled", "anyio.get_cancelled_exc_class"]',
                        "trio.Cancelled, anyio.get_cancelled_exc_class"),
    "never-returning": ('["myapp.errors.fail"]', "myapp.errors.fail"),
    "suppressors": ('["myapp.ignoring"]', "myapp.ignoring"),
    "timeout-managers": ('["myapp.deadline"]', "myapp.deadline"),
    "cleanup-methods": ('["dispose", "teardown"]', "dispose teardown"),
}
# For each option, a value it refuses: as TOML, and as text.
BAD = {
    "select": ('["XYZ1"]', "XYZ1"),
    "ignore": ('["CAN999"]', "CAN999"),
    "extend-select": ("3", "CAN7"),
    "exclude": ("3", None),  # every text is a list of patterns
    "extend-exclude": ("[3]", None),
    "per-file-ignores": ('["tests/*:CAN101"]', "tests/*"),
    "target-version": ("3.10", "banana"),
    "cancelled-names": ('["1bad"]', "1bad"),
    "never-returning": ("[1]", "my-app.fail"),
    "suppressors": ('["a..b"]', "a..b"),
    "timeout-managers": ("{}", "z.9"),
    "cleanup-methods": ('["close()"]', "close()"),
}
BY_KEY = {option.key: option for option in OPTIONS}


def test_every_option_has_samples():
    assert set(SAMPLES) == set(BAD) == set(BY_KEY)


def project(tmp_path: Path, name: str, body: str = "") -> Path:
    """A fresh folder (the pyproject.toml reader caches per folder) with a file to check."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "pyproject.toml").write_text(f"[tool.flake8-cancel]\n{body}", encoding="utf-8")
    (folder / "app.py").write_text("x = 1\n", encoding="utf-8")
    return folder / "app.py"


def config_of(path: Path, flags: Tuple[str, ...] = ()) -> RunConfig:
    """The configuration the command line gives ``path`` with these flags."""
    values = _flag_values(_parser().parse_args(list(flags)))
    config = Discovery(command_line_source(values), None).file_config(str(path))
    assert config is not None
    return config


def meaning(config: RunConfig) -> tuple:
    """What a configuration decides, whatever folder its patterns are relative to."""
    return (
        config.settings,
        config.codes,
        tuple(pattern for _, pattern in config.exclude),
        tuple((pattern, codes) for _, pattern, codes in config.per_file_ignores),
        config.reports_unchecked,
    )


def from_pyproject(tmp_path: Path, option: Option, toml: str) -> RunConfig:
    return config_of(project(tmp_path, "key", f"{option.key} = {toml}\n"))


def from_flag(tmp_path: Path, option: Option, text: str) -> RunConfig:
    return config_of(project(tmp_path, "flag"), (f"{option.flag}={text}",))


def from_flake8(folder: Path, monkeypatch, argv: Tuple[str, ...], config: str = "") -> Settings:
    """What the plugin is set up with, flake8 being run in ``folder`` with ``config``."""
    folder.mkdir()
    (folder / "setup.cfg").write_text(f"[flake8]\n{config}", encoding="utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.setattr(Plugin, "discovery", None)  # parse_options replaces it
    flake8_parse_args(list(argv))
    return Plugin.discovery.folder_config(str(folder)).settings


ALLOWED = re.compile(r"such as|known: CAN|use ")  # an error says what is allowed


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.key)
def test_the_flag_and_the_key_mean_the_same(tmp_path, option):
    toml, text = SAMPLES[option.key]
    from_key = meaning(from_pyproject(tmp_path, option, toml))
    assert from_key == meaning(from_flag(tmp_path, option, text))
    assert from_key != meaning(config_of(project(tmp_path, "default"))), (
        "the sample is the default: it shows nothing"
    )


@pytest.mark.parametrize("option", SETTINGS_OPTIONS, ids=lambda option: option.key)
def test_flake8s_option_and_configuration_mean_the_same_as_the_key(tmp_path, monkeypatch, option):
    toml, text = SAMPLES[option.key]
    expected = from_pyproject(tmp_path, option, toml).settings
    flag = from_flake8(
        tmp_path / "flag", monkeypatch, ("--isolated", f"{option.flake8_flag}={text}")
    )
    assert flag == expected
    configured = from_flake8(
        tmp_path / "configured", monkeypatch, (), f"{option.flake8_flag[2:]} = {text}\n"
    )
    assert configured == expected


@pytest.mark.parametrize(
    "option", [o for o in OPTIONS if not o.settings_field], ids=lambda option: option.key
)
def test_a_run_option_is_flake8s_own(tmp_path, monkeypatch, option):
    folder = tmp_path / "flake8"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setattr(Plugin, "discovery", None)
    _, options = flake8_parse_args(["--isolated", f"{option.flag}={SAMPLES[option.key][1]}"])
    assert getattr(options, option.key.replace("-", "_"))
    assert option.flake8_flag is None


def test_every_settings_field_is_one_options_with_the_same_default():
    filled = [option.settings_field for option in SETTINGS_OPTIONS]
    assert sorted(filled) == sorted(Settings._fields)
    for option in SETTINGS_OPTIONS:
        assert Settings._field_defaults[option.settings_field] == option.default, option.key


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.key)
def test_a_bad_value_is_an_error_naming_the_key(tmp_path, option):
    toml, _ = BAD[option.key]
    with pytest.raises(ConfigurationError) as raised:
        from_pyproject(tmp_path, option, toml)
    assert f"[tool.flake8-cancel] {option.key}: " in str(raised.value)
    assert ALLOWED.search(str(raised.value))


@pytest.mark.parametrize(
    "option", [o for o in OPTIONS if BAD[o.key][1] is not None], ids=lambda option: option.key
)
def test_a_bad_value_is_a_usage_error_naming_the_flag(tmp_path, capsys, option):
    text = BAD[option.key][1]
    with pytest.raises((SystemExit, ValueError)) as raised:
        from_flag(tmp_path, option, text)
    message = capsys.readouterr().err if raised.type is SystemExit else str(raised.value)
    assert f"{option.flag}: " in message and repr(text) in message
    assert ALLOWED.search(message)


@pytest.mark.parametrize("option", SETTINGS_OPTIONS, ids=lambda option: option.key)
def test_a_bad_value_is_a_flake8_usage_error_naming_its_option(tmp_path, monkeypatch, capsys, option):
    text = BAD[option.key][1]
    with pytest.raises(SystemExit):
        from_flake8(tmp_path / "bad", monkeypatch, ("--isolated", f"{option.flake8_flag}={text}"))
    message = capsys.readouterr().err
    assert f"argument {option.flake8_flag}: " in message and repr(text) in message
    assert ALLOWED.search(message)


def test_target_version_refuses_a_toml_number(tmp_path):
    # Unquoted, 3.10 is the number 3.1: refused, rather than read as Python 3.1.
    with pytest.raises(ConfigurationError, match=r"3\.1 is not a string; .*quote it"):
        from_pyproject(tmp_path, BY_KEY["target-version"], "3.10")


def test_a_repeated_name_flag_adds_up_and_a_repeated_code_flag_keeps_the_last():
    options = _parser().parse_args(
        ["--cancelled-names=a.B", "--cancelled-names=c.D", "--select=CAN101", "--select=CAN103"]
    )
    values = _flag_values(options)
    assert values["cancelled-names"] == ("a.B", "c.D")
    assert values["select"] == ("CAN103",)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("tests/*:CAN101", (("tests/*", ("CAN101",)),)),
        (
            "a.py,b.py:CAN101,CAN102\n  c.py: CAN103",
            (("a.py", ("CAN101", "CAN102")), ("b.py", ("CAN101", "CAN102")), ("c.py", ("CAN103",))),
        ),
        ("", ()),
    ],
)
def test_per_file_ignores_as_flake8_writes_them(text, expected):
    assert BY_KEY["per-file-ignores"].kind.parse(text) == expected


@pytest.mark.parametrize("text", ["tests/*", "tests/*:", ":CAN101", "a.py:CAN101 b.py", "a::CAN101"])
def test_per_file_ignores_without_a_pattern_or_codes_is_refused(text):
    with pytest.raises(ValueError, match="PATTERN:CODES"):
        BY_KEY["per-file-ignores"].kind.parse(text)


def test_readme_option_table_is_generated_from_the_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- options-table:start -->\n(.*?)\n<!-- options-table:end -->", readme, re.S
    )
    assert match, "README lacks the options-table markers"
    assert match.group(1) == options_table(), (
        "README option table is stale: paste the output of "
        "`python -c 'from flake8_cancel.options import options_table; print(options_table())'`"
    )
