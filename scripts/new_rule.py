"""Scaffold a new rule: its module, its fixture and its changelog line.

    python scripts/new_rule.py CAN114 the-new-slug [--site handler|try|with|function]

Writes ``flake8_cancel/rules/can114_the_new_slug.py`` (the rule class with every doc heading to
fill in, registered, reporting nothing yet), ``fixtures/CAN114.py`` (one example to annotate with
``# error: CAN114``) and a line under ``## [Unreleased]`` / ``### Added`` in CHANGELOG.md. It refuses a code or slug already in use, or a file that exists.
The tests then say what is left to do: the doc's examples must fire and be clean, the fixture's
annotations must match, and the README's rule table and docs/rules (scripts/rule_pages.py)
must be regenerated.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOOKS = {
    "handler": ("HandlerSite", "check_handler", "bool", "return False"),
    "try": ("TrySite", "report_try", "Iterable[cst.CSTNode]", "return ()"),
    "with": ("WithSite", "report_with", "Iterable[cst.CSTNode]", "return ()"),
    "function": ("FunctionSite", "report_function", "Iterable[cst.CSTNode]", "return ()"),
}
# The loosest candidate of each kind of site (screen.py), for the rule to narrow.
SCREENS = {
    "handler": ("handler(Named.ANY, body_awaits=False)", "Named, handler"),
    "try": ("try_statement(body_awaits=False)", "try_statement"),
    "with": ("with_statement(body_awaits=False)", "with_statement"),
    "function": ("any_function()", "any_function"),
}

RULE_TEMPLATE = '''\
{imports}

@register
class {class_name}(Rule):
    """
    ## What it does
    TODO: what the rule reports, in one paragraph that ends with a period.

    ## Why is this bad?
    TODO: what goes wrong at run time: which cancellation is lost, and who notices.

    ## Example
    ```python
    TODO: a small module that the rule reports
    ```

    ## Use instead
    ```python
    TODO: the same module, written so that nothing is reported
    ```

    ## Fix safety
    There is no fix.

    ## Not reported
    TODO: the traps: code that looks alike but is right, one item each.

    ## Libraries
    asyncio, anyio and trio: what the rule does for each, and why.

    ## Known problems
    None known.
    """

    code = "{code}"
    slug = "{slug}"
    message = "TODO: the problem; the remedy"
    fix_safety = FixSafety.NONE
    # A regular expression that every file able to hold a finding matches (gate.py).
    gate = r"TODO"
    # What every site the rule reports has, on CPython's ast (screen.py); TODO: narrow it.
    screen = {screen}

    def {hook}(self, site: {site_class}) -> {returns}:
        {body}
'''

FIXTURE_TEMPLATE = '''\
"""{code}: TODO: what this fixture shows. Annotate each reported line with `# error: {code}`."""
import asyncio


async def reported():
    TODO
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("code", help="the new code, e.g. CAN114")
    parser.add_argument("slug", help="its name in kebab case, e.g. cancelled-error-raised-without-cancel")
    parser.add_argument("--site", choices=sorted(HOOKS), default="handler",
                        help="what the rule judges: an except clause (default), a try, a with, "
                             "a function")
    options = parser.parse_args()
    code, slug = options.code.upper(), options.slug
    if not re.fullmatch(r"CAN[12]\d\d", code):
        parser.error(f"{code!r} is not a code of the form CAN1NN or CAN2NN")
    if not re.fullmatch(r"[a-z]+(-[a-z]+)*", slug):
        parser.error(f"{slug!r} is not a kebab-case name such as 'cancelled-error-swallowed'")

    from flake8_cancel.rules import all_rules

    for rule in all_rules():
        if rule.code == code or rule.slug == slug:
            parser.error(f"{rule.code} {rule.slug} exists already")
    module = ROOT / "flake8_cancel" / "rules" / f"{code.lower()}_{slug.replace('-', '_')}.py"
    fixture = ROOT / "fixtures" / f"{code}.py"
    for path in (module, fixture):
        if path.exists():
            parser.error(f"{path.relative_to(ROOT)} exists already")

    site_class, hook, returns, body = HOOKS[options.site]
    screen, screen_names = SCREENS[options.site]
    imports = ["from flake8_cancel.registry import FixSafety, Rule, register",
               f"from flake8_cancel.screen import {screen_names}",
               f"from flake8_cancel.sites import {site_class}"]
    if options.site != "handler":
        imports = ["from typing import Iterable", "", "import libcst as cst", "", *imports]
    # Annotations stay unevaluated: libcst is loaded on first use (flake8_cancel/lazy.py).
    imports = ["from __future__ import annotations", "", *imports]
    class_name = "".join(part.capitalize() for part in slug.split("-"))
    module.write_text(RULE_TEMPLATE.format(
        imports="\n".join(imports) + "\n", class_name=class_name, code=code, slug=slug,
        hook=hook, site_class=site_class, returns=returns, body=body, screen=screen,
    ), encoding="utf-8")
    fixture.write_text(FIXTURE_TEMPLATE.format(code=code), encoding="utf-8")

    changelog = ROOT / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8")
    added = text.find("### Added\n", text.find("## [Unreleased]"))
    if added < 0:
        parser.error("CHANGELOG.md has no '### Added' under '## [Unreleased]'")
    at = added + len("### Added\n")
    line = f"- {code} `{slug}`: TODO: what it catches.\n"
    changelog.write_text(text[:at] + line + text[at:], encoding="utf-8")

    for path in (module, fixture, changelog):
        print(f"wrote {path.relative_to(ROOT)}")
    print("next: fill in every TODO, then run pytest; regenerate the README rule table with\n"
          "  python -c 'from flake8_cancel.registry import rules_table; "
          "from flake8_cancel.rules import all_rules; print(rules_table(all_rules()))'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
