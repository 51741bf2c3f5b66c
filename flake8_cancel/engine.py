"""gate -> parse -> one pruned traversal -> findings. Used by the flake8 plugin and the CLI alike.

Speed is part of the design:
- the gate is a text search: a file without ``async`` or without anything a rule could match is
  never parsed by libcst;
- the traversal visits statements only, and descends into an expression only where a rule asks
  (a try body that might await, a handler under analysis), never into a whole module;
- the facts about a handler (what it catches, its paths, its shield) are computed lazily, once,
  and shared by every rule;
- positions are computed only for a module that has findings, from CPython's ast rather than by
  regenerating the module's code (positions.py), and the tree is never copied.
"""

from __future__ import annotations

import ast
import io
import re
import time
import tokenize
from contextlib import contextmanager
from functools import cached_property
from typing import (
    Counter,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Pattern,
    Sequence,
    Set,
    Tuple,
    Type,
    Union,
)

import libcst as cst

from flake8_cancel.flow import HandlerPaths, analyze_handler
from flake8_cancel.names import (
    ASYNC_TIMEOUT_MANAGERS,
    Bindings,
    Catch,
    Vocabulary,
    collect_module_bindings,
    never_returning_functions,
    record_simple_statement,
)
from flake8_cancel.positions import positions
from flake8_cancel.registry import Finding, Rule, all_rules
from flake8_cancel.settings import DEFAULT_TARGET_VERSION, Settings
from flake8_cancel.syntax import (
    Statement,
    awaited_names,
    descendants,
    dotted_name,
    has_cancellation_point,
    small_statements,
    statements,
)
from flake8_cancel.timing import CallIndex, header_expressions

TryNode = Union[cst.Try, cst.TryStar]
ASYNCIO_RUN = frozenset({"asyncio.run", "asyncio.runners.run"})
_RUN_CALL = re.compile(r"\brun\(\s*([A-Za-z_]\w*)\s*\(")


class Issue(NamedTuple):
    """A finding, with what a fix needs: the rule, the node it is reported at, and its site."""

    finding: Finding
    rule: Rule
    node: cst.CSTNode
    site: object  # the HandlerSite, TrySite or WithSite the rule reported from


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
            f"{counts['parsed']} parsed by libcst, {counts['findings']} findings\n"
            f"seconds, summed over workers: {stages}"
        )


class UncheckableFile(Exception):
    """The file cannot be checked; the message says why, for a person."""


class ModuleContext:
    """Facts about the whole module, each computed at most once and only when asked."""

    def __init__(
        self,
        module: cst.Module,
        source: str,
        settings: Settings,
        target_version: Tuple[int, int],
        index_calls: bool,
    ) -> None:
        self.module = module
        self.source = source
        self.bindings = collect_module_bindings(module)
        self.settings = settings
        self.target_version = target_version
        self.vocabulary = self.vocabulary_for(self.bindings)
        # Filled by the traversal, only where a timeout rule could fire.
        self.call_index: Optional[CallIndex] = CallIndex(module) if index_calls else None

    @cached_property
    def timed_functions(self) -> Set[int]:
        return self.call_index.timed_functions() if self.call_index is not None else set()

    def vocabulary_for(self, bindings: Bindings) -> Vocabulary:
        return Vocabulary(
            bindings,
            cancelled=self.settings.cancelled_names,
            never_returning=self.settings.never_returning,
            local_never_returning=self.local_never_returning,
            suppressors=self.settings.suppressors,
            timeout_managers=self.settings.timeout_managers,
        )

    @cached_property
    def local_never_returning(self) -> frozenset:
        return never_returning_functions(self.module, self.bindings)

    @cached_property
    def main_coroutines(self) -> frozenset:
        """Module-level coroutine functions that this module runs with ``asyncio.run(f(...))``."""
        candidates = set(_RUN_CALL.findall(self.source))
        if not candidates:
            return frozenset()
        found = set()
        for node in descendants(self.module, enter_nested_scopes=True):
            if not (isinstance(node, cst.Call) and node.args):
                continue
            coroutine = node.args[0].value
            if not (
                isinstance(coroutine, cst.Call)
                and isinstance(coroutine.func, cst.Name)
                and coroutine.func.value in candidates
            ):
                continue
            meanings = self.bindings.resolve(node.func)
            # `import asyncio` inside `def main():` leaves `asyncio` unbound at module level.
            if not meanings and dotted_name(node.func) == "asyncio.run":
                meanings = frozenset({"asyncio.run"})
            if not meanings.isdisjoint(ASYNCIO_RUN):
                found.add(coroutine.func.value)
        return frozenset(found)


