"""The fix loop: apply, re-lint, repeat until nothing more is fixable; and writing files.

The loop applies the fixes of the findings the linter reports (never one marked ``# noqa``),
re-parses and re-lints, and stops when nothing fixable is left or after ``MAX_ROUNDS``. The
result must parse with libcst and compile with this Python (when the original did); otherwise
the file is left as it was and the reason is given.

Everything works on bytes: libcst keeps the encoding, BOM, line endings and indentation, and
changes nothing outside the edited nodes.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections import Counter
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import libcst as cst

from flake8_cancel.edits import Fix, Rebuild
from flake8_cancel.engine import Engine, Issue
from flake8_cancel.noqa import file_is_exempt, is_silenced
from flake8_cancel.registry import Finding, FixSafety
from flake8_cancel.source import (
    UncheckableFile,
    decode_source,
    parse_bytes,
    screen_with_python,
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


class _ApplyEdits(cst.CSTTransformer):
    def __init__(self, edits: Dict[int, Rebuild]) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node, updated_node):  # type: ignore[override]
        rebuild = self.edits.get(id(original_node))
        return rebuild(updated_node) if rebuild is not None else updated_node


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
    target_version = engine.target_version_if_admitted(text, path)
    if target_version is None:
        return FixResult(data, Counter(), [])
    python_tree = screen_with_python(text)
    module = parse_bytes(data)
    stats.counts["parsed"] += 1
    # The text and bytes of `module`, kept beside it: libcst's code generation is the costly
    # part of fixing, so it runs once per round that changed something, never to re-read.
    current_text, current_data = text, data
    fixed: Counter = Counter()
    previous: Optional[Counter] = None
    issues: List[Issue] = []
    for _ in range(MAX_ROUNDS):
        issues = _without(
            engine.analyze_module(module, current_text, target_version, python_tree), ignore
        )
        python_tree = None  # it is the tree of the text before this round's fixes
        chosen = _fixes_to_apply(issues, physical_lines(current_text), unsafe)
        pending = Counter(issue.finding.code for issue, _ in chosen)
        if not chosen or pending == previous:
            break  # nothing left, or the last round's fixes did not take: never repeat them
        previous = pending
        issues = []
        edits: Dict[int, Rebuild] = {}
        imports: List[str] = []
        for issue, fix in chosen:
            edits.update((id(node), rebuild) for node, rebuild in fix.edits)
            imports.extend(fix.imports)
            fixed[issue.finding.code] += 1
        try:
            current_data = _apply(module, edits, imports).bytes
        except Exception as error:  # a fix builder's bug must not cost the user their file
            return _unchanged(data, f"fix failed ({type(error).__name__}: {error})")
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
        issues = _without(engine.analyze_module(module, current_text, target_version), ignore)
    lines = physical_lines(current_text)
    remaining = [
        (issue.finding, fix_availability(issue))
        for issue in issues
        if not is_silenced(issue.finding, lines)
    ]
    return FixResult(current_data, fixed, remaining)


def _without(issues: List[Issue], ignore: Sequence[str]) -> List[Issue]:
    if not ignore:
        return issues
    return [issue for issue in issues if not issue.finding.code.startswith(tuple(ignore))]


def fix_availability(issue: Issue) -> Optional[str]:
    """"safe" or "unsafe" when a fix would be applied for this finding, else None."""
    safety = issue.rule.fix_safety
    if safety is FixSafety.NONE:
        return None
    try:
        fix = issue.rule.build_fix(issue.site, issue.node)
    except Exception:  # a fix builder's bug must not break reporting
        return None
    if fix is None:
        return None
    return "unsafe" if safety is FixSafety.UNSAFE else "safe"


def _apply(module: cst.Module, edits: Dict[int, Rebuild], imports: Sequence[str]) -> cst.Module:
    updated = module.visit(_ApplyEdits(edits))
    if imports:
        # libcst.codemod is slow to import: only a fix that adds an import pays for it.
        from libcst.codemod import CodemodContext
        from libcst.codemod.visitors import AddImportsVisitor

        context = CodemodContext()
        for name in dict.fromkeys(imports):
            AddImportsVisitor.add_needed_import(context, name)
        updated = AddImportsVisitor(context).transform_module(updated)
    return updated


def _unchanged(data: bytes, reason: str) -> FixResult:
    return FixResult(data, Counter(), [], f"{reason}; file left unchanged")


def _fixes_to_apply(
    issues: Iterable[Issue], lines: Sequence[str], unsafe: bool
) -> List[Tuple[Issue, Fix]]:
    """One fix per edited node this round: overlapping fixes wait for the next round."""
    chosen: List[Tuple[Issue, Fix]] = []
    claimed = set()
    for issue in issues:
        rule = issue.rule
        if not (rule.fix_safety.is_safe or (unsafe and rule.fix_safety is FixSafety.UNSAFE)):
            continue
        if is_silenced(issue.finding, lines):
            continue
        fix = rule.build_fix(issue.site, issue.node)
        if fix is None:
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
