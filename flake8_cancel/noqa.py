"""flake8's ``# noqa`` comments, for the command line and the fixer (flake8 applies its own)."""

from __future__ import annotations

import re
from typing import Iterable, List, Sequence, TypeVar

from flake8_cancel.registry import Finding
from flake8_cancel.syntax import physical_lines

# flake8's own inline syntax: `# noqa`, `# noqa: CAN101`, `# noqa:CAN101,CAN102`.
NOQA = re.compile(r"# noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)
FILE_NOQA = re.compile(r"#\s*flake8[:=]\s*noqa\s*$", re.I | re.M)

T = TypeVar("T")


def file_is_exempt(source: str) -> bool:
    """A ``# flake8: noqa`` line turns the whole file off, as in flake8."""
    return FILE_NOQA.search(source) is not None


def is_silenced(finding: Finding, lines: Sequence[str]) -> bool:
    line = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
    match = NOQA.search(line)
    if match is None:
        return False
    codes = match.group("codes")
    if codes is None:
        return True
    listed = tuple(code.upper() for code in re.split(r"[,\s]+", codes) if code)
    return finding.code.startswith(listed)


def without_silenced(findings: Iterable[Finding], source: str) -> List[Finding]:
    lines = physical_lines(source)
    return [finding for finding in findings if not is_silenced(finding, lines)]