class Scope:
    """The innermost function (or class, or the module) that statements belong to."""

    __slots__ = ("function", "is_async", "parent", "vocabulary", "owner_class", "_own_bindings")

    def __init__(
        self,
        function: Optional[cst.FunctionDef],
        is_async: bool,
        parent: Optional["Scope"],
        vocabulary: Vocabulary,
        owner_class: Optional[cst.ClassDef] = None,
    ) -> None:
        self.function = function
        self.is_async = is_async
        self.parent = parent
        self.vocabulary = vocabulary
        # The class that `self`/`cls` refer to here: the class itself for a class body, the
        # enclosing class for a method and for functions nested in it.
        self.owner_class = owner_class
        self._own_bindings = False

    @property
    def is_module_level_function(self) -> bool:
        return self.function is not None and self.parent is not None and self.parent.parent is None

    def record_imports(self, statement: Statement, context: ModuleContext) -> None:
        if not any(isinstance(s, (cst.Import, cst.ImportFrom)) for s in small_statements(statement)):
            return
        if not self._own_bindings:
            # First import in this function: give it bindings of its own, chained to the outer.
            self.vocabulary = context.vocabulary_for(Bindings(parent=self.vocabulary.bindings))
            self._own_bindings = True
        record_simple_statement(statement, self.vocabulary.bindings)


class TrySite:
    """One ``try`` statement in an async scope: what every handler of it shares."""

    def __init__(
        self, node: TryNode, scope: Scope, context: ModuleContext, in_timeout_block: bool
    ) -> None:
        self.node = node
        self.scope = scope
        self.context = context
        self.in_timeout_block = in_timeout_block  # inside `async with asyncio.timeout()`, same function

    @cached_property
    def catches(self) -> List[Catch]:
        return [self.scope.vocabulary.catch_of(handler.type) for handler in self.node.handlers]

    @cached_property
    def body_awaits(self) -> bool:
        return has_cancellation_point(self.node.body)

    @cached_property
    def in_timed_scope(self) -> bool:
        """A deadline on this code arrives as CancelledError here (see timing.py)."""
        function = self.scope.function
        return self.in_timeout_block or (
            function is not None and id(function) in self.context.timed_functions
        )

    @cached_property
    def body_has_own_timeout(self) -> bool:
        """The try body has a deadline of its own: a nested ``wait_for`` or timeout manager, or a
        call with a ``timeout=``/``*_timeout=`` argument. Its TimeoutError can arrive here."""
        vocabulary = self.scope.vocabulary
        for node in descendants(self.node.body):
            if not isinstance(node, cst.Call):
                continue
            if vocabulary.is_wait_for(node) or vocabulary.is_timeout_manager(node):
                return True
            for argument in node.args:
                keyword = argument.keyword
                if keyword is not None and (
                    keyword.value == "timeout" or keyword.value.endswith("_timeout")
                ):
                    return True
        return False

    @cached_property
    def body_awaits_asyncio_timeout_source(self) -> bool:
        """The try body awaits ``asyncio.wait_for(...)`` or enters an ``async_timeout`` block:
        both raise asyncio.TimeoutError, a class of its own before Python 3.11."""
        vocabulary = self.scope.vocabulary
        for node in descendants(self.node.body):
            if isinstance(node, cst.Await) and vocabulary.is_wait_for(node.expression):
                return True
            if isinstance(node, cst.With) and node.asynchronous:
                for item in node.items:
                    manager = item.item
                    if isinstance(manager, cst.Call) and vocabulary.bindings.resolves_to(
                        manager.func, ASYNC_TIMEOUT_MANAGERS
                    ):
                        return True
        return False


