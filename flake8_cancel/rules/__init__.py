"""One module per rule, named ``canNNN_slug``: importing this package registers them all."""

import importlib
import pkgutil
from typing import List, Type

from flake8_cancel.registry import RULES, Rule

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name):
    if _module.name.startswith("can"):
        importlib.import_module(f"{__name__}.{_module.name}")


def all_rules() -> List[Type[Rule]]:
    """Every rule, in the order of its code."""
    return [RULES[code] for code in sorted(RULES)]


def rule_for(code: str) -> Type[Rule]:
    """The rule with this code (any case); KeyError if there is none."""
    return RULES[code.upper()]
