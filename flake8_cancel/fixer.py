"""The fix loop: apply, re-lint, repeat until nothing more is fixable; and writing files.

The loop applies the fixes of the findings the linter reports (never one marked ``# noqa``),
re-parses and re-lints, and stops when nothing fixable is left or after ``MAX_ROUNDS``. The
result must parse with libcst and compile with this Python (when the original did); otherwise
the file is left as it was and the reason is given.

Everything works on bytes: libcst keeps the encoding, BOM, line endings and indentation, and
changes nothing outside the edited nodes.
"""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from collections import Counter
from functools import lru_cache
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

import libcst as cst

from flake8_cancel.edits import Fix, Rebuild
from flake8_cancel.engine import Engine, Issue
from flake8_cancel.gate import GateText
from flake8_cancel.noqa import NoqaLines, file_is_exempt
from flake8_cancel.registry import Finding, FixSafety
from flake8_cancel.sites import HandlerSite
from flake8_cancel.source import (
    UncheckableFile,
    decode_source,
    parse_bytes,
    python_tree_of,
    refuse_deep_nesting,
)
from flake8_cancel.syntax import physical_lines

MAX_ROUNDS = 8


class FixResult(NamedTuple):
    data: bytes  # the fixed file, or the original when nothing changed or a check failed
    fixed: Counter  # code -> number of findings fixed
    # What is still reported afterwards (noqa'd findings excluded), each with the fix that
    # remains available ("unsafe" when --unsafe-fixes was not given), if any.
    remaining: List[Tuple[Finding, Optional[str]]]
    problem: Optional[str] = None
    # Findings whose fix was built but not applied, with why (it would add a finding).
    not_applied: Tuple[Tuple[Finding, str], ...] = ()


@lru_cache(maxsize=None)
def _edit_applier() -> type:
    """The transformer that rebuilds each edited node, defined on first use: a class based on
    libcst's would load libcst when this module is imported (lazy.py)."""

    class ApplyEdits(cst.CSTTransformer):
        def __init__(self, edits: Dict[int, Rebuild]) -> None:
            super().__init__()
            self.edits = edits

        def on_leave(self, original_node, updated_node):  # type: ignore[override]
            rebuild = self.edits.get(id(original_node))
            return rebuild(updated_node) if rebuild is not None else updated_node

    return ApplyEdits