def in_main_coroutine(scope: Scope, context: ModuleContext) -> bool:
    return (
        scope.is_module_level_function
        and scope.function is not None
        and scope.function.name.value in context.main_coroutines
    )


def awaits_only_cancelled_children(body: cst.CSTNode, stop: cst.CSTNode, scope: Scope) -> bool:
    """Does ``body`` await only names (or attribute chains) whose ``.cancel()`` the function
    called before reaching ``stop``?"""
    awaited = awaited_names(body, scope.vocabulary)
    if not awaited or scope.function is None:
        return False
    cancelled = set()
    for node in descendants(scope.function):  # in source order
        if node is stop:
            break
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "cancel"
        ):
            cancelled.add(dotted_name(node.func.value))
    return awaited <= cancelled


class WithSite:
    """One ``with`` statement in an async scope."""

    def __init__(self, node: cst.With, scope: Scope, context: ModuleContext) -> None:
        self.node = node
        self.scope = scope
        self.context = context

    @cached_property
    def suppression(self) -> Optional[Tuple[Catch, List[cst.BaseExpression]]]:
        """What its suppressing context managers swallow, or None if none suppresses."""
        return self.scope.vocabulary.suppression_of(self.node)

    @cached_property
    def body_awaits(self) -> bool:
        return has_cancellation_point(self.node.body)

    @cached_property
    def awaits_cancelled_child(self) -> bool:
        """``t.cancel()`` then ``with suppress(CancelledError): await t``."""
        return awaits_only_cancelled_children(self.node.body, self.node, self.scope)

    @cached_property
    def in_main_coroutine(self) -> bool:
        return in_main_coroutine(self.scope, self.context)

    def suppressing_items(self) -> List[cst.WithItem]:
        vocabulary = self.scope.vocabulary
        return [
            item
            for item in self.node.items
            if isinstance(item.item, cst.Call)
            and vocabulary.bindings.resolves_to(item.item.func, vocabulary.suppressors)
        ]


