"""Every option, declared once: its ``[tool.flake8-cancel]`` key, its command-line flag, its flake8
option, the Settings field it fills, how its value is read and checked, its default and its help.

The front ends derive theirs from ``OPTIONS``: the command line's flags and overrides (cli.py),
the pyproject keys and their checks (config.py), flake8's ``--cancel-*`` options (plugin.py) and
the README's table (``options_table``). A value is read by its kind's one parser whichever front
end it comes from: text from a flag or from flake8's configuration, or a TOML value.

Whether a code prefix names a rule is checked in config.py, which sits above the rules; this
module sits below them.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from flake8_cancel.settings import parse_target_version

_LIST_SEPARATORS = re.compile(r"[,\s]+")
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
# A code as flake8 writes one in per-file-ignores, or a rule name: it tells a code from the next
# file pattern.
_CODE_TOKEN = re.compile(r"[A-Z]+[0-9]*|[a-z][a-z0-9]*(?:-[a-z0-9]+)+")


class Kind(NamedTuple):
    """One kind of value: how it is written, read and checked, the same in every front end."""

    metavar: str  # its placeholder in --help
    written: str  # how a value is written, for the README
    # A flag's text (or flake8's configuration's), or a TOML value -> the value. ValueError says
    # what is allowed, for the caller to prefix with the flag or key.
    parse: Callable[[Any], Any]
    # On the command line a flag given twice adds up (since 0.1.0 for the name lists); otherwise
    # the last one wins, as for flake8's own options.
    repeatable: bool = False

    @property
    def argument_type(self) -> Callable[[str], Any]:
        """``parse`` for argparse, which shows the message of an ArgumentTypeError only."""

        def parse_argument(text: str) -> Any:
            try:
                return self.parse(text)
            except ValueError as error:
                raise argparse.ArgumentTypeError(str(error)) from None

        return parse_argument


def _strings(value: Any, expected: str) -> List[str]:
    """A text or a TOML array of strings, as a list of strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError(f"expected {expected}, got {value!r}")


def _items(value: Any, expected: str) -> List[str]:
    """Every item of a text or TOML array, split at commas and spaces."""
    return [
        item
        for text in _strings(value, expected)
        for item in _LIST_SEPARATORS.split(text.strip())
        if item
    ]


def parse_dotted_names(value: Any) -> Tuple[str, ...]:
    """``"trio.Cancelled, anyio.X"`` or ``["trio.Cancelled", ...]`` -> the names, each checked."""
    names = _items(value, "a list of dotted names such as ['trio.Cancelled']")
    for name in names:
        if not _DOTTED_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a dotted name such as 'trio.Cancelled'")
    return tuple(names)


def parse_method_names(value: Any) -> Tuple[str, ...]:
    """``"dispose, myapp.Pool.put_back"`` or ``["dispose", ...]`` -> the method names (alone, or
    qualified by their class), each checked."""
    names = _items(value, "a list of method names such as ['dispose']")
    for name in names:
        if not _DOTTED_NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a method name such as 'dispose' or 'myapp.Pool.put_back' "
                "(no parentheses)"
            )
    return tuple(names)


def parse_codes(value: Any) -> Tuple[str, ...]:
    """``"CAN101,can103"`` or ``["CAN101", "cancelled-error-swallowed", ...]`` -> the code
    prefixes in capitals, and rule names as written (config.py turns them into codes)."""
    return tuple(
        item if "-" in item else item.upper()
        for item in _items(value, "a list of codes such as ['CAN101']")
    )


def parse_patterns(value: Any) -> Tuple[str, ...]:
    """``"generated/*,vendor"`` or ``["generated/*", ...]`` -> the patterns. A text is split at
    commas only, and an array's items not at all: a path may hold spaces."""
    if isinstance(value, str):
        return tuple(pattern.strip() for pattern in value.split(",") if pattern.strip())
    return tuple(_strings(value, "a list of patterns such as ['generated/*']"))


