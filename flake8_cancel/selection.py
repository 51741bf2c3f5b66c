"""Which codes run, from ``select``/``ignore``/``extend-select``, the way flake8 decides; and the
codes and rule names a user may write.

The longest matching prefix wins; when select and ignore match equally, ignore wins. A rule that
is off by default runs only where a configuration names its full code (``extend-select =
CAN110``), as flake8-bugbear does for its opinionated codes: flake8 would let any explicit
``select`` (even just ``CAN``) beat a default ignore.

Several configurations may apply at once (flake8's ``[flake8]`` section and
``[tool.flake8-cancel]``): a code runs when every one of them lets it, and an opt-in rule when
any of them names it.

CAN001 is not a rule: it is how a file that could not be checked is reported (flake8's E902 is
the model). Only an ignore entry that names it (``CAN0``, ``CAN00`` or ``CAN001``) drops it: a
``select`` that leaves it out, or ``ignore = CAN``, does not.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Type

from flake8_cancel.registry import Rule
from flake8_cancel.rules import all_rules

UNCHECKED_CODE = "CAN001"
UNCHECKED_NAME = "file-not-checked"
UNCHECKED_MESSAGE = "file not checked"


def known_codes() -> List[str]:
    return [UNCHECKED_CODE, *(rule.code for rule in all_rules())]


def _codes_by_name() -> Dict[str, str]:
    return {UNCHECKED_NAME: UNCHECKED_CODE, **{rule.slug: rule.code for rule in all_rules()}}


def code_for(item: str) -> str:
    """A code or a rule name (any case) -> the code; KeyError if it is neither."""
    upper = item.upper()
    if upper in known_codes():
        return upper
    return _codes_by_name()[item.lower()]


def is_ours(prefix: str) -> bool:
    """Could this prefix from flake8's own configuration select or ignore a code of ours? (`C`,
    `CA`, `CAN`, `CAN1`...; not `E501` nor `B9`)."""
    return prefix.startswith("CAN") or "CAN".startswith(prefix)


def resolve_codes(items: Iterable[str]) -> Tuple[str, ...]:
    """Code prefixes and rule names -> code prefixes; ValueError naming the first item that is
    neither, and what is allowed."""
    resolved = []
    codes = known_codes()
    for item in items:
        if "-" in item:
            try:
                resolved.append(code_for(item))
                continue
            except KeyError:
                raise ValueError(
                    f"{item!r} is no rule name (names such as 'cancelled-error-swallowed': "
                    "see --list-rules)"
                ) from None
        prefix = item.upper()
        if not (any(code.startswith(prefix) for code in codes) or "CAN".startswith(prefix)) or not prefix:
            raise ValueError(
                f"{item!r} matches no flake8-cancel code (known: {', '.join(codes)}; or a rule "
                "name such as 'cancelled-error-swallowed')"
            )
        resolved.append(prefix)
    return tuple(resolved)


def _longest(code: str, prefixes: Sequence[str]) -> int:
    return max((len(prefix) for prefix in prefixes if code.startswith(prefix)), default=-1)


class Selection(NamedTuple):
    """One configuration's choice of codes (already resolved to code prefixes)."""

    select: Optional[Tuple[str, ...]] = None  # None: the default, every code
    ignore: Tuple[str, ...] = ()
    extend_select: Tuple[str, ...] = ()

    def allows(self, code: str) -> bool:
        selected = max(_longest(code, ("CAN",) if self.select is None else self.select),
                       _longest(code, self.extend_select))
        return selected > _longest(code, self.ignore)

    def names(self, code: str) -> bool:
        return code in (*(self.select or ()), *self.extend_select)

    def drops_unchecked(self) -> bool:
        return any(UNCHECKED_CODE.startswith(prefix) and len(prefix) > 3 for prefix in self.ignore)


def enabled_rules(selections: Sequence[Selection] = (Selection(),)) -> List[Type[Rule]]:
    """The rules that every selection allows (an opt-in rule also needs one to name it)."""
    return [
        rule
        for rule in all_rules()
        if all(selection.allows(rule.code) for selection in selections)
        and (rule.default_enabled or any(selection.names(rule.code) for selection in selections))
    ]
