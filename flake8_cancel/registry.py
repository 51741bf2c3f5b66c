"""The rule contract: the Rule base class, its codes, defaults, fix safety and doc headings.

A rule is a small class in ``flake8_cancel/rules/``: its docstring is its documentation (ruff's
headings), its class attributes say what it is, and its ``report_*`` hooks say when it fires. The
engine calls each hook on the sites of one traversal; a rule never sees flake8 or the command
line. ``flake8_cancel.rules.all_rules()`` lists the registered rules.
"""

from __future__ import annotations

import enum
import inspect
import re
from typing import (
    ClassVar,
    Dict,
    Iterable,
    List,
    NamedTuple,
    Optional,
    Tuple,
    Type,
    TypeVar,
)

import libcst as cst

from flake8_cancel.edits import Fix
from flake8_cancel.gate import GatePattern
from flake8_cancel.screen import Declaration
from flake8_cancel.settings import Settings
from flake8_cancel.sites import FunctionSite, HandlerSite, Site, TrySite, WithSite

DOC_HEADINGS = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "Not reported",
    "Libraries",
    "Known problems",
)


class FixSafety(enum.Enum):
    """What ``--fix`` can do for a rule's findings (its value is the label users see)."""

    NONE = "none"  # no fix
    # A safe fix where nothing stands against it (fix_safety.doubts), an unsafe one or none
    # elsewhere; the rule's doc says which. No rule can promise a safe fix for every finding.
    SOMETIMES = "sometimes"
    UNSAFE = "unsafe"  # at most an unsafe fix (--unsafe-fixes); some findings have none

    @property
    def is_safe(self) -> bool:
        """Can a plain ``--fix`` apply this rule's fixes (those that are safe)?"""
        return self is FixSafety.SOMETIMES


class Finding(NamedTuple):
    line: int  # 1-based
    column: int  # 0-based, as flake8 plugins report it
    code: str
    message: str

    @property
    def text(self) -> str:
        """What flake8 shows after the position: the code, then the message."""
        return f"{self.code} {self.message}"


class Rule:
    code: ClassVar[str]
    slug: ClassVar[str]
    message: ClassVar[str]
    default_enabled: ClassVar[bool] = True
    fix_safety: ClassVar[FixSafety] = FixSafety.NONE
    # A regular expression for what the finding's column points at: the ``except`` keyword,
    # ``raise``, ``return|break|continue``... (the fixture tests check every finding against it).
    anchor: ClassVar[str] = "except"
    # The cheap gate: a regular expression that any file able to break this rule must match, a
    # tuple of them that must all match (each a plain search: no lookahead over the file), or
    # two searches that must match in one except handler (gate.InHandler).
    gate: ClassVar[GatePattern]
    # The screen: what a site must have for this rule to judge it, on CPython's ast (screen.py:
    # `handler(CANCELLATION)`, a tuple of several). A necessary condition of a finding, looser
    # than the rule; a file without such a site is never parsed by libcst. None: every file
    # that passes the gate is parsed whole.
    screen: ClassVar[Optional[Declaration]] = None
    # The rule asks which functions run under a deadline (deadlines.py): the traversal then also
    # indexes the module's awaits, in files that pass this rule's gate.
    needs_call_index: ClassVar[bool] = False

    # The message in trio's words, where they differ: its class is `Cancelled`, it has no
    # uncancel(), and its fail_after() raises TooSlowError. None: `message` with `Cancelled`.
    trio_message: ClassVar[Optional[str]] = None

    @classmethod
    def message_for(cls, site: Site) -> str:
        """The message for a finding at ``site``, in the words of its module's library."""
        if site.scope.vocabulary.library != "trio":
            return cls.message
        return cls.trio_message or cls.message.replace("CancelledError", "Cancelled")

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def gate_pattern(cls, settings: Settings) -> GatePattern:
        return cls.gate

    @classmethod
    def applies_to(cls, target_version: Tuple[int, int]) -> bool:
        """Can this rule fire in code for this Python version? The engine runs it only where it
        can (and leaves its gate out elsewhere)."""
        return True

    # -- hooks: the engine calls the ones a rule overrides, from its one traversal ---------------
    def check_handler(self, site: HandlerSite) -> bool:
        """Is this ``except`` clause a finding of this rule (reported at ``except``)?"""
        return False

    def report_handler(self, site: HandlerSite) -> Iterable[cst.CSTNode]:
        """The nodes to report for this ``except`` clause: by default the clause itself when
        ``check_handler`` says so; a rule that reports inside the clause overrides this."""
        return (site.node,) if self.check_handler(site) else ()

    def report_try(self, site: TrySite) -> Iterable[cst.CSTNode]:
        """The nodes to report for this ``try`` statement (its ``finally``, say)."""
        return ()

    def report_with(self, site: WithSite) -> Iterable[cst.CSTNode]:
        """The nodes to report for this ``with`` statement (an item, say)."""
        return ()

    def report_function(self, site: FunctionSite) -> Iterable[cst.CSTNode]:
        """The nodes to report for this function, sync or async (a ``raise`` in it, say)."""
        return ()

    def build_fix(self, site: Site, node: cst.CSTNode) -> Optional[Fix]:
        """The fix for the finding at ``node`` of ``site``, or None where this rule cannot fix
        it. It returns edits; it never edits the tree itself."""
        return None


RULES: Dict[str, Type[Rule]] = {}
R = TypeVar("R", bound=Type[Rule])
_CODE = re.compile(r"CAN[12]\d\d")


def register(rule: R) -> R:
    if not _CODE.fullmatch(rule.code):
        raise ValueError(f"{rule.__name__}: bad code {rule.code!r}")
    if rule.code in RULES:
        raise ValueError(f"{rule.code} registered twice")
    RULES[rule.code] = rule
    return rule


def doc_section(doc: str, heading: str) -> str:
    """The text under ``## heading`` in a rule doc, up to the next heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", doc, re.S | re.M)
    return match.group(1).strip() if match else ""


def doc_code_blocks(doc: str, heading: str) -> List[str]:
    return re.findall(r"```python\n(.*?)```", doc_section(doc, heading), re.S)


def rules_table(rules: Iterable[Type[Rule]]) -> str:
    """The Markdown table of rules for the README."""
    lines = [
        "| Code | Name | Default | Fix | What it finds |",
        "|---|---|---|---|---|",
    ]
    for rule in rules:
        summary = doc_section(rule.doc(), "What it does").split("\n\n")[0].replace("\n", " ")
        default = "on" if rule.default_enabled else "off"
        safety = rule.fix_safety.value
        lines.append(f"| {rule.code} | {rule.slug} | {default} | {safety} | {summary} |")
    return "\n".join(lines)


def rule_page(rule: Type[Rule]) -> str:
    """The rule's documentation page, docs/rules/CODE.md (what ``--explain`` prints)."""
    default = "on" if rule.default_enabled else "off"
    return (
        f"# {rule.code} {rule.slug}\n\n"
        f"Default: {default}. Fix: {rule.fix_safety.value}. Message: `{rule.code} {rule.message}`"
        f"\n\n{rule.doc()}\n"
    )