def parse_codes_by_pattern(value: Any) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    """A TOML table ``{ "tests/*" = ["CAN101"] }``, or flake8's text ``tests/*:CAN101,CAN102
    scripts/*.py:CAN103`` -> (pattern, codes) pairs."""
    if isinstance(value, str):
        return _codes_by_pattern_text(value)
    if not isinstance(value, dict):
        raise ValueError(
            f'expected a table such as {{ "tests/*" = ["CAN101"] }} or a text such as '
            f'"tests/*:CAN101", got {value!r}'
        )
    pairs = []
    for pattern, codes in value.items():
        try:
            pairs.append((pattern, parse_codes(codes)))
        except ValueError:
            raise ValueError(f"{pattern!r}: expected a list of codes, got {codes!r}") from None
    return tuple(pairs)


def _codes_by_pattern_text(text: str) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    """flake8's grammar: patterns, a colon, codes; a token that is no code (nor a rule name), or
    that a colon follows, starts the next entry."""
    malformed = ValueError(f"expected PATTERN:CODES such as 'tests/*:CAN101', got {text!r}")
    entries: List[Tuple[List[str], List[str]]] = []
    patterns: List[str] = []
    codes: Optional[List[str]] = None  # None until the entry's colon
    tokens = re.findall(r":|[^\s,:]+", text)
    for index, token in enumerate(tokens):
        followed_by_colon = tokens[index + 1:index + 2] == [":"]
        if token == ":":
            if not patterns or codes is not None:
                raise malformed
            codes = []
        elif codes is None:
            patterns.append(token)
        elif _CODE_TOKEN.fullmatch(token) and not followed_by_colon:
            codes.append(token)
        else:
            entries.append((patterns, codes))
            patterns, codes = [token], None
    if patterns:
        entries.append((patterns, codes or []))
    if not all(entry_codes for _, entry_codes in entries):
        raise malformed
    return tuple(
        (pattern, tuple(entry_codes))
        for entry_patterns, entry_codes in entries
        for pattern in entry_patterns
    )


VERSION = Kind("VERSION", '`"3.10"` or `"py310"`', parse_target_version)
DOTTED_NAMES = Kind("NAMES", "dotted names", parse_dotted_names, repeatable=True)
METHOD_NAMES = Kind("NAMES", "method names", parse_method_names, repeatable=True)
CODES = Kind("CODES", "code prefixes or rule names", parse_codes)
PATTERNS = Kind("PATTERNS", "patterns on file names, or on paths from the pyproject.toml's folder",
                parse_patterns)
CODES_BY_PATTERN = Kind(
    "PATTERN:CODES",
    'a table `{ "tests/*" = ["CAN101"] }`; as text, `tests/*:CAN101` as in flake8',
    parse_codes_by_pattern,
)


# What the command line skips when walking folders, unless `exclude` says otherwise (as ruff's
# defaults; a folder holding pyvenv.cfg, a virtual environment, is skipped whatever its name).
DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".hg", ".mypy_cache", ".nox", ".pytest_cache",
    ".ruff_cache", ".svn", ".tox", ".venv", "__pycache__", "__pypackages__", "_build", "build",
    "dist", "node_modules", "site-packages", "venv", "*.egg-info",
)


class Option(NamedTuple):
    # The key in [tool.flake8-cancel]; the command line's flag is --KEY; in flake8 it is
    # --cancel-KEY, or for a run option flake8's own --KEY.
    key: str
    kind: Kind
    help: str
    default: Any
    # The Settings field it fills; None for a run option (which files, which codes), which
    # flake8 has of its own: select, ignore, exclude...
    settings_field: Optional[str] = None
    default_text: str = ""  # what the default means, where its value does not say it

    @property
    def flag(self) -> str:
        return f"--{self.key}"

    @property
    def flake8_key(self) -> str:
        """Its name in flake8's configuration: ``cancel-KEY``, or flake8's own ``KEY``."""
        return f"cancel-{self.key}" if self.settings_field else self.key

    @property
    def flake8_flag(self) -> Optional[str]:
        """The option the plugin adds to flake8 (None for flake8's own)."""
        return f"--{self.flake8_key}" if self.settings_field else None

    @property
    def shown_default(self) -> str:
        return self.default_text or ", ".join(self.default) or "none"


