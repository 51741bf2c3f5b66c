"""Output of the command line: the formats (text as flake8's, full with the source line, json,
sarif 2.1.0, github), per-code statistics, the summary, and colours on a terminal.

A file that could not be checked is reported as CAN001 at 1:1 (as flake8 reports its E902):
a finding in text, json and github (``::error``), a tool execution notification in SARIF.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from flake8_cancel import __version__
from flake8_cancel.fixer import Edit
from flake8_cancel.registry import Finding, doc_section
from flake8_cancel.rules import all_rules, rule_for
from flake8_cancel.selection import UNCHECKED_CODE, UNCHECKED_MESSAGE, UNCHECKED_NAME

FORMATS = ("text", "full", "json", "sarif", "github")
INFORMATION_URI = "https://pypi.org/project/flake8-cancel/"


class Reported(NamedTuple):
    path: str
    finding: Finding
    fix: Optional[str]  # "safe" or "unsafe" when a fix would be applied, else None
    end: Optional[Tuple[int, int]] = None  # line, column (from 1) just past the finding
    edits: Optional[Tuple[Edit, ...]] = None  # the fix as text edits (json only)
    source_line: str = ""  # the finding's line (full only)

    @property
    def unchecked(self) -> bool:
        return self.finding.code == UNCHECKED_CODE

    @property
    def end_position(self) -> Tuple[int, int]:
        return self.end or (self.finding.line, self.finding.column + 2)


def unchecked(path: str, reason: str) -> Reported:
    """A file that could not be checked, as a finding at 1:1."""
    return Reported(path, Finding(1, 0, UNCHECKED_CODE, f"{UNCHECKED_MESSAGE}: {reason}"), None)


def finding_end(finding: Finding, line: str) -> Tuple[int, int]:
    """Where the finding ends: past what its column points at (the rule's anchor: ``except``,
    ``raise``, the ``with`` item...), on its line."""
    match = re.match(rule_for(finding.code).anchor, line[finding.column:])
    length = len(match.group(0)) if match else 1
    return finding.line, finding.column + 1 + length


class Style(NamedTuple):
    """ANSI colours for a terminal; plain text elsewhere."""

    on: bool = False

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text


def colours_wanted(stream_is_terminal: bool, environ: Dict[str, str]) -> bool:
    """Colours on a terminal, unless ``NO_COLOR`` is set (no-color.org); ``FORCE_COLOR`` forces
    them (NO_COLOR wins over it)."""
    if environ.get("NO_COLOR"):
        return False
    return bool(environ.get("FORCE_COLOR")) or stream_is_terminal


def render(
    name: str, reported: Sequence[Reported], fixable: Sequence[str] = ("safe",),
    style: Style = Style(),
) -> str:
    """The report. ``fixable``: the fixes that the same command with ``--fix`` would apply
    (marked ``[*]`` in text)."""
    if name in ("text", "full"):
        return _text(reported, fixable, style, show_source=name == "full")
    return RENDERERS[name](reported)


def _text(
    reported: Sequence[Reported], fixable: Sequence[str], style: Style, show_source: bool
) -> str:
    lines = []
    for item in reported:
        finding = item.finding
        mark = style.paint("[*] ", "36") if item.fix in fixable else ""
        lines.append(
            f"{style.paint(item.path, '1')}:{finding.line}:{finding.column + 1}: "
            f"{style.paint(finding.code, '1;31')} {mark}{finding.message}\n"
        )
        if show_source and item.source_line:  # flake8's --show-source: the line and a caret
            caret = "".join(c if c == "\t" else " " for c in item.source_line[:finding.column])
            lines.append(f"{item.source_line}\n{caret}{style.paint('^', '1;31')}\n")
    return "".join(lines)


def rule_name(code: str) -> str:
    return UNCHECKED_NAME if code == UNCHECKED_CODE else rule_for(code).slug


def doc_url(code: str) -> Optional[str]:
    """Where a rule's documentation page is: rules/CODE.md under the package's
    ``Documentation`` project URL (the repository's docs/ folder); None when the installed
    package names none."""
    base = _documentation_base()
    return f"{base.rstrip('/')}/rules/{code}.md" if base and code != UNCHECKED_CODE else None


def _documentation_base() -> Optional[str]:
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("flake8-cancel").get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "documentation":
            return url.strip()
    return None


def _json(reported: Sequence[Reported]) -> str:
    """ruff's fields: positions from 1, the fix's applicability and edits, the rule's name and
    documentation."""
    def position(line: int, column: int) -> Dict[str, int]:
        return {"row": line, "column": column}

    entries = []
    for item in reported:
        finding = item.finding
        fix = None
        if item.fix is not None:
            fix = {
                "applicability": item.fix,
                "edits": [
                    {"content": edit.content, "location": position(edit.line, edit.column),
                     "end_location": position(edit.end_line, edit.end_column)}
                    for edit in item.edits or ()
                ],
            }
        entries.append({
            "filename": item.path,
            "location": position(finding.line, finding.column + 1),
            "end_location": position(*item.end_position),
            "code": finding.code,
            "name": rule_name(finding.code),
            "message": finding.message,
            "fix": fix,
            "url": doc_url(finding.code),
        })
    return json.dumps(entries, indent=2) + "\n"


def _github(reported: Sequence[Reported]) -> str:
    """GitHub Actions workflow commands: one ``::error`` per finding (the job fails on them),
    with the path relative to the repository (GITHUB_WORKSPACE, else the current folder)."""
    base = os.environ.get("GITHUB_WORKSPACE") or os.getcwd()
    lines = []
    for item in reported:
        end_line, end_column = item.end_position
        path = os.path.relpath(os.path.abspath(item.path), base).replace(os.sep, "/")
        lines.append(
            f"::error file={_escape_property(path)},line={item.finding.line},"
            f"col={item.finding.column + 1},endLine={end_line},endColumn={end_column},"
            f"title={_escape_property(item.finding.code + ' ' + rule_name(item.finding.code))}::"
            f"{_escape_data(item.finding.text)}\n"
        )
    return "".join(lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _sarif(reported: Sequence[Reported]) -> str:
    rules = all_rules()
    index = {rule.code: position for position, rule in enumerate(rules)}
    driver = {
        "name": "flake8-cancel",
        "version": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [
            {
                "id": rule.code,
                "name": rule.slug,
                "shortDescription": {"text": rule.message},
                "fullDescription": {"text": doc_section(rule.doc(), "What it does")},
                "help": {"text": rule.doc(), "markdown": rule.doc()},
                **({"helpUri": doc_url(rule.code)} if doc_url(rule.code) else {}),
                "defaultConfiguration": {"level": "error" if rule.default_enabled else "none"},
                "properties": {"fix": rule.fix_safety.value},
            }
            for rule in rules
        ],
    }
    results = [
        {
            "ruleId": item.finding.code,
            "ruleIndex": index[item.finding.code],
            "level": "error",
            "message": {"text": item.finding.message},
            "locations": [_location(item)],
            **({"properties": {"fix": item.fix}} if item.fix else {}),
        }
        for item in reported
        if not item.unchecked
    ]
    notifications = [
        {
            "level": "error",
            "descriptor": {"id": UNCHECKED_CODE},
            "message": {"text": item.finding.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(item.path)}}}],
        }
        for item in reported
        if item.unchecked
    ]
    invocation = {
        "executionSuccessful": not notifications,
        "toolExecutionNotifications": notifications,
    }
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "invocations": [invocation], "results": results}],
    }
    return json.dumps(document, indent=2) + "\n"


def _location(item: Reported) -> Dict[str, object]:
    end_line, end_column = item.end_position
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(item.path)},
            "region": {
                "startLine": item.finding.line,
                "startColumn": item.finding.column + 1,
                "endLine": end_line,
                "endColumn": end_column,
            },
        }
    }


def _uri(path: str) -> str:
    """A relative path stays relative (GitHub resolves it against the checkout; normpath also
    drops a leading ``./``); an absolute one is a ``file://`` URI."""
    if os.path.isabs(path):
        from pathlib import Path

        return Path(path).as_uri()
    return "/".join(
        part.replace("%", "%25").replace(" ", "%20").replace("#", "%23")
        for part in os.path.normpath(path).split(os.sep)
    )


RENDERERS: Dict[str, Callable[[Sequence[Reported]], str]] = {
    "json": _json,
    "sarif": _sarif,
    "github": _github,
}


def statistics(reported: Sequence[Reported], fixable: Sequence[str], style: Style = Style()) -> str:
    """``--statistics``: how many findings of each code, marked ``[*]`` where all are fixable."""
    counts = Counter(item.finding.code for item in reported)
    fixes = Counter(item.finding.code for item in reported if item.fix in fixable)
    width = max((len(str(count)) for count in counts.values()), default=1)
    return "".join(
        f"{count:>{width}}\t{style.paint(code, '1;31')}\t"
        f"{style.paint('[*]', '36') + ' ' if fixes[code] == count else '    '}{rule_name(code)}\n"
        for code, count in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    )


def summary(reported: Sequence[Reported], unsafe_fixes: bool) -> str:
    """The last line of a lint run: how many findings, and how many ``--fix`` would fix."""
    findings = [item for item in reported if not item.unchecked]
    if not findings:
        return ""
    safe = sum(1 for item in findings if item.fix == "safe")
    unsafe = sum(1 for item in findings if item.fix == "unsafe")
    count = f"Found {len(findings)} finding{'s' * (len(findings) != 1)}"
    parts = []
    if unsafe_fixes and safe + unsafe:
        parts.append(f"{safe + unsafe} fixable with --fix --unsafe-fixes")
    else:
        if safe:
            parts.append(f"{safe} fixable with --fix")
        if unsafe:
            parts.append(f"{unsafe} more with --fix --unsafe-fixes")
    return count + (f" ({'; '.join(parts)})" if parts else "") + "."


def rules_listing() -> List[str]:
    """``--list-rules``: code, slug, default and fix availability, aligned."""
    rows = [("code", "name", "default", "fix")]
    rows += [
        (rule.code, rule.slug, "on" if rule.default_enabled else "off", rule.fix_safety.value)
        for rule in all_rules()
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
