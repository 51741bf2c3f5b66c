"""The other modules of the project: where each one is on disk, and what its top level defines.

A name that a module imports from another module of its own project (``from .const import
ERRORS``, ``from pkg.helpers import fail``) means what its definition there means (names.py asks,
through ``Bindings``'s ``follow``). Only the project's own modules are read: those of the importing
module's top-level package, found from the importing file's path (``root/pkg/sub/mod.py`` or
``root/pkg/sub/mod/__init__.py``); never another library's or the standard library's.

Reading is cheap and never fails:
- a module is read only when a name of it is asked about, once per process, at most
  ``MAX_BYTES`` of it, and parsed by CPython's ``ast`` only when its text may bind that name to
  something we follow (``BindingText``: an import, an assignment, a ``def``; most names asked of a
  module are its exception classes, which define nothing here); only its top-level statements
  (and those in top-level ``if``/``try`` blocks) are recorded, as names.py records a module's own;
- a module that is missing, unreadable, not valid Python for this interpreter (a syntax error,
  an undeclared encoding) or bigger than ``MAX_BYTES`` defines nothing;
- re-exports (``from .x import NAME``, ``from .x import *``, an alias of an alias) are followed
  for ``MAX_HOPS`` definitions at most, and a cycle of them ends where it began: nothing.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
import warnings
from functools import lru_cache
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple, Union

import libcst as cst

from flake8_cancel.names import NORETURN_ANNOTATIONS, Bindings, Definition
from flake8_cancel.settings import module_package

# A module bigger than this is not read: exception tuples and helpers live in small modules,
# and a generated module of megabytes must not cost a parse.
MAX_BYTES = 256 * 1024
# How many definitions one name may pass through (re-exports, aliases of aliases).
MAX_HOPS = 8

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]
_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_NEVER_RETURNING_LAST_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in NORETURN_ANNOTATIONS)


def project_of(path: Optional[str], package: Optional[str]) -> Optional["Project"]:
    """The project of the module at ``path`` in the dotted ``package`` (see
    ``settings.module_package``): None for a module outside a package."""
    if path is None or not package:
        return None
    root = os.path.dirname(os.path.abspath(path))
    for _ in package.split("."):
        root = os.path.dirname(root)
    return project_at(root, package.split(".", 1)[0])


@lru_cache(maxsize=None)
def project_at(root: str, top: str) -> "Project":
    """The project of the package `top` in the folder `root`, one per process."""
    return Project(root, top)


class Project:
    """The modules of one top-level package ``top`` in the folder ``root``, read on demand and
    kept for the rest of the process."""

    def __init__(self, root: str, top: str) -> None:
        self.root = root
        self.top = top
        self._modules: Dict[str, Optional[TopLevel]] = {}
        # The texts of each module's files, by module; None where a text cannot tell.
        self._texts: Dict[str, Optional[List[BindingText]]] = {}
        # Each definition read, with the number of definitions its reading went through.
        self._definitions: Dict[str, Tuple[Optional[Definition], int]] = {}
        self._following: List[str] = []  # the definitions being read, outermost first
        self._hops: List[int] = []  # for each, the most hops a definition it used went through
        self._cut = False  # a definition being read met a cycle or the limit of hops

    def definition(self, qualified: str) -> Optional[Definition]:
        """What ``qualified`` (``pkg.const.ERRORS``) is defined as at the top level of its
        module, or None: not found, not a tuple, an alias or a function that never returns,
        or reached only through a cycle or more than MAX_HOPS definitions (whatever was read
        before: the answer does not depend on the order of the questions)."""
        depth = len(self._following)
        known = self._definitions.get(qualified)
        if known is not None:
            found, hops = known
            if depth + hops <= MAX_HOPS:
                self._used(hops)
                return found
        if known is not None or qualified in self._following or depth >= MAX_HOPS:
            self._cut = True
            return None
        module, _, name = qualified.rpartition(".")
        outer_cut, self._cut = self._cut, False
        self._following.append(qualified)
        self._hops.append(0)
        try:
            top_level = self.module(module) if module and self._may_bind(module, name) else None
            found = top_level.definition(name) if top_level is not None else None
        finally:
            self._following.pop()
            hops = 1 + self._hops.pop()
        if self._cut:
            # Cut short by a cycle or the limit: unknown, rather than the part read (an alias
            # of the next name in the chain would let the reader skip ahead). Not kept: from
            # another start, the same definition may be in reach.
            found = None
        else:
            self._definitions[qualified] = (found, hops)
            self._used(hops)
        self._cut = self._cut or outer_cut
        return found

    def _used(self, hops: int) -> None:
        if self._hops:
            self._hops[-1] = max(self._hops[-1], hops)

    def _may_bind(self, dotted: str, name: str) -> bool:
        """May the module ``dotted`` bind ``name`` to anything but a class, in the text of
        either file it may be read from (``BindingText``)? Where a text cannot tell, it may."""
        if dotted not in self._texts:
            base = self._base(dotted)
            texts = [] if base is None else _texts_of(base)
            self._texts[dotted] = None if texts is None else [BindingText(t) for t in texts]
        texts = self._texts[dotted]
        return texts is None or any(text.may_bind(name) for text in texts)

    def module(self, dotted: str) -> Optional["TopLevel"]:
        """The top level of the project's module ``dotted``, or None if it cannot be read."""
        if dotted not in self._modules:
            self._modules[dotted] = self._read(dotted)
        return self._modules[dotted]

    def _base(self, dotted: str) -> Optional[str]:
        """The path of the module ``dotted`` without ``.py`` (or ``/__init__.py``); None for a
        module of another package, or a name that is no module's."""
        parts = dotted.split(".")
        if parts[0] != self.top or not all(part.isidentifier() for part in parts):
            return None
        return os.path.join(self.root, *parts)

    def _read(self, dotted: str) -> Optional["TopLevel"]:
        base = self._base(dotted)
        if base is None:
            return None
        parts = dotted.split(".")
        for path, package in ((base + ".py", ".".join(parts[:-1])),
                              (os.path.join(base, "__init__.py"), dotted)):
            tree = _parse_file(path)
            if tree is not None:
                try:
                    return TopLevel(tree, dotted, package, self)
                except (RecursionError, cst.CSTValidationError):  # a chain thousands long
                    return None
        return None