class HandlerSite:
    """One ``except`` clause, with the facts that the rules ask about it, computed lazily."""

    def __init__(self, try_site: TrySite, index: int) -> None:
        self.try_site = try_site
        self.index = index
        self.node = try_site.node.handlers[index]
        self.catch = try_site.catches[index]

    @property
    def is_star(self) -> bool:
        return isinstance(self.node, cst.ExceptStarHandler)

    @cached_property
    def catches_only_cancellation(self) -> bool:
        """The clause names cancellation spellings only (so a bare ``raise`` added to it can
        re-raise nothing else)."""
        vocabulary = self.try_site.scope.vocabulary
        written = self.node.type
        return written is not None and all(
            vocabulary.is_cancelled_error(single)
            for single in vocabulary.bindings.exception_types(written)
        )

    @cached_property
    def shielded(self) -> bool:
        """An earlier clause of the same try already catches cancellation: this one never sees it."""
        return any(catch.catches_cancellation for catch in self.try_site.catches[: self.index])

    @cached_property
    def paths(self) -> HandlerPaths:
        return analyze_handler(self.node, self.try_site.scope.vocabulary)

    @cached_property
    def in_main_coroutine(self) -> bool:
        """In the coroutine that ``asyncio.run`` runs: nobody but the runner awaits it."""
        return in_main_coroutine(self.try_site.scope, self.try_site.context)

    @cached_property
    def awaits_cancelled_child(self) -> bool:
        """The child-cancel idiom: ``t.cancel()`` earlier in the function, then a try body that
        only awaits ``t`` (the same name or attribute chain), optionally under a timeout block.
        The handler then expects ``t``'s cancellation; CAN110 (opt-in) reports what it risks."""
        return awaits_only_cancelled_children(
            self.try_site.node.body, self.node, self.try_site.scope
        )

    @cached_property
    def defers_reraise(self) -> bool:
        """The handler keeps the exception (``errors.append(exc)``, ``error = exc``) and the
        function raises what it kept (``raise error``, ``raise errors[0]``): nothing is lost."""
        if self.node.name is None or not isinstance(self.node.name.name, cst.Name):
            return False
        bound = self.node.name.name.value
        kept = set()
        for node in descendants(self.node):
            if (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in ("append", "add", "put_nowait")
                and len(node.args) == 1
                and isinstance(node.args[0].value, cst.Name)
                and node.args[0].value.value == bound
            ):
                kept.add(dotted_name(node.func.value))
            elif (
                isinstance(node, cst.Assign)
                and isinstance(node.value, cst.Name)
                and node.value.value == bound
            ):
                kept.update(dotted_name(target.target) for target in node.targets)
        kept.discard(None)
        function = self.try_site.scope.function
        if not kept or function is None:
            return False
        for node in descendants(function):
            if isinstance(node, cst.Raise) and node.exc is not None:
                raised = node.exc.value if isinstance(node.exc, cst.Subscript) else node.exc
                if dotted_name(raised) in kept:
                    return True
        return False

    @cached_property
    def sees_cancellation(self) -> bool:
        """The task's cancellation can arrive in the try body and reach this clause."""
        return self.catch.catches_cancellation and not self.shielded and self.try_site.body_awaits

    @cached_property
    def swallows_cancellation(self) -> bool:
        """Some path lets a cancellation that reached this clause end here, unsanctioned."""
        return (
            self.sees_cancellation
            and bool(self.paths.swallowing)
            and not self.in_main_coroutine
            and not self.defers_reraise
        )


