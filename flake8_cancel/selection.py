"""Which rules run, from ``--select``/``--ignore``/``--extend-select``, the way flake8 decides.

The longest matching prefix wins. A rule that is off by default behaves as if its full code were
in the ignore list, so only naming the full code (``--extend-select=CAN110``) turns it on, as in
flake8 with ``extend_default_ignore``. When select and ignore match equally, ignore wins.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Type

from flake8_cancel.registry import Rule
from flake8_cancel.rules import all_rules


def _longest(code: str, prefixes: Sequence[str]) -> int:
    return max((len(prefix) for prefix in prefixes if code.startswith(prefix)), default=-1)


def enabled_rules(
    select: Optional[Sequence[str]] = None,
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
) -> List[Type[Rule]]:
    rules = all_rules()
    known = [rule.code for rule in rules]
    for prefix in [*(select or ()), *ignore, *extend_select]:
        if not any(code.startswith(prefix) for code in known) and not "CAN".startswith(prefix):
            raise ValueError(f"{prefix!r} matches no flake8-cancel code (known: {', '.join(known)})")
    chosen = []
    for rule in rules:
        selected = max(_longest(rule.code, ["CAN"] if select is None else select),
                       _longest(rule.code, extend_select))
        ignored = _longest(rule.code, ignore)
        if not rule.default_enabled:
            ignored = max(ignored, len(rule.code) - 1)  # beaten only by the full code
        if selected > ignored:
            chosen.append(rule)
    return chosen