def fix_bytes(
    data: bytes,
    engine: Engine,
    path: Optional[str] = None,
    unsafe: bool = False,
    ignore: Sequence[str] = (),
) -> FixResult:
    """Apply the fixes for ``data`` (a whole file). Raises UncheckableFile like the linter.
    Codes starting with one of ``ignore`` (per-file ignores) are neither fixed nor reported."""
    text = decode_source(data)
    stats = engine.statistics
    stats.counts["files"] += 1
    if file_is_exempt(text):
        return FixResult(data, Counter(), [])
    gate_text = GateText(text, path)
    target_version = engine.target_version_if_admitted(text, path, gate_text)
    if target_version is None:
        return FixResult(data, Counter(), [])
    python_tree = python_tree_of(text)
    # Most files that pass the gate hold nothing to fix: the screen and the regions tell that
    # without parsing the whole file (engine.analyze_admitted). Where there are findings, the
    # whole file is parsed and fixed, since fixes rebuild it.
    parsed_whole = stats.counts["parsed whole"]
    if python_tree is not None:
        if not engine.analyze_admitted(text, target_version, python_tree, path, gate_text):
            return FixResult(data, Counter(), [])
        refuse_deep_nesting(python_tree)
    else:
        stats.counts["parsed"] += 1
    module = parse_bytes(data)
    if stats.counts["parsed whole"] == parsed_whole:
        stats.counts["parsed whole"] += 1
    # The text and bytes of `module`, kept beside it: libcst's code generation is the costly
    # part of fixing, so it runs once per round that changed something, never to re-read.
    current_text, current_data = text, data
    fixed: Counter = Counter()
    issues: List[Issue] = []
    checker = _Checker(engine, target_version, unsafe, path)
    not_applied: Dict[Tuple[int, int, str], Tuple[Finding, str]] = {}
    for _ in range(MAX_ROUNDS):
        issues = _without(
            engine.analyze_module(module, current_text, target_version, python_tree, path), ignore
        )
        python_tree = None  # it is the tree of the text before this round's fixes
        chosen = _fixes_to_apply(issues, NoqaLines(current_text), unsafe)
        try:
            chosen, dropped = checker.without_fixes_that_add_findings(module, current_text, chosen)
        except Exception as error:  # a fix builder's bug must not cost the user their file
            return _unchanged(data, f"fix failed ({type(error).__name__}: {error})")
        not_applied = {_key(finding): (finding, why) for finding, why in dropped}
        if not chosen:
            break
        try:
            fixed_data = _apply(module, [fix for _, fix in chosen]).bytes
        except Exception as error:  # a fix builder's bug must not cost the user their file
            return _unchanged(data, f"fix failed ({type(error).__name__}: {error})")
        if fixed_data == current_data:
            break  # the fixes did not take: never repeat them
        current_data = fixed_data
        issues = []
        for issue, _ in chosen:
            fixed[issue.finding.code] += 1
        try:
            module = parse_bytes(current_data)  # analyse what a fresh parse sees
            current_text = decode_source(current_data)
        except (UncheckableFile, cst.ParserSyntaxError) as problem:
            return _unchanged(data, f"fix produced code that does not parse ({problem})")
    # Code this Python cannot compile (newer syntax) is checked by libcst's parse alone.
    if current_data != data and _compile_error(data, path) is None:
        error = _compile_error(current_data, path)
        if error is not None:
            return _unchanged(data, f"fix produced code that does not compile ({error})")
    if not issues:  # the last round applied fixes: lint what they produced
        issues = _without(
            engine.analyze_module(module, current_text, target_version, None, path), ignore
        )
    noqa = NoqaLines(current_text)
    remaining = [
        (issue.finding, None if _key(issue.finding) in not_applied else fix_availability(issue))
        for issue in issues
        if not noqa.silences(issue.finding)
    ]
    return FixResult(current_data, fixed, remaining, None, tuple(not_applied.values()))


def _key(finding: Finding) -> Tuple[int, int, str]:
    return (finding.line, finding.column, finding.code)


class _Checker:
    """No fix may produce a finding. A round's fixes are applied together and the result linted
    with every rule; a finding there that was not there before (on a line the fixes left as it
    was, or of another code) is allowed only if the next round fixes it (CAN109's rename lets
    CAN101 see the handler, whose own fix comes next). Otherwise the fix it belongs to (the
    nearest fixed finding above it) is dropped and the rest checked again."""

    def __init__(
        self, engine: Engine, target_version: Tuple[int, int], unsafe: bool, path: Optional[str]
    ) -> None:
        from flake8_cancel.rules import all_rules

        self.engine = Engine(engine.settings, all_rules())
        self.engine.statistics = engine.statistics
        self.target_version = target_version
        self.unsafe = unsafe
        self.path = path  # where the module is: what its imports from its project mean

    def without_fixes_that_add_findings(
        self, module: cst.Module, text: str, chosen: List[Tuple[Issue, Fix]]
    ) -> Tuple[List[Tuple[Issue, Fix]], List[Tuple[Finding, str]]]:
        if not chosen:
            return chosen, []
        before = {
            (issue.finding.line, issue.finding.code)
            for issue in self.engine.analyze_module(
                module, text, self.target_version, path=self.path
            )
        }
        lines = physical_lines(text)
        kept = list(chosen)
        dropped: List[Tuple[Finding, str]] = []
        while kept:
            added = self._unfixed_additions(module, lines, before, kept)
            if not added:
                break
            by_fix: Dict[int, Set[str]] = {}
            for old_line, code in added:
                by_fix.setdefault(self._culprit(module, lines, before, kept, old_line), set()).add(code)
            for index in sorted(by_fix, reverse=True):
                issue, _ = kept.pop(index)
                dropped.append((issue.finding, "it would add " + ", ".join(sorted(by_fix[index]))))
        return kept, dropped

    def _culprit(
        self,
        module: cst.Module,
        lines: Sequence[str],
        before: Set[Tuple[int, str]],
        kept: List[Tuple[Issue, Fix]],
        old_line: int,
    ) -> int:
        """The fix (its index in ``kept``) that adds a finding at ``old_line``: the nearest fix
        above it that adds a finding when applied alone, else the nearest above it."""
        nearest_first = sorted(
            range(len(kept)),
            key=lambda index: (kept[index][0].finding.line > old_line,
                               abs(old_line - kept[index][0].finding.line)),
        )
        for index in nearest_first[:8]:
            if self._unfixed_additions(module, lines, before, [kept[index]]):
                return index
        return nearest_first[0]

    def _unfixed_additions(
        self,
        module: cst.Module,
        lines: Sequence[str],
        before: Set[Tuple[int, str]],
        fixes: List[Tuple[Issue, Fix]],
    ) -> List[Tuple[int, str]]:
        """(line in the text before the fixes, code) of each finding the fixes add that the next
        round would not fix."""
        fixed_module = parse_bytes(_apply(module, [fix for _, fix in fixes]).bytes)
        fixed_text = decode_source(fixed_module.bytes)
        fixed_lines = physical_lines(fixed_text)
        after = self.engine.analyze_module(
            fixed_module, fixed_text, self.target_version, path=self.path
        )
        old_lines = _line_mapping(lines, fixed_lines)
        added = [
            other
            for other in after
            if not any(
                (line, code) in before
                for line in old_lines.get(other.finding.line, ())
                for code in _SAME_FINDING.get(other.finding.code, (other.finding.code,))
            )
        ]
        fixable_next = {
            id(other) for other, _ in _fixes_to_apply(added, NoqaLines(fixed_text), self.unsafe)
        }
        return [
            (_old_line(old_lines, other.finding.line), other.finding.code)
            for other in added
            if id(other) not in fixable_next
        ]