class Engine:
    """The enabled rules, ready to check any number of files with the same settings."""

    def __init__(
        self, settings: Settings = Settings(), rules: Optional[Iterable[Type[Rule]]] = None
    ) -> None:
        self.settings = settings
        self.statistics = Statistics()
        self.rules = [rule() for rule in (all_rules() if rules is None else rules)]
        def overrides(rule: Rule, *hooks: str) -> bool:
            return any(getattr(type(rule), hook) is not getattr(Rule, hook) for hook in hooks)

        self.handler_rules = [r for r in self.rules if overrides(r, "check_handler", "report_handler")]
        self.try_rules = [r for r in self.rules if overrides(r, "report_try")]
        self.with_rules = [r for r in self.rules if overrides(r, "report_with")]
        self.gate = Gate(self.rules, settings) if self.rules else None
        indexing = [rule for rule in self.rules if type(rule).needs_call_index]
        self.call_index_gate = Gate(indexing, settings) if indexing else None
        self._gates_by_target: Dict[Tuple[int, int], Optional[Gate]] = {}

    def passes_gate(self, source: str) -> bool:
        """Can this text hold a finding at all? Every rule needs an async scope."""
        return self.gate is not None and "async" in source and self.gate.search(source)

    def target_version_if_admitted(self, source: str, path: Optional[str]) -> Optional[Tuple[int, int]]:
        """The target version for a text that passes the gate of the rules that apply to it
        (CAN202 only below 3.11), else None. Raises ConfigurationError like
        ``Settings.target_version_for``, for a text that passes the gate only."""
        with self.statistics.timing("gate"):
            if not self.passes_gate(source):
                return None
            target_version = self.settings.target_version_for(path)
            gate = self._gate_for(target_version)
            if gate is not self.gate and (gate is None or not gate.search(source)):
                return None
        self.statistics.counts["gate passed"] += 1
        return target_version

    def _gate_for(self, target_version: Tuple[int, int]) -> Optional[Gate]:
        if target_version not in self._gates_by_target:
            applying = [rule for rule in self.rules if rule.applies_to(target_version)]
            same = len(applying) == len(self.rules)
            self._gates_by_target[target_version] = (
                self.gate if same else Gate(applying, self.settings) if applying else None
            )
        return self._gates_by_target[target_version]

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

        ``path`` locates the project (its pyproject.toml) for the target version.
        ``python_tree`` is the running Python's ``ast`` of this text, when there is one already
        (flake8 has it); otherwise CPython's parser screens the text first, see
        ``screen_with_python``. It also says where findings are (positions.py).
        """
        stats = self.statistics
        stats.counts["files"] += 1
        target_version = self.target_version_if_admitted(source, path)
        if target_version is None:
            return []
        with stats.timing("screen"):
            if python_tree is None:
                python_tree = screen_with_python(source)
            else:
                refuse_deep_nesting(python_tree)
        with stats.timing("parse"):
            module = parse(source)
        stats.counts["parsed"] += 1
        issues = self.analyze_module(module, source, target_version, python_tree)
        stats.counts["findings"] += len(issues)
        return issues

    def analyze_module(
        self,
        module: cst.Module,
        source: str,
        target_version: Tuple[int, int] = DEFAULT_TARGET_VERSION,
        python_tree: Optional[ast.AST] = None,
    ) -> List[Issue]:
        """Findings in a parsed module. ``python_tree``: CPython's ``ast`` of ``source``, if
        at hand (else it is parsed when there are findings to place)."""
        try:
            return self._analyze_module(module, source, target_version, python_tree)
        except RecursionError:
            raise UncheckableFile("skipped: too deeply nested") from None

    def _analyze_module(
        self,
        module: cst.Module,
        source: str,
        target_version: Tuple[int, int],
        python_tree: Optional[ast.AST],
    ) -> List[Issue]:
        with self.statistics.timing("analyse"):
            found = self._find(module, source, target_version)
        if not found:
            return []
        with self.statistics.timing("positions"):
            where = positions(module, source, [node for node, _, _ in found], python_tree)
        issues = []
        for node, rule, site in found:
            line, column = where[id(node)]
            finding = Finding(line, column, rule.code, rule.message)
            issues.append(Issue(finding, rule, node, site))
        return sorted(issues, key=lambda issue: issue.finding)

    def _find(
        self, module: cst.Module, source: str, target_version: Tuple[int, int]
    ) -> List[Tuple[cst.CSTNode, Rule, object]]:
        """The one traversal, then every rule's hooks on the sites it collected."""
        index_calls = self.call_index_gate is not None and self.call_index_gate.search(source)
        context = ModuleContext(module, source, self.settings, target_version, index_calls)
        walker = _Walker(context)
        walker.walk(module.body, Scope(None, False, None, context.vocabulary), False)
        # Handlers are judged after the traversal: a deadline set further down the module
        # (`wait_for(f())` below `f`) can decide what a handler in `f` means.
        found: List[Tuple[cst.CSTNode, Rule, object]] = []
        for try_site in walker.try_sites:
            for rule in self.try_rules:
                found.extend((node, rule, try_site) for node in rule.report_try(try_site))
            for index in range(len(try_site.node.handlers)):
                site = HandlerSite(try_site, index)
                for rule in self.handler_rules:
                    found.extend((node, rule, site) for node in rule.report_handler(site))
        for with_site in walker.with_sites:
            for rule in self.with_rules:
                found.extend((node, rule, with_site) for node in rule.report_with(with_site))
        return found


