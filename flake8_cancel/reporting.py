"""Output formats of the command line: text (flake8's), json, sarif (2.1.0) and github."""

from __future__ import annotations

import json
import os
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

from flake8_cancel import __version__
from flake8_cancel.registry import Finding, doc_section
from flake8_cancel.rules import all_rules

FORMATS = ("text", "json", "sarif", "github")
INFORMATION_URI = "https://pypi.org/project/flake8-cancel/"


class Reported(NamedTuple):
    path: str
    finding: Finding
    fix: Optional[str]  # "safe" or "unsafe" when a fix would be applied, else None


def render(name: str, reported: Sequence[Reported]) -> str:
    return RENDERERS[name](reported)


def _text(reported: Sequence[Reported]) -> str:
    return "".join(
        f"{item.path}:{item.finding.line}:{item.finding.column + 1}: {item.finding.text}\n"
        for item in reported
    )


def _json(reported: Sequence[Reported]) -> str:
    return json.dumps(
        [
            {
                "path": item.path,
                "line": item.finding.line,
                "column": item.finding.column + 1,
                "code": item.finding.code,
                "message": item.finding.message,
                "fix": item.fix,
            }
            for item in reported
        ],
        indent=2,
    ) + "\n"


def _github(reported: Sequence[Reported]) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    return "".join(
        f"::warning file={_escape_property(item.path)},line={item.finding.line},"
        f"col={item.finding.column + 1},title={item.finding.code}::"
        f"{_escape_data(item.finding.text)}\n"
        for item in reported
    )


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
                "defaultConfiguration": {"level": "warning" if rule.default_enabled else "none"},
                "properties": {"fix": rule.fix_safety.value},
            }
            for rule in rules
        ],
    }
    results = [
        {
            "ruleId": item.finding.code,
            "ruleIndex": index[item.finding.code],
            "level": "warning",
            "message": {"text": item.finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(item.path)},
                        "region": {
                            "startLine": item.finding.line,
                            "startColumn": item.finding.column + 1,
                        },
                    }
                }
            ],
        }
        for item in reported
    ]
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    return json.dumps(document, indent=2) + "\n"


def _uri(path: str) -> str:
    """A relative path stays relative (GitHub resolves it against the checkout); normpath also
    drops a leading ``./``."""
    return os.path.normpath(path).replace(os.sep, "/")


RENDERERS: Dict[str, Callable[[Sequence[Reported]], str]] = {
    "text": _text,
    "json": _json,
    "sarif": _sarif,
    "github": _github,
}


def rules_listing() -> List[str]:
    """``--list-rules``: code, slug, default and fix availability, aligned."""
    rows = [("code", "name", "default", "fix")]
    rows += [
        (rule.code, rule.slug, "on" if rule.default_enabled else "off", rule.fix_safety.value)
        for rule in all_rules()
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
