"""The cheap gate: can this text hold a finding at all? A text search, run before any parse.

A rule's gate is a regular expression that any file able to break the rule must match, or a
tuple of them that must all match (each a plain search: no lookahead over the file), or
``InHandler``: two searches that must match in one ``except`` handler. The patterns that
several rules share are here, written once.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Pattern, Tuple, Union

from flake8_cancel.modules import imported_definitions_text
from flake8_cancel.names import last_names
from flake8_cancel.settings import Settings


class InHandler:
    """Two searches that must match in one ``except`` handler: ``clause`` in its clause and
    ``inside`` between the clause and the end of its body (CAN111: a call that releases, in a
    handler of ``except Exception``). The tuple ``(clause, inside)`` would pass a text with
    both anywhere, as most files with async code have. Where ``any_clause_if`` matches the
    text, or what the names it imports from its project stand for (``search``'s ``also``), any
    ``except`` clause counts: an alias may stand for the class ``clause`` names.

    Where a handler ends is read off the text as Python's tokenizer would: at the first logical
    line after the clause's that is indented no deeper than ``except`` (a line inside brackets
    or a string, or after a backslash, continues the one before). A clause is looked for first
    on its line, where a real one always is; one in a docstring is searched too, which only
    lets more texts pass."""

    def __init__(self, clause: str, inside: str, any_clause_if: Optional[str] = None) -> None:
        self.clause = clause
        self.inside = inside
        self.any_clause_if = any_clause_if
        self._clause = re.compile(clause)  # starts with a literal: a fast scan
        self._inside = re.compile(inside)
        # each alternative searched alone: one that starts with a literal is a fast scan
        self._any_clause_if = [
            re.compile(part) for part in (alternatives(any_clause_if) if any_clause_if else ())
        ]

    def __repr__(self) -> str:
        return f"InHandler({self.clause!r}, {self.inside!r}, {self.any_clause_if!r})"

    def _key(self) -> Tuple[str, str, Optional[str]]:
        return self.clause, self.inside, self.any_clause_if

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InHandler) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def search(self, text: str, also: str = "") -> bool:
        """Does ``text`` hold such a handler? ``also``: what the names it imports from its
        project stand for, which may alias the clause's class (``GateText``)."""
        if "\r" in text:  # a lone carriage return ends a line too
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self._holds(text, self._clause):
            return True
        widened = any(part.search(t) for part in self._any_clause_if for t in (text, also) if t)
        return widened and self._holds(text, _ANY_CLAUSE)

    def _holds(self, text: str, clauses: Pattern[str]) -> bool:
        for clause in clauses.finditer(text):
            line_start = text.rfind("\n", 0, clause.start()) + 1
            indentation = text[line_start:clause.start()]
            if indentation.strip(" \t\f"):
                continue  # not first on its line: not a clause
            end = block_end(text, clause.end(), _indent_width(indentation))
            if self._inside.search(text, clause.start(), end):
                return True
        return False


_ANY_CLAUSE = re.compile(r"except\b")
# What carries a logical line past the end of a physical one: a string (a triple-quoted one
# across lines), an open bracket, a backslash. Comments are matched whole, so that their
# quotes and brackets mean nothing.
_TOKENS = re.compile(
    r"""[rRbBuUfF]{0,3}(?:"{3}(?:\\[\s\S]|[^\\])*?"{3}|'{3}(?:\\[\s\S]|[^\\])*?'{3}"""
    r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')"""
    r"""|#[^\n]*|(?P<open>[(\[{])|(?P<close>[)\]}])|\\\n|(?P<newline>\n)"""
)
# The indentation of the next line that holds code (blank and comment-only lines skipped).
_NEXT_CODE_LINE = re.compile(r"(?:[ \t\f]*(?:#[^\n]*)?\n)*([ \t\f]*)(?=\S)")


def block_end(text: str, start: int, indent: int) -> int:
    """Where the block of a clause indented ``indent`` ends, reading from ``start`` on its
    line: the offset of the first logical line after it indented no deeper, else the end of
    the text."""
    depth = 0
    for token in _TOKENS.finditer(text, start):
        kind = token.lastgroup
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "newline" and depth == 0:
            line = _NEXT_CODE_LINE.match(text, token.end())
            if line is None:
                return len(text)
            if _indent_width(line.group(1)) <= indent:
                return line.start(1)
    return len(text)


def _indent_width(whitespace: str) -> int:
    """A line's indentation as Python counts it: tabs to the next multiple of 8, a form feed
    starting the count again."""
    return len(whitespace.rsplit("\f", 1)[-1].expandtabs(8))


GatePattern = Union[str, InHandler, Tuple[Union[str, InHandler], ...]]
Search = Union[Pattern[str], InHandler]  # a compiled part of a pattern: what a memo searches

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

        def search_for(pattern: Union[str, InHandler]) -> Tuple[Search, ...]:
            if isinstance(pattern, InHandler):
                return (pattern,)
            return tuple(
                compiled.setdefault(part, re.compile(part)) for part in alternatives(pattern)
            )

        any_of: List[Search] = []
        self.all_of: List[Tuple[Tuple[Search, ...], ...]] = []
        for pattern in patterns:
            if isinstance(pattern, tuple):
                self.all_of.append(tuple(search_for(part) for part in pattern))
            else:
                any_of.extend(search_for(pattern))
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
        self._found: Dict[Search, bool] = {}
        self._in_extra: Dict[Search, bool] = {}

    def has(self, pattern: "Search") -> bool:
        known = self._found.get(pattern)
        if known is None:
            known = self._found[pattern] = bool(pattern.search(self.source))
        if known or not self.extra:
            return known
        in_extra = self._in_extra.get(pattern)
        if in_extra is None:
            in_extra = self._in_extra[pattern] = bool(
                # a handler is in the module's own text; an alias may be in the other
                pattern.search(self.source, also=self.extra) if isinstance(pattern, InHandler)
                else pattern.search(self.extra)
            )
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