def decode_source(data: bytes) -> str:
    """The text of a Python file, decoded as Python would (BOM, coding cookie, else UTF-8)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        # tokenize reads the first two lines for a coding cookie, and fails on bytes that
        # are not UTF-8 there before it has found one: same fault as further down the file.
        if error.msg.startswith("invalid or missing encoding declaration"):
            raise UncheckableFile("cannot decode as UTF-8") from None
        if error.msg.startswith("encoding problem"):
            raise UncheckableFile(
                "cannot decode: a UTF-8 BOM and a coding cookie for another encoding"
            ) from None
        raise UncheckableFile(f"cannot decode: {error.msg}") from None
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        name = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        raise UncheckableFile(f"cannot decode as {name}") from None


class Gate:
    """Can this text hold a finding of these rules? A rule's gate is a pattern, or a tuple of
    patterns that must all match.

    Each pattern is searched on its own, and a pattern's top-level alternatives are split apart
    (``CancelledError|BaseException`` is two searches): a pattern that starts with a literal is
    found by a fast scan, while an alternation is tried branch by branch at every character.
    Identical searches of several rules run once.
    """

    def __init__(self, rules: Sequence[Rule], settings: Settings) -> None:
        compiled: Dict[str, Pattern[str]] = {}

        def search_for(pattern: str) -> Tuple[Pattern[str], ...]:
            return tuple(
                compiled.setdefault(part, re.compile(part)) for part in alternatives(pattern)
            )

        any_of: List[Pattern[str]] = []
        self.all_of: List[Tuple[Tuple[Pattern[str], ...], ...]] = []
        for rule in rules:
            pattern = type(rule).gate_pattern(settings)
            if isinstance(pattern, str):
                any_of.extend(search_for(pattern))
            else:
                self.all_of.append(tuple(search_for(part) for part in pattern))
        self.any_of = list(dict.fromkeys(any_of))  # one search for what several rules share

    def search(self, source: str) -> bool:
        if any(pattern.search(source) for pattern in self.any_of):
            return True
        return any(
            all(any(p.search(source) for p in part) for part in parts) for parts in self.all_of
        )


def alternatives(pattern: str) -> List[str]:
    """A pattern's top-level alternatives, each searchable alone; the pattern whole when it
    has groups or inline flags (a backreference or ``(?m)`` does not survive the split)."""
    if "(?" in pattern.replace("(?:", "") or re.compile(pattern).groups:
        return [pattern]
    parts, depth, in_class, start, index = [], 0, False, 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 1
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1 : index + 2] == "]":  # a "]" first in a class is literal
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:index])
            start = index + 1
        index += 1
    parts.append(pattern[start:])
    return parts


def screen_with_python(source: str) -> Optional[ast.AST]:
    """Refuse what no Python accepts and libcst's native parser cannot survive.

    libcst crashes the process (a segfault, not an exception) on a few thousand nested brackets,
    unary operators or lambdas, and takes minutes on huge expression chains. CPython's C parser
    rejects most of these quickly, so it screens every file before libcst sees it; what it
    accepts is measured by ``refuse_deep_nesting``. A plain syntax error is left to libcst: it
    may be newer syntax that libcst knows and this Python does not. Returns CPython's tree, or
    None for such a syntax error.
    """
    try:
        tree = ast.parse(source)
    except (RecursionError, MemoryError):
        raise UncheckableFile("skipped: too deeply nested") from None
    except SyntaxError as error:
        if error.msg.startswith(("too many", "too complex")):
            raise UncheckableFile("skipped: too deeply nested") from None
        if "null bytes" in error.msg:
            raise UncheckableFile("contains a NUL byte") from None
    except ValueError:  # Python < 3.12 reports a NUL byte this way
        raise UncheckableFile("contains a NUL byte") from None
    else:
        refuse_deep_nesting(tree)
        return tree
    return None


# Deeper than any real code (homeassistant's deepest file: 16), far below what libcst survives.
MAX_NESTING = 1000


def refuse_deep_nesting(tree: ast.AST) -> None:
    """Refuse an expression nested deeper than MAX_NESTING. Python 3.9 and 3.10 (and 3.13, up to
    a few thousand) accept chains such as ``a.b.b.b...`` or ``1 + 1 + ...`` that libcst parses
    in quadratic time, or crashes on. Statements start the count afresh: their nesting is
    bounded by Python's, and a long elif chain is no trouble to libcst."""
    children = ast.iter_child_nodes
    statement = ast.stmt
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise UncheckableFile("skipped: too deeply nested")
        stack.extend(
            (child, 1 if isinstance(child, statement) else depth + 1) for child in children(node)
        )