def _old_line(old_lines: Dict[int, range], line: int) -> int:
    """The line of the old text a new line stands at: its own, or for an inserted line, the one
    before it that the edit kept."""
    while line > 0:
        if old_lines.get(line):
            return old_lines[line][0]
        line -= 1
    return 0


# A handler that swallows on every path (CAN101) may swallow on some only once an inner
# handler's fix re-raises (CAN102): the same finding of the same handler, not a new one.
_SAME_FINDING = {"CAN101": ("CAN101", "CAN102"), "CAN102": ("CAN101", "CAN102")}


def _line_mapping(old: Sequence[str], new: Sequence[str]) -> Dict[int, range]:
    """Each line number (from 1) of the new text -> the lines of the old text it stands for:
    itself where the edit left it, the lines it replaced where the edit rewrote it, none where
    the edit inserted it."""
    # Frequent lines (`try:`, `pass`) are not used as anchors: that keeps this near linear on
    # files of many alike functions, and the blocks matched still run over them.
    matcher = difflib.SequenceMatcher(None, old, new)
    mapping: Dict[int, range] = {}
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        for offset in range(new_end - new_start):
            if tag == "equal":
                mapping[new_start + offset + 1] = range(old_start + offset + 1, old_start + offset + 2)
            elif tag == "replace":
                mapping[new_start + offset + 1] = range(old_start + 1, old_end + 1)
    return mapping


def _without(issues: List[Issue], ignore: Sequence[str]) -> List[Issue]:
    if not ignore:
        return issues
    return [issue for issue in issues if not issue.finding.code.startswith(tuple(ignore))]


def fix_availability(issue: Issue) -> Optional[str]:
    """"safe" or "unsafe" when a fix would be applied for this finding, else None."""
    if issue.rule.fix_safety is FixSafety.NONE:
        return None
    try:
        fix = issue.rule.build_fix(issue.site, issue.node)
    except Exception:  # a fix builder's bug must not break reporting
        return None
    if fix is None or _refused(issue, fix):
        return None
    return "safe" if _is_safe(issue, fix) else "unsafe"