def _texts_of(base: str) -> Optional[List[str]]:
    """The texts of the files a module may be read from (``base.py``, ``base/__init__.py``)
    that exist and fit in MAX_BYTES (a bigger one is never parsed); None when one cannot be
    read as UTF-8, whose text then cannot tell."""
    texts = []
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except (OSError, ValueError):
            continue  # missing or unreadable: never parsed either
        if len(data) > MAX_BYTES:
            continue
        try:
            texts.append(data.decode("utf-8"))
        except UnicodeDecodeError:  # another encoding: only a parse can tell
            return None
    return texts


# What TopLevel._record can bind a name with, besides a class: an import (its names, in
# parentheses with comments, or to the end of the line with its continuations), ``import *``,
# a `def`, an assignment (annotated or not). Each pattern starts with a literal, which the
# regular expression engine scans for fast; a match too many (`reimport`) only parses more.
_IMPORT_SPAN = re.compile(r"import\b(?:[ \t]*\((?:[^)#]|#[^\n]*)*\)|(?:[^\n\\]|\\[\s\S])*)")
_STAR_IMPORT = re.compile(r"import(?:\s|\\\n)*\*")
_DEFINED = re.compile(r"def\s+(\w+)")
_WORD = re.compile(r"\w+")


class BindingText:
    """The text of a module, searched for what its top level may bind (as ``TopLevel``
    records it) to anything but a class, before any parse: most names asked of a module are
    its exception classes, which define nothing to follow. It may say yes where a parse says
    no, never the reverse."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.anything = bool(_STAR_IMPORT.search(text))  # `from x import *`
        self.names = set(_DEFINED.findall(text))  # functions, which may never return
        for span in _IMPORT_SPAN.finditer(text):
            self.names.update(_WORD.findall(span.group()))

    def may_bind(self, name: str) -> bool:
        if self.anything or name in self.names or not name.isascii():
            return True
        # `NAME = ...`, `NAME: T = ...` (also `xNAME = ...`: a match too many parses more)
        assigned = rf"{re.escape(name)}[ \t\f]*(?::[^=\n]*)?=(?!=)"
        return re.search(assigned, self.text) is not None


def _parse_file(path: str) -> Optional[ast.Module]:
    """CPython's tree of a module of at most MAX_BYTES, or None."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError):
        return None
    if len(data) > MAX_BYTES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for an odd escape: not our business
            return ast.parse(data, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


class TopLevel:
    """The names a module binds at its top level: imports, aliases and tuples (in a
    ``Bindings``, so they mean exactly what they would mean in a module being linted), and the
    functions that never return."""

    def __init__(self, tree: ast.Module, dotted: str, package: str, project: Project) -> None:
        self.dotted = dotted
        self.bindings = Bindings(package=package or None)
        self.bound: Set[str] = set()
        self.never_returning: Set[str] = set()
        self._record(tree.body, fallback=False)
        # Other modules are followed from now on, when a name is asked about, never while
        # recording: an alias (`X = other.Y`) keeps the name it was written with until then.
        self.bindings.follow = project.definition

    def definition(self, name: str) -> Optional[Definition]:
        if name in self.never_returning:
            return Definition(never_returns=True)
        bindings = self.bindings
        if bindings.tuple_alias(name) is not None:
            return Definition(
                elements=tuple(
                    bindings.element(single) for single in bindings.exception_types(cst.Name(name))
                )
            )
        meanings = bindings.resolve_dotted(name)
        if name not in self.bound and meanings == {f"builtins.{name}"}:
            return None  # not defined here: a builtin's name means nothing else here
        if bindings.defined_never_returning(meanings):
            return Definition(never_returns=True)  # `from .helpers import fail`
        return Definition(meanings=meanings) if meanings else None

    def _record(self, block: Sequence[ast.stmt], fallback: bool) -> None:
        """As names.py records a module's top level: what a handler or an ``else`` branch binds
        is an alternative to what the first branch bound, not a replacement."""
        bindings = self.bindings
        for statement in block:
            if isinstance(statement, ast.Import):
                for alias in statement.names:
                    bindings.bind_import(alias.name, alias.asname, fallback)
                    self._bound(alias.asname or alias.name.split(".", 1)[0], fallback)
            elif isinstance(statement, ast.ImportFrom):
                module = bindings.absolute_module(statement.level, statement.module)
                if len(statement.names) == 1 and statement.names[0].name == "*":
                    bindings.bind_from_import(module, None, fallback)
                    continue
                imported = [(alias.name, alias.asname) for alias in statement.names]
                bindings.bind_from_import(module, imported, fallback)
                for name, asname in imported:
                    self._bound(asname or name, fallback)
            elif (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
            ):
                name = statement.targets[0].id
                bindings.add_alias(name, _expression(statement.value), fallback)
                self._bound(name, fallback)
            elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bindings.add_alias(statement.name, cst.Ellipsis(), fallback)
                self._bound(statement.name, fallback)
                if not isinstance(statement, ast.ClassDef) and _never_returns(statement, bindings):
                    self.never_returning.add(statement.name)
            elif isinstance(statement, ast.If):
                self._record(statement.body, fallback)
                self._record(statement.orelse, True)
            elif isinstance(statement, _TRY_STATEMENTS):
                self._record(statement.body, fallback)
                for handler in statement.handlers:
                    self._record(handler.body, True)
                self._record(statement.orelse, fallback)

    def _bound(self, name: str, fallback: bool) -> None:
        self.bound.add(name)
        if not fallback:
            self.never_returning.discard(name)  # rebound: no longer that function


_TRY_STATEMENTS: Tuple[type, ...] = (ast.Try,) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())


