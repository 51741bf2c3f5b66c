"""Orchestration: source -> gate -> screen -> parse -> sites -> rules -> findings. Nothing else.

Used by the flake8 plugin, the command line and the fixer alike. Speed is part of the design:
- the gate (gate.py) is a text search: a file without ``async`` or without anything a rule
  could match is never parsed by libcst. A file that fails it on its own text is searched once
  more with what the names it imports from its project and catches stand for (an exception
  tuple in ``const.py``): only those definitions are read, by CPython's ``ast`` (modules.py);
- the screen (screen.py) looks on CPython's ``ast`` for the sites an enabled rule could report:
  a file without one never reaches libcst (nor is libcst imported, lazy.py), and of a file with
  one, libcst parses only the regions that can matter (regions.py);
- the site walker (sites.py) visits statements only, and the facts about a site are computed
  lazily, once, and shared by every rule;
- positions are computed only for a module that has findings, from CPython's ``ast`` rather than
  by regenerating the module's code (positions.py), and the tree is never copied.
"""

from __future__ import annotations

import ast
import time
from contextlib import contextmanager
from typing import (
    Callable, Counter, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Type,
)

import libcst as cst

from flake8_cancel.gate import Gate, GateText
from flake8_cancel.positions import positions
from flake8_cancel.regions import Region, region_for
from flake8_cancel.registry import Finding, Rule
from flake8_cancel.rules import all_rules
from flake8_cancel.screen import Screen
from flake8_cancel.settings import DEFAULT_TARGET_VERSION, Settings
from flake8_cancel.sites import ModuleContext, Site, collect_sites
from flake8_cancel.source import UncheckableFile, parse, python_tree_of, refuse_deep_nesting

TargetVersion = Tuple[int, int]


class Issue(NamedTuple):
    """A finding, with what a fix needs: the rule, the node it is reported at, and its site."""

    finding: Finding
    rule: Rule
    node: cst.CSTNode
    site: Site


class Statistics:
    """What the engine did, for ``--statistics``: counts, and seconds per stage."""

    STAGES = ("read", "gate", "screen", "parse", "analyse", "positions", "fix")

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.seconds: Counter = Counter()

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start

    def merge(self, other: "Statistics") -> None:
        self.counts.update(other.counts)
        self.seconds.update(other.seconds)

    def report(self) -> str:
        counts = self.counts
        stages = ", ".join(
            f"{stage} {self.seconds[stage]:.2f}" for stage in self.STAGES if stage in self.seconds
        )
        return (
            f"files: {counts['files']} checked, {counts['gate passed']} passed the gate, "
            f"{counts['parsed']} parsed by libcst ({counts['parsed whole']} whole), "
            f"{counts['findings']} findings\n"
            f"seconds, summed over workers: {stages}"
        )


def _overrides(rule: Rule, *hooks: str) -> bool:
    return any(getattr(type(rule), hook) is not getattr(Rule, hook) for hook in hooks)


class RuleSet:
    """The enabled rules that can fire for one target version, sorted by the sites they judge."""

    def __init__(self, rules: Sequence[Rule], settings: Settings) -> None:
        self.rules = rules
        self.gate = Gate(type(rule).gate_pattern(settings) for rule in rules)
        self.handler_rules = [r for r in rules if _overrides(r, "check_handler", "report_handler")]
        self.try_rules = [r for r in rules if _overrides(r, "report_try")]
        self.with_rules = [r for r in rules if _overrides(r, "report_with")]
        self.function_rules = [r for r in rules if _overrides(r, "report_function")]
        indexing = [rule for rule in rules if type(rule).needs_call_index]
        self.call_index_gate = (
            Gate(type(rule).gate_pattern(settings) for rule in indexing) if indexing else None
        )
        declarations = [type(rule).screen for rule in rules]
        # A rule that declares no candidates sees every file its gate lets through, whole.
        self.screen = (
            Screen(declarations, settings)  # type: ignore[arg-type]
            if all(declaration is not None for declaration in declarations) else None
        )