OPTIONS: Sequence[Option] = (
    Option("select", CODES, "code prefixes or rule names to check", ("CAN",)),
    Option("ignore", CODES, "code prefixes or rule names to skip", ()),
    Option("extend-select", CODES, "code prefixes or rule names to check as well, such as an "
           "opt-in rule's", ()),
    Option("exclude", PATTERNS, "files and folders not to check (replaces the default list)",
           DEFAULT_EXCLUDE,
           default_text="version-control, cache, build and virtual-environment folders: "
           + ", ".join(DEFAULT_EXCLUDE)),
    Option("extend-exclude", PATTERNS, "files and folders not to check, besides `exclude`", ()),
    Option("per-file-ignores", CODES_BY_PATTERN, "code prefixes or rule names to skip in the "
           "files a pattern matches", ()),
    Option("target-version", VERSION, "Python version the checked code runs on, e.g. 3.10",
           None, "target_version",
           default_text="the lower bound of requires-python in the nearest pyproject.toml, "
           "else 3.11"),
    Option("cancelled-names", DOTTED_NAMES,
           "extra exceptions that mean cancellation, e.g. curio.TaskCancelled (trio's and anyio's are known)", (),
           "extra_cancelled_names"),
    Option("never-returning", DOTTED_NAMES,
           "extra functions that never return (count as a re-raise), e.g. myapp.errors.fail", (),
           "extra_never_returning"),
    Option("suppressors", DOTTED_NAMES,
           "extra context managers that suppress exceptions like contextlib.suppress", (),
           "extra_suppressors"),
    Option("timeout-managers", DOTTED_NAMES,
           "extra context managers that set a deadline like asyncio.timeout", (),
           "extra_timeout_managers"),
    Option("cleanup-methods", METHOD_NAMES,
           "extra methods that release a resource (CAN111), e.g. dispose", (),
           "extra_cleanup_methods"),
)
OPTIONS_BY_KEY: Dict[str, Option] = {option.key: option for option in OPTIONS}
SETTINGS_OPTIONS: Sequence[Option] = tuple(option for option in OPTIONS if option.settings_field)
RUN_OPTIONS: Sequence[Option] = tuple(option for option in OPTIONS if not option.settings_field)


def add_flags(parser: Any) -> None:
    """Every option's command-line flag (the command line's, and the codemod's) on ``parser``
    (an argparse parser or group)."""
    for option in OPTIONS:
        parser.add_argument(
            option.flag,
            type=option.kind.argument_type,
            action="extend" if option.kind.repeatable else "store",
            metavar=option.kind.metavar,
            help=f"{option.help} (default: {option.shown_default})",
        )


def flag_values(given: Dict[str, Any]) -> Dict[str, Any]:
    """The flags given, from argparse's values by destination: option key -> value."""
    values: Dict[str, Any] = {}
    for option in OPTIONS:
        value = given.get(option.key.replace("-", "_"))
        if value is not None:
            values[option.key] = tuple(value) if option.kind.repeatable else value
    return values


def options_table() -> str:
    """The Markdown table of options for the README."""
    lines = [
        "| `[tool.flake8-cancel]` | command line | flake8 | value | default | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for option in OPTIONS:
        flake8 = f"`--{option.flake8_key}`" + ("" if option.settings_field else " (flake8's own)")
        written = option.kind.written
        if option.kind.repeatable:
            written += " (a repeated flag adds up)"
        lines.append(
            f"| `{option.key}` | `{option.flag}` | {flake8} | {written} "
            f"| {option.shown_default} | {option.help} |"
        )
    return "\n".join(lines)
