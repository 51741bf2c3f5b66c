"""What a run is configured with, whoever configured it (flake8 options or the CLI)."""

from __future__ import annotations

import re
from typing import FrozenSet, Iterable, NamedTuple, Tuple

from flake8_cancel import names

DEFAULT_TARGET_VERSION = (3, 11)
_VERSION = re.compile(r"(?:py)?3\.?(\d{1,2})")


class Settings(NamedTuple):
    target_version: Tuple[int, int] = DEFAULT_TARGET_VERSION
    # Extra qualified names, e.g. "trio.Cancelled" or "myproject.errors.fail".
    extra_cancelled_names: Tuple[str, ...] = ()
    extra_never_returning: Tuple[str, ...] = ()
    extra_suppressors: Tuple[str, ...] = ()

    @property
    def cancelled_names(self) -> FrozenSet[str]:
        return names.CANCELLED_ERROR | frozenset(self.extra_cancelled_names)

    @property
    def never_returning(self) -> FrozenSet[str]:
        return names.NEVER_RETURNING_FUNCTIONS | frozenset(self.extra_never_returning)

    @property
    def suppressors(self) -> FrozenSet[str]:
        return names.SUPPRESSORS | frozenset(self.extra_suppressors)


def parse_target_version(text: str) -> Tuple[int, int]:
    """``3.9``, ``3.10``, ``py39`` or ``py310`` -> (3, minor); ValueError with a clear reason."""
    match = _VERSION.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"target version {text!r} is not of the form 3.X or py3X (e.g. 3.10)")
    return (3, int(match.group(1)))


def parse_name_list(values: Iterable[str]) -> Tuple[str, ...]:
    """Comma- or space-separated dotted names, each checked."""
    result = []
    for value in values:
        for name in re.split(r"[,\s]+", value.strip()):
            if not name:
                continue
            if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name):
                raise ValueError(f"{name!r} is not a dotted name such as 'trio.Cancelled'")
            result.append(name)
    return tuple(result)