class Engine:
    """The enabled rules, ready to check any number of files with the same settings."""

    def __init__(
        self, settings: Settings = Settings(), rules: Optional[Sequence[Type[Rule]]] = None
    ) -> None:
        self.settings = settings
        self.statistics = Statistics()
        self.rules = [rule() for rule in (all_rules() if rules is None else rules)]
        # Every enabled rule's gate, searched before the target version is looked up.
        self.gate = Gate(type(rule).gate_pattern(settings) for rule in self.rules)
        self._rule_sets: Dict[TargetVersion, Optional[RuleSet]] = {}

    def rule_set(self, target_version: TargetVersion) -> Optional[RuleSet]:
        """The rules that apply to code for this Python version (CAN202 only below 3.11)."""
        if target_version not in self._rule_sets:
            applying = [rule for rule in self.rules if rule.applies_to(target_version)]
            self._rule_sets[target_version] = (
                RuleSet(applying, self.settings) if applying else None
            )
        return self._rule_sets[target_version]

    def target_version_if_admitted(
        self, source: str, path: Optional[str], text: Optional[GateText] = None
    ) -> Optional[TargetVersion]:
        """The target version for a text that passes the gate of the rules that apply to it
        (with what the names it imports from its project stand for, ``gate.GateText``), else
        None. Raises ConfigurationError like ``Settings.target_version_for``, for a text that
        passes the gate only. Every rule needs an async scope. ``text``: the module's
        ``GateText``, when the caller goes on to analyse it (what was read is read once)."""
        with self.statistics.timing("gate"):
            if not (self.rules and "async" in source):
                return None
            if text is None:
                text = GateText(source, path)
            if not text.passes(self.gate):
                return None
            target_version = self.settings.target_version_for(path)
            rule_set = self.rule_set(target_version)
            if rule_set is None:
                return None
            if len(rule_set.rules) != len(self.rules) and not text.passes(rule_set.gate):
                return None
        self.statistics.counts["gate passed"] += 1
        return target_version

    def check(
        self, source: str, path: Optional[str] = None, python_tree: Optional[ast.AST] = None
    ) -> List[Finding]:
        """Findings for one module's text, sorted (see ``analyze``)."""
        return [issue.finding for issue in self.analyze(source, path, python_tree)]

    def analyze(
        self, source: str, path: Optional[str] = None, python_tree: Optional[ast.AST] = None
    ) -> List[Issue]:
        """Findings for one module's text, sorted. Raises UncheckableFile with the reason, or
        ConfigurationError when the project's pyproject.toml holds an unusable value.

        ``path`` locates the project: its pyproject.toml for the target version, and the
        modules that names imported from the project are defined in.
        ``python_tree`` is the running Python's ``ast`` of this text, when there is one already
        (flake8 has it); otherwise CPython's parser builds one (``source.python_tree_of``). The
        screen looks for candidates on it (screen.py), and it says where findings are
        (positions.py).
        """
        stats = self.statistics
        stats.counts["files"] += 1
        text = GateText(source, path)
        target_version = self.target_version_if_admitted(source, path, text)
        if target_version is None:
            return []
        issues = self.analyze_admitted(source, target_version, python_tree, path, text)
        stats.counts["findings"] += len(issues)
        return issues

    def analyze_admitted(
        self,
        source: str,
        target_version: TargetVersion,
        python_tree: Optional[ast.AST] = None,
        path: Optional[str] = None,
        text: Optional[GateText] = None,
    ) -> List[Issue]:
        """``analyze`` for a text that passed the gate for this target version: the screen,
        then libcst on what can matter (the regions, or the whole module). ``text``: the
        module's ``GateText`` from the gate, if at hand."""
        if text is None:
            text = GateText(source, path)
        stats = self.statistics
        rule_set = self.rule_set(target_version)
        if rule_set is None:
            return []
        region: Optional[Region] = None
        with stats.timing("screen"):
            if python_tree is None:
                python_tree = python_tree_of(source)
            if python_tree is not None and rule_set.screen is not None:
                assert isinstance(python_tree, ast.Module)
                candidates = rule_set.screen.places_with_candidates(
                    python_tree, source, text.imported
                )
                if not candidates:
                    return []
                region = region_for(python_tree, source, candidates)
        stats.counts["parsed"] += 1  # files that reach libcst, by a region or whole
        if region is not None:
            issues = self.analyze_region(region, source, target_version, path, text)
            if issues is not None:
                return issues
        if python_tree is not None:
            refuse_deep_nesting(python_tree)
        with stats.timing("parse"):
            module = parse(source)
        stats.counts["parsed whole"] += 1
        return self.analyze_module(
            module, source, target_version, python_tree, path, gate_text=text
        )

    def analyze_region(
        self,
        region: Region,
        source: str,
        target_version: TargetVersion,
        path: Optional[str],
        text: Optional[GateText] = None,
    ) -> Optional[List[Issue]]:
        """The findings of the module, from its region; None where the whole module must tell:
        libcst refuses the region (the whole file's parse says why)."""
        refuse_deep_nesting(region.tree)
        with self.statistics.timing("parse"):
            try:
                module = parse(region.text)
            except UncheckableFile:
                return None
        return self.analyze_module(
            module, source, target_version, region.tree, path, region.file_line, text
        )

    def analyze_module(
        self,
        module: cst.Module,
        source: str,
        target_version: TargetVersion = DEFAULT_TARGET_VERSION,
        python_tree: Optional[ast.AST] = None,
        path: Optional[str] = None,
        file_line: Optional[Callable[[int], int]] = None,
        gate_text: Optional[GateText] = None,
    ) -> List[Issue]:
        """Findings in a parsed module. ``python_tree``: CPython's ``ast`` of ``source``, if
        at hand (else it is parsed when there are findings to place). ``path`` tells whether
        the target version was declared (by an option or the project) or only assumed, and
        where the modules are that names imported from the project are defined in.

        ``module`` may be a region of ``source`` (regions.py): then ``python_tree`` is its
        ``ast`` (the file's own nodes) and ``file_line`` maps a line of the region's text to
        the file's."""
        rule_set = self.rule_set(target_version)
        if rule_set is None:
            return []
        try:
            with self.statistics.timing("analyse"):
                found = self._find(
                    module, source, target_version, rule_set, path, file_line is not None,
                    gate_text or GateText(source, path),
                )
            if not found:
                return []
            with self.statistics.timing("positions"):
                where = positions(
                    module, source, [node for node, _, _ in found], python_tree, file_line
                )
        except RecursionError:
            raise UncheckableFile("skipped: too deeply nested") from None
        issues = []
        for node, rule, site in found:
            line, column = where[id(node)]
            message = rule.message_for(site)
            issues.append(Issue(Finding(line, column, rule.code, message), rule, node, site))
        return sorted(issues, key=lambda issue: issue.finding)

    def _find(
        self,
        module: cst.Module,
        source: str,
        target_version: TargetVersion,
        rule_set: RuleSet,
        path: Optional[str],
        is_region: bool,
        text: GateText,
    ) -> List[Tuple[cst.CSTNode, Rule, Site]]:
        """The one traversal, then every rule's hooks on the sites it collected."""
        index_calls = bool(rule_set.call_index_gate and text.passes(rule_set.call_index_gate))
        context = ModuleContext(
            module, source, self.settings, target_version, index_calls, path, is_region
        )
        sites = collect_sites(context)
        # Handlers are judged after the traversal: a deadline set further down the module
        # (`wait_for(f())` below `f`) can decide what a handler in `f` means.
        found: List[Tuple[cst.CSTNode, Rule, Site]] = []
        for try_site in sites.try_sites:
            for rule in rule_set.try_rules:
                found.extend((node, rule, try_site) for node in rule.report_try(try_site))
        for handler_site in sites.handler_sites():
            for rule in rule_set.handler_rules:
                found.extend((node, rule, handler_site) for node in rule.report_handler(handler_site))
        for with_site in sites.with_sites:
            for rule in rule_set.with_rules:
                found.extend((node, rule, with_site) for node in rule.report_with(with_site))
        for function_site in sites.function_sites:
            for rule in rule_set.function_rules:
                found.extend(
                    (node, rule, function_site) for node in rule.report_function(function_site)
                )
        return found