def parse(source: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise UncheckableFile(_syntax_error_reason(source, error)) from None
    except RecursionError:
        raise UncheckableFile("skipped: too deeply nested") from None


def _syntax_error_reason(source: str, error: cst.ParserSyntaxError) -> str:
    # libcst's native parser often points past the real error; CPython's parser does not.
    try:
        ast.parse(source)
    except SyntaxError as python_error:
        return f"syntax error at line {python_error.lineno}: {python_error.msg}"
    except (RecursionError, MemoryError, ValueError):
        pass
    else:  # valid Python (thousands of adjacent string literals): a limit of libcst's parser
        return f"skipped: libcst cannot parse it (line {error.raw_line}: {error.message})"
    return f"syntax error at line {error.raw_line}: {error.message}"


class _Walker:
    """The one traversal: statements only, scope by scope, pruned of everything else."""

    def __init__(self, context: ModuleContext) -> None:
        self.context = context
        self.try_sites: List[TrySite] = []
        self.with_sites: List[WithSite] = []

    def walk(self, block: Sequence[Statement], scope: Scope, in_timeout: bool) -> None:
        index = self.context.call_index
        for statement in block:
            if index is not None:
                index.record(
                    header_expressions(statement), scope.function, scope.owner_class,
                    in_timeout, scope.vocabulary,
                )
            if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                if scope.function is not None:
                    scope.record_imports(statement, self.context)
            elif isinstance(statement, cst.FunctionDef):
                inner = Scope(
                    statement, statement.asynchronous is not None, scope, scope.vocabulary,
                    scope.owner_class,
                )
                self.walk(statements(statement.body), inner, False)
            elif isinstance(statement, cst.ClassDef):
                inner = Scope(None, False, scope, scope.vocabulary, statement)
                self.walk(statements(statement.body), inner, False)
            elif isinstance(statement, (cst.Try, cst.TryStar)):
                if scope.is_async:
                    self.try_sites.append(TrySite(statement, scope, self.context, in_timeout))
                self.walk(statements(statement.body), scope, in_timeout)
                for handler in statement.handlers:
                    self.walk(statements(handler.body), scope, in_timeout)
                if statement.orelse is not None:
                    self.walk(statements(statement.orelse.body), scope, in_timeout)
                if statement.finalbody is not None:
                    self.walk(statements(statement.finalbody.body), scope, in_timeout)
            elif isinstance(statement, cst.If):
                branch: Union[cst.If, cst.Else, None] = statement
                while isinstance(branch, cst.If):  # a loop: an elif chain can be thousands long
                    self.walk(statements(branch.body), scope, in_timeout)
                    branch = branch.orelse
                if branch is not None:
                    self.walk(statements(branch.body), scope, in_timeout)
            elif isinstance(statement, (cst.For, cst.While)):
                self.walk(statements(statement.body), scope, in_timeout)
                if statement.orelse is not None:
                    self.walk(statements(statement.orelse.body), scope, in_timeout)
            elif isinstance(statement, cst.With):
                if scope.is_async:
                    self.with_sites.append(WithSite(statement, scope, self.context))
                timed = statement.asynchronous is not None and any(
                    scope.vocabulary.is_timeout_manager(item.item) for item in statement.items
                )
                self.walk(statements(statement.body), scope, in_timeout or timed)
            elif isinstance(statement, cst.Match):
                for case in statement.cases:
                    self.walk(statements(case.body), scope, in_timeout)