def _expression(node: ast.expr) -> cst.BaseExpression:
    """The libcst form of what names.py reads in an assigned value: a Name or Attribute
    chain, a tuple of them (``*OTHER`` included), or a call without arguments; anything else
    is an expression of unknown meaning."""
    if isinstance(node, ast.Name):
        return cst.Name(node.id)
    if isinstance(node, ast.Attribute):
        base = _expression(node.value)
        if isinstance(base, (cst.Name, cst.Attribute)):
            return cst.Attribute(base, cst.Name(node.attr))
    elif isinstance(node, ast.Tuple):
        return cst.Tuple(
            [
                cst.StarredElement(_expression(element.value))
                if isinstance(element, ast.Starred)
                else cst.Element(_expression(element))
                for element in node.elts
            ]
        )
    elif isinstance(node, ast.Call) and not node.args and not node.keywords:
        func = _expression(node.func)
        if isinstance(func, (cst.Name, cst.Attribute)):
            return cst.Call(func)
    return cst.Ellipsis()


# -- functions that never return -------------------------------------------------------------------
def _never_returns(function: FunctionNode, bindings: Bindings) -> bool:
    """Annotated ``-> NoReturn`` or ``-> Never``, or ending in ``raise`` on every path (calls of
    other functions that never return are not followed here). Like flow.py, a generator or a
    function with a ``while`` loop is not judged: it may never end instead of raising."""
    returns = function.returns
    if isinstance(returns, ast.Constant) and isinstance(returns.value, str):
        if returns.value.rsplit(".", 1)[-1] in _NEVER_RETURNING_LAST_NAMES:
            return True
    elif isinstance(returns, (ast.Name, ast.Attribute)):
        last = returns.attr if isinstance(returns, ast.Attribute) else returns.id
        if last in _NEVER_RETURNING_LAST_NAMES and not bindings.resolve(
            _expression(returns)
        ).isdisjoint(NORETURN_ANNOTATIONS):
            return True
    if any(
        isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom, ast.While))
        for node in _own_nodes(function.body)
    ):
        return False
    return always_raises(function.body)


