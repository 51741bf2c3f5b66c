"""Write docs/rules/CODE.md, each rule's documentation page, from the rule's docstring.

    python scripts/rule_pages.py

The JSON and SARIF reports link to these pages (through the package's ``Documentation``
project URL); tests/test_docs.py checks that they are up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flake8_cancel.registry import rule_page  # noqa: E402
from flake8_cancel.rules import all_rules  # noqa: E402

PAGES = ROOT / "docs" / "rules"


def main() -> int:
    PAGES.mkdir(parents=True, exist_ok=True)
    for rule in all_rules():
        (PAGES / f"{rule.code}.md").write_text(rule_page(rule), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
