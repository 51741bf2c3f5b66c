"""Which coroutine functions of a module run under a deadline (for the timeout rules).

Inside ``async with asyncio.timeout()`` and inside a coroutine run by ``asyncio.wait_for``, an
expired deadline arrives as ``CancelledError`` at the current ``await``; ``TimeoutError`` exists
only outside. A coroutine function of this module is *timed* when:

- the module runs it as ``asyncio.wait_for(f(...), ...)``, with ``f`` a module-level ``async def``
  or ``self.f``/``cls.f`` of the same class;
- it is awaited inside a timeout block (``await f()`` under ``async with asyncio.timeout(...)``);
- it is awaited from a timed function, transitively.

The index is filled by the site walker's single traversal (``record``), statement by statement, and
only for modules where a timeout rule could fire; nothing here walks the module on its own.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Set, Union

import libcst as cst

from flake8_cancel.names import Vocabulary
from flake8_cancel.syntax import children, is_nested_scope, is_yield_from, statements

FunctionNode = Union["cst.FunctionDef"]  # a string: libcst is loaded on first use (lazy.py)


class CallIndex:
    def __init__(
        self, module: cst.Module, is_coroutine: Callable[[FunctionNode], bool]
    ) -> None:
        """``is_coroutine`` says which functions are coroutine functions: ``async def``, and
        the generator-based ones (sites.ModuleContext.generator_coroutines)."""
        self.is_coroutine = is_coroutine
        self.module_functions: Dict[str, FunctionNode] = {
            statement.name.value: statement
            for statement in module.body
            if isinstance(statement, cst.FunctionDef) and is_coroutine(statement)
        }
        self._class_methods: Dict[int, Dict[str, FunctionNode]] = {}
        self.seeds: Set[int] = set()  # id() of functions timed directly
        self.awaits: Dict[int, Set[int]] = {}  # caller -> callees it awaits

    def record(
        self,
        expressions: List[cst.CSTNode],
        function: Optional[FunctionNode],
        owner_class: Optional[cst.ClassDef],
        in_timeout_block: bool,
        vocabulary: Vocabulary,
    ) -> None:
        """Note the awaits and ``wait_for`` calls in one statement's own expressions."""
        stack = list(expressions)
        while stack:
            node = stack.pop()
            if is_nested_scope(node):
                continue
            awaited = _awaited_call(node)
            if awaited is not None:
                callee = self.callee(awaited.func, owner_class)
                if callee is not None:
                    if function is not None:
                        self.awaits.setdefault(id(function), set()).add(id(callee))
                    if in_timeout_block:
                        self.seeds.add(id(callee))
            elif isinstance(node, cst.Call) and node.args and vocabulary.is_wait_for(node):
                awaited = node.args[0].value
                if isinstance(awaited, cst.Call):
                    callee = self.callee(awaited.func, owner_class)
                    if callee is not None:
                        self.seeds.add(id(callee))
            stack.extend(children(node))

    def callee(
        self, func: cst.BaseExpression, owner_class: Optional[cst.ClassDef]
    ) -> Optional[FunctionNode]:
        """The coroutine function of this module that ``func`` names, if any."""
        if isinstance(func, cst.Name):
            return self.module_functions.get(func.value)
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value in ("self", "cls")
            and owner_class is not None
        ):
            return self.methods(owner_class).get(func.attr.value)
        return None

    def methods(self, owner_class: cst.ClassDef) -> Dict[str, FunctionNode]:
        methods = self._class_methods.get(id(owner_class))
        if methods is None:
            methods = {
                statement.name.value: statement
                for statement in statements(owner_class.body)
                if isinstance(statement, cst.FunctionDef) and self.is_coroutine(statement)
            }
            self._class_methods[id(owner_class)] = methods
        return methods

    def timed_functions(self) -> Set[int]:
        """id() of every timed function: the seeds and what they await, transitively."""
        timed = set(self.seeds)
        pending = list(timed)
        while pending:
            for callee in self.awaits.get(pending.pop(), ()):
                if callee not in timed:
                    timed.add(callee)
                    pending.append(callee)
        return timed


def _awaited_call(node: cst.CSTNode) -> Optional[cst.Call]:
    """The call awaited by ``await f()``, or by ``yield from f()`` in a generator coroutine."""
    if isinstance(node, cst.Await) and isinstance(node.expression, cst.Call):
        return node.expression
    if is_yield_from(node) and isinstance(node.value.item, cst.Call):  # type: ignore[union-attr]
        return node.value.item  # type: ignore[union-attr]
    return None


def header_expressions(statement: cst.CSTNode) -> List[cst.CSTNode]:
    """The expressions a statement evaluates itself, not those of the blocks it holds."""
    if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return list(statement.body)
    if isinstance(statement, cst.If):
        tests: List[cst.CSTNode] = []
        branch: Optional[cst.CSTNode] = statement
        while isinstance(branch, cst.If):  # an elif's test runs where the if's does
            tests.append(branch.test)
            branch = branch.orelse
        return tests
    if isinstance(statement, cst.While):
        return [statement.test]
    if isinstance(statement, cst.For):
        return [statement.iter]
    if isinstance(statement, cst.With):
        return [item.item for item in statement.items]
    if isinstance(statement, cst.Match):
        guards = [case.guard for case in statement.cases if case.guard is not None]
        return [statement.subject, *guards]
    return []