def _own_nodes(block: Sequence[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of ``block``, nested functions, lambdas and classes left out."""
    stack: List[ast.AST] = list(block)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(
            child for child in ast.iter_child_nodes(node) if not isinstance(child, _NESTED_SCOPES)
        )


def always_raises(block: Sequence[ast.stmt], through_blocks: bool = True) -> bool:
    """In a block without ``return``, ``break`` or ``continue``: does running it always end in
    a raise? Its statements run in order, and each either completes or raises.
    ``through_blocks``: a ``with`` whose body, or a ``try`` whose body and handlers (or
    ``finally``), always raise count too, as for a function that never returns. In a handler
    (the screen) they do not: flow.py lets a ``with`` that suppresses end the raise."""
    return any(_statement_always_raises(statement, through_blocks) for statement in block)


def _statement_always_raises(statement: ast.stmt, through_blocks: bool) -> bool:
    if isinstance(statement, ast.Raise):
        return True
    if isinstance(statement, ast.If):
        return always_raises(statement.body, through_blocks) and always_raises(
            statement.orelse, through_blocks
        )
    if not through_blocks:
        return False
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return always_raises(statement.body)
    if isinstance(statement, _TRY_STATEMENTS):
        handled = always_raises(statement.body) and all(
            always_raises(handler.body) for handler in statement.handlers
        )
        return handled or always_raises(statement.finalbody)
    return False


# -- the gate's view -------------------------------------------------------------------------------
# What an `except` clause or a `suppress(...)` call names, and the imports that bind it. Each
# pattern starts with a literal (fast to scan for); a parenthesized list may hold comments.
_LIST = r"\((?:[^)#]|#[^\n]*)*\)"
_EXCEPT = re.compile(rf"except\*?[ \t]*({_LIST}|[\w.]+)")
_SUPPRESS = re.compile(rf"suppress({_LIST})")
_FROM_IMPORT = re.compile(rf"from[ \t]+(\.*)[ \t]*([\w.]*)[ \t]+import[ \t]+({_LIST}|[^\n;#]*)")
_IMPORT = re.compile(r"\n[ \t]*import[ \t]+([^\n;#]*)")
_DOTTED = re.compile(r"[A-Za-z_][\w.]*")
_IMPORTED = re.compile(r"([\w.*]+)(?:[ \t]+as[ \t]+(\w+))?")
_COMMENT = re.compile(r"#[^\n]*")
_BUILTIN_NAMES = frozenset(dir(builtins))


def imported_definitions_text(source: str, path: Optional[str]) -> str:
    """For the cheap gate: what the names that ``source`` imports from its own project and
    names in an ``except`` clause or a ``suppress(...)`` call stand for, written as tuples
    (``ERRORS = (builtins.OSError, asyncio.CancelledError)``); empty when there are none. A
    text search, then the definitions of those names only."""
    if path is None:
        return ""
    used: Set[str] = set()
    for pattern in (_EXCEPT, _SUPPRESS):
        for match in pattern.finditer(source):
            for name in _DOTTED.findall(_COMMENT.sub("", match.group(1))):
                if name.split(".", 1)[0] not in _BUILTIN_NAMES:
                    used.add(name)
    if not used:
        return ""
    package = module_package(path)
    project = project_of(path, package)
    if project is None:
        return ""
    bindings = Bindings(package=package, follow=project.definition)
    prefix = project.top + "."
    for level, module, names in _FROM_IMPORT.findall(source):
        absolute = bindings.absolute_module(len(level), module or None)
        if absolute is None or not (absolute + ".").startswith(prefix):
            continue
        imported = _IMPORTED.findall(_COMMENT.sub("", names).strip("()"))
        if any(name == "*" for name, _ in imported):
            bindings.bind_from_import(absolute, None)
        else:
            bindings.bind_from_import(absolute, [(n, a or None) for n, a in imported if n])
    for names in _IMPORT.findall("\n" + source):
        for name, asname in _IMPORTED.findall(names):
            if (name + ".").startswith(prefix):
                bindings.bind_import(name, asname or None)
    lines = []
    for name in sorted(used):
        meanings = bindings.resolve_dotted(name)
        if not meanings:
            continue  # not imported from the project: its text is the module's own
        elements, _ = bindings.imported_tuples(meanings)
        spelled = sorted(meaning for meaning in meanings if not meaning.startswith(prefix)) + [
            spelling
            for _, element in elements
            for spelling in (sorted(element.meanings) or [element.written or ""])
        ]
        if spelled:
            lines.append(f"{name} = ({', '.join(spelled)},)\n")
    return "".join(lines)
