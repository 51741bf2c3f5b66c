"""The cheap gate: can this text hold a finding at all? A text search, run before any parse.

A rule's gate is a regular expression that any file able to break the rule must match, or a
tuple of them that must all match (each a plain search: no lookahead over the file). The
patterns that several rules share are here, written once.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Pattern, Tuple, Union

from flake8_cancel.modules import imported_definitions_text
from flake8_cancel.names import last_names
from flake8_cancel.settings import Settings

GatePattern = Union[str, Tuple[str, ...]]

# An `except` clause, or a tuple of exceptions, that names TimeoutError. A bounded window, not
# `[^:]*`, because a comment inside a multi-line clause can hold a colon.
TIMEOUT_HANDLER = (
    r"except[\s\S]{0,200}?(?:TimeoutError|TooSlowError)|=\s*\([^)]*(?:TimeoutError|TooSlowError)"
)
# Searched before TIMEOUT_HANDLER, which is tried at every `except` of the text. (trio's
# fail_after raises TooSlowError.)
TIMEOUT_NAMED = r"TimeoutError|TooSlowError"


def cancellation_names(settings: Settings, *also: str) -> str:
    """``CancelledError`` (and trio's ``Cancelled``), anyio's ``get_cancelled_exc_class``, the
    configured cancellation exceptions' last names, and ``also``."""
    return "|".join(
        ["Cancelled", "get_cancelled_exc_class", *also,
         *last_names(settings.extra_cancelled_names)]
    )


class Gate:
    """Can this text hold a finding of these rules? A rule's gate is a pattern, or a tuple of
    patterns that must all match.

    Each pattern is searched on its own, and a pattern's top-level alternatives are split apart
    (``CancelledError|BaseException`` is two searches): a pattern that starts with a literal is
    found by a fast scan, while an alternation is tried branch by branch at every character.
    Identical searches of several rules run once.
    """

    def __init__(self, patterns: Iterable[GatePattern]) -> None:
        compiled: Dict[str, Pattern[str]] = {}

        def search_for(pattern: str) -> Tuple[Pattern[str], ...]:
            return tuple(
                compiled.setdefault(part, re.compile(part)) for part in alternatives(pattern)
            )

        any_of: List[Pattern[str]] = []
        self.all_of: List[Tuple[Tuple[Pattern[str], ...], ...]] = []
        for pattern in patterns:
            if isinstance(pattern, str):
                any_of.extend(search_for(pattern))
            else:
                self.all_of.append(tuple(search_for(part) for part in pattern))
        self.any_of = list(dict.fromkeys(any_of))  # one search for what several rules share

    def search(self, source: str) -> bool:
        """Does ``source`` pass?"""
        return self.passes(SearchMemo(source))

    def passes(self, found: "SearchMemo") -> bool:
        """Does the text pass, with what was found in it before (by another gate, or by this
        one before what its imports stand for was added)?"""
        if any(found.has(pattern) for pattern in self.any_of):
            return True
        return any(
            all(any(found.has(p) for p in part) for part in parts) for parts in self.all_of
        )


class SearchMemo:
    """Which patterns a module's text holds, each searched once, in its own text and then, when
    that is given, in what the names it imports from its project stand for (``extra``)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.extra = ""
        self._found: Dict[Pattern[str], bool] = {}
        self._in_extra: Dict[Pattern[str], bool] = {}

    def has(self, pattern: Pattern[str]) -> bool:
        known = self._found.get(pattern)
        if known is None:
            known = self._found[pattern] = pattern.search(self.source) is not None
        if known or not self.extra:
            return known
        in_extra = self._in_extra.get(pattern)
        if in_extra is None:
            in_extra = self._in_extra[pattern] = pattern.search(self.extra) is not None
        return in_extra


class GateText:
    """The text that gates search for one module: its own, and only when that does not pass,
    its own with what the names it imports from its project stand for (an exception tuple in
    ``const.py`` that names ``CancelledError``), as if they were defined in it.

    Each pattern is searched in the two texts apart: a pattern matches the module with its
    imports where it matches either. The definitions are lines of their own
    (``ERRORS = (builtins.OSError, asyncio.CancelledError,)``: modules.py), so no pattern of
    a rule needs a match that runs from the module's text into them: a tuple alias naming
    ``TimeoutError`` matches ``TIMEOUT_HANDLER`` by its ``= (...)`` alone."""

    def __init__(self, source: str, path: Optional[str]) -> None:
        self.path = path
        self._memo = SearchMemo(source)
        self._imported: Optional[str] = None

    @property
    def imported(self) -> str:
        """What the names the module imports from its project and catches stand for, as
        definitions (modules.imported_definitions_text), read once: the screen reads it too."""
        if self._imported is None:
            self._imported = imported_definitions_text(self._memo.source, self.path)
        return self._imported

    def passes(self, gate: Gate) -> bool:
        memo = self._memo
        if gate.passes(memo):
            return True
        memo.extra = self.imported
        return bool(memo.extra) and gate.passes(memo)


def alternatives(pattern: str) -> List[str]:
    """A pattern's top-level alternatives, each searchable alone; the pattern whole when it
    has groups or inline flags (a backreference or ``(?m)`` does not survive the split)."""
    if "(?" in pattern.replace("(?:", "") or re.compile(pattern).groups:
        return [pattern]
    parts, depth, in_class, start, index = [], 0, False, 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 1
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1 : index + 2] == "]":  # a "]" first in a class is literal
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:index])
            start = index + 1
        index += 1
    parts.append(pattern[start:])
    return parts
