"""flake8's ``# noqa`` comments, for the command line and the fixer (flake8 applies its own), read
by flake8's rules exactly; and ``--add-noqa``, which writes them.

- ``# flake8: noqa`` (or ``# flake8=noqa``, any case) turns the whole file off only as a comment
  on a line of its own: after code it is nothing (flake8 only warns), and ``# flake8: noqa:
  CAN101`` still turns the whole file off.
- ``# noqa`` anywhere in the lines of the tokens from one line end (NEWLINE or NL, so also a
  line break inside brackets) to the next silences every finding on those lines: a string over
  several lines is one such range; ``# noqa: CAN101,CAN102`` (or
  ``# noqa:CAN101 CAN102``) only the codes that start with one listed, compared as written
  (``# noqa: can101`` silences nothing, as in flake8).
"""

from __future__ import annotations

import io
import re
import tokenize
from functools import cached_property
from typing import Dict, Iterable, List, Sequence, Set

from flake8_cancel.registry import Finding
from flake8_cancel.syntax import physical_lines

# flake8's own expressions (flake8.defaults).
NOQA = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.I)
FILE_NOQA = re.compile(r"\s*# flake8[:=]\s*noqa", re.I)
_FLAKE8_NOQA_ANYWHERE = re.compile(r"# flake8[:=]\s*noqa", re.I)


def file_is_exempt(source: str) -> bool:
    """A ``# flake8: noqa`` comment alone on a line turns the whole file off, as in flake8."""
    if not _FLAKE8_NOQA_ANYWHERE.search(source):  # the common case, without splitting lines
        return False
    return any(FILE_NOQA.match(line) for line in physical_lines(source))


class NoqaLines:
    """The text flake8 searches for ``# noqa`` for each line of a module."""

    def __init__(self, source: str) -> None:
        self.source = source

    # Tokenized only when a finding is asked about: most files have none.
    @cached_property
    def lines(self) -> List[str]:
        return physical_lines(self.source, keepends=True)

    @cached_property
    def ranges(self) -> Dict[int, tuple]:
        return _statement_ranges(self.source, len(self.lines))

    def text_for(self, line: int) -> str:
        span = self.ranges.get(line)
        if span is None:  # no tokens there (or the module does not tokenize): the line alone
            return self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return "".join(self.lines[span[0] - 1:span[1]])

    @cached_property
    def mentions_noqa(self) -> bool:
        """Is there a ``# noqa`` anywhere? The text of a line is a stretch of the source, so
        without one nothing is silenced, and the module need not be tokenized."""
        return NOQA.search(self.source) is not None

    def silences(self, finding: Finding) -> bool:
        if not self.mentions_noqa:
            return False
        match = NOQA.search(self.text_for(finding.line))
        if match is None:
            return False
        codes = match.group("codes")
        if codes is None:
            return True
        listed = tuple(code.strip() for code in re.split(r"[,\s]", codes) if code.strip())
        return finding.code in listed or finding.code.startswith(listed)


def _statement_ranges(source: str, line_count: int) -> Dict[int, tuple]:
    """Line -> (first, last) line of the tokens from one NEWLINE or NL to the next, as flake8's
    processor maps them (a string over three lines is one range)."""
    ranges: Dict[int, tuple] = {}
    first, last = line_count + 2, -1
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            first, last = min(first, token.start[0]), max(last, token.end[0])
            if token.type in (tokenize.NL, tokenize.NEWLINE):
                ranges.update(dict.fromkeys(range(first, last + 1), (first, last)))
                first, last = line_count + 2, -1
    except (tokenize.TokenError, SyntaxError):
        return {}
    return ranges


def without_silenced(findings: Iterable[Finding], source: str) -> List[Finding]:
    lines = NoqaLines(source)
    return [finding for finding in findings if not lines.silences(finding)]


def add_noqa(source: str, findings: Sequence[Finding]) -> tuple:
    """``--add-noqa``: the source with a ``# noqa: CODE`` for every finding not yet silenced, at
    the end of the last line of its statement (after a string that spans lines, never inside it),
    merged into a ``# noqa: ...`` already there. Returns (new source, comments added)."""
    noqa = NoqaLines(source)
    lines = list(noqa.lines)
    wanted: Dict[int, Set[str]] = {}
    for finding in findings:
        if not noqa.silences(finding):
            last = noqa.ranges.get(finding.line, (finding.line, finding.line))[1]
            wanted.setdefault(last, set()).add(finding.code)
    for number, codes in wanted.items():
        if not 0 < number <= len(lines):
            continue
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        match = NOQA.search(body)
        if match and match.group("codes"):
            listed = [c for c in re.split(r"[,\s]+", match.group("codes")) if c]
            merged = ", ".join(sorted(set(listed) | codes))
            after = body[match.end():].strip()
            body = body[:match.start()] + f"# noqa: {merged}" + (f" {after}" if after else "")
        else:
            body = body.rstrip() + f"  # noqa: {', '.join(sorted(codes))}"
        lines[number - 1] = body + ending
    return "".join(lines), len(wanted)