class Edit(NamedTuple):
    """A fix as text: replace from (line, column) up to (end line, end column), both from 1,
    with ``content`` (ruff's JSON edits)."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str


def fix_edits(issue: Issue) -> Optional[Tuple[Edit, ...]]:
    """The text edits of the fix for this finding alone (whole lines), or None where none would
    be applied. For the JSON report: the fix is applied to the module and the lines compared."""
    if fix_availability(issue) is None:
        return None
    fix = issue.rule.build_fix(issue.site, issue.node)
    module = issue.site.context.module
    try:
        old = physical_lines(module.code, keepends=True)
        new = physical_lines(_apply(module, [fix]).code, keepends=True)
    except Exception:  # a fix builder's bug must not break reporting
        return None
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return tuple(
        Edit(old_start + 1, 1, old_end + 1, 1, "".join(new[new_start:new_end]))
        for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes()
        if tag != "equal"
    )


def _is_safe(issue: Issue, fix: Fix) -> bool:
    return fix.safe and issue.rule.fix_safety.is_safe


def _refused(issue: Issue, fix: Fix) -> bool:
    """Fixes that are never applied, safe or not: one in an ``except*`` clause, where a bare
    ``raise`` re-raises a group and the task then ends with a BaseExceptionGroup instead of
    being cancelled; and one that would bring asyncio into a module that uses trio or anyio
    without it."""
    if isinstance(issue.site, HandlerSite) and issue.site.try_site.node.handlers and isinstance(
        issue.site.try_site.node, cst.TryStar
    ):
        return True
    if "asyncio" not in fix.imports:
        return False
    # The libraries the module imports, or whose package it is in.
    return bool(issue.site.context.vocabulary.libraries & {"trio", "anyio"})


def _apply(module: cst.Module, fixes: Sequence[Fix]) -> cst.Module:
    edits: Dict[int, Rebuild] = {}
    for fix in fixes:
        edits.update((id(node), rebuild) for node, rebuild in fix.edits)
    updated = module.visit(_edit_applier()(edits))
    imports = list(dict.fromkeys(name for fix in fixes for name in fix.imports))
    unused = [entry for fix in fixes for entry in fix.unused_imports]
    if imports or unused:
        # libcst.codemod is slow to import: only a fix that adds or drops an import pays for it.
        from libcst.codemod import CodemodContext
        from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

        context = CodemodContext()
        for name in imports:
            AddImportsVisitor.add_needed_import(context, name)
        for module_name, name, asname in unused:
            RemoveImportsVisitor.remove_unused_import(context, module_name, name, asname)
        if imports:
            updated = AddImportsVisitor(context).transform_module(updated)
        if unused:
            updated = RemoveImportsVisitor(context).transform_module(updated)
    return updated


def _unchanged(data: bytes, reason: str) -> FixResult:
    return FixResult(data, Counter(), [], f"{reason}; file left unchanged")


def _fixes_to_apply(
    issues: Iterable[Issue], noqa: NoqaLines, unsafe: bool
) -> List[Tuple[Issue, Fix]]:
    """One fix per edited node this round: overlapping fixes wait for the next round."""
    chosen: List[Tuple[Issue, Fix]] = []
    claimed = set()
    for issue in issues:
        rule = issue.rule
        if rule.fix_safety is FixSafety.NONE or noqa.silences(issue.finding):
            continue
        fix = rule.build_fix(issue.site, issue.node)
        if fix is None or _refused(issue, fix):
            continue
        if not (unsafe or _is_safe(issue, fix)):
            continue
        keys = {id(node) for node, _ in fix.edits}
        if keys & claimed:
            continue
        claimed |= keys
        chosen.append((issue, fix))
    return chosen


def _compile_error(data: bytes, path: Optional[str]) -> Optional[str]:
    try:
        compile(data, path or "<fixed>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return str(error)
    return None


# -- writing ---------------------------------------------------------------------------------------
class FileChanged(Exception):
    """The file changed on disk after it was read; it is not overwritten."""


def write_atomically(path: str, data: bytes, expected: bytes) -> None:
    """Replace ``path`` with ``data`` through a temporary file in the same folder, keeping its
    mode, unless its content is no longer ``expected``."""
    real = os.path.realpath(path)  # write the file a symlink points to, keep the link
    with open(real, "rb") as handle:
        if handle.read() != expected:
            raise FileChanged(f"{path} changed on disk while it was being fixed; not overwritten")
    mode = stat.S_IMODE(os.stat(real).st_mode)
    directory, name = os.path.split(real)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, real)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
