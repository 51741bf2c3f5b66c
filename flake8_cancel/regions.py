"""The regions of a module that libcst parses: the statements that hold a candidate site
(screen.py), and what the analysis of those sites reads elsewhere in the module.

Parsing costs more than anything else the linter does, and a module with a candidate usually
has one or two of them among dozens of functions. A *unit* is a top-level statement or, for a
class, a statement of its body (a method): the region keeps the units that hold a candidate and
what their analysis reads besides them:

- the module's imports and aliases (names.py): every top-level statement that is not a ``def``
  or a ``class`` is kept, guarded imports and constants alike; so is every statement of a kept
  class's body that is not a ``def`` or a ``class`` (its docstring, its attributes);
- the functions, classes and methods that a kept unit calls (a name before a parenthesis,
  anywhere in its text): a callee that never returns or re-raises what it is given (``f()``,
  ``self.m()``), a method that cancels a task (``self.close()``), a function annotated
  ``NoReturn`` (followed until nothing new is called); the bases of a kept class (every word of
  its header), whose methods it inherits;
- for a function (or method) that holds a candidate of a timeout rule, every unit (of its
  class) that calls it, and so on outward: a deadline may be set on it there
  (``wait_for(f())``, ``await f()`` in a timeout block: deadlines.py);
- whether a fix would be safe asks which tasks of a candidate's function the functions of its
  class (for a method) or of the module make, cancel and then await without a handler
  (fix_safety.owner_relies_on_a_quiet_end): every unit there that calls the function or says
  ``cancel`` is kept;
- which coroutine is the program's main one (``asyncio.run(main())``, sites.py) is asked of the
  whole module: a module that calls a runner is parsed whole.

The region's text is the kept units' own lines, whole and in order (a trimmed class keeps its
header lines); CPython's tree of it is the file's own nodes (a trimmed class, a shallow copy with
fewer statements), so a position found on it is already the file's (positions.py). Fixing
parses the whole file (fixer.py): a region only tells that there is nothing to fix.
"""

from __future__ import annotations

import ast
import copy
import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from flake8_cancel.screen import Place, aliases_of
from flake8_cancel.syntax import may_hold_generator_coroutines, physical_lines

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
# `main_coroutines` (sites.py) looks at the whole module for a runner's call: `asyncio.run(`,
# `loop.run_until_complete(`, or an alias of `run` (`from asyncio import run as go`).
_RUNNER = r"run|run_until_complete"
# A name before an opening parenthesis: what the analysis looks up in the module is always
# called (``f()``, ``self.m()``, ``wait_for(self.m())``), but for a class's bases (all words).
_CALLED = re.compile(r"(\w+)[\s\\]*\(")
_WORD = re.compile(r"\w+")
_CANCEL = re.compile(r"\bcancel\b")


class Region(NamedTuple):
    """Some statements of a module: their text, their ``ast``, and where they are."""

    text: str
    tree: ast.Module  # the file's own nodes for these statements: lines are the file's
    # (first line in ``text``, first line in the file, number of lines) of each kept stretch
    stretches: Sequence[Tuple[int, int, int]]

    def file_line(self, line: int) -> int:
        """The line of the file that line ``line`` of the region's text is."""
        for first, file_first, count in self.stretches:
            if first <= line < first + count:
                return file_first + line - first
        return line


class _Unit(NamedTuple):
    place: Place
    node: ast.stmt
    first: int  # its first line (a decorator's), in the file
    last: int


def region_for(tree: ast.Module, source: str, candidates: Dict[Place, bool]) -> Optional[Region]:
    """The region holding the candidates' units and what their analysis reads; None when that
    is the whole module, or may be. ``candidates``: each place, and whether its callers matter
    (screen.Screen.places_with_candidates)."""
    if may_hold_generator_coroutines(source):
        return None  # which generators are coroutines is asked of the whole module (sites.py)
    runners = "|".join([_RUNNER, *map(re.escape, aliases_of("run", tree=tree) - {"run"})])
    if any(  # a call, not the definition of a method named `run`
        not re.search(r"\bdef\s+$", source[max(0, found.start() - 12):found.start()])
        for found in re.finditer(rf"\b(?:{runners})[\s\\)]*\(", source)
    ):
        return None
    lines = physical_lines(source, keepends=True)
    classes = {
        index: statement
        for index, statement in enumerate(tree.body)
        if isinstance(statement, ast.ClassDef) and _cuttable(statement)
    }
    units = _units(tree.body, classes)
    # A candidate in a class that cannot be cut stands for the whole class.
    places: Dict[Place, bool] = {}
    for place, asks_callers in candidates.items():
        unit = place if place.statement in classes else Place(place.statement)
        places[unit] = places.get(unit, False) or asks_callers
    kept = _Closure(units, classes, lines).run(places)
    if len(kept) == len(units):
        return None
    return _region(tree.body, units, classes, lines, kept)


def _units(body: List[ast.stmt], classes: Dict[int, ast.ClassDef]) -> Dict[Place, _Unit]:
    """The module's units: top-level statements, and the body statements of each class that
    can be cut between them (``classes``)."""
    units: Dict[Place, _Unit] = {}
    for index, statement in enumerate(body):
        pieces = (
            [(Place(index, member), inner) for member, inner in enumerate(statement.body)]
            if index in classes else [(Place(index), statement)]
        )
        for place, node in pieces:
            units[place] = _Unit(place, node, _first_line(node), _last_line(node))
    return units


def _cuttable(class_node: ast.ClassDef) -> bool:
    """Is each statement of the class's body on lines of its own, below its header?"""
    members = class_node.body
    if _first_line(members[0]) <= class_node.lineno:
        return False  # `class C: pass`, a body on the header's line
    ends = [_last_line(member) for member in members]
    return all(ends[i] < _first_line(members[i + 1]) for i in range(len(members) - 1))


class _Closure:
    """Which units the analysis of the candidates reads (see the module's doc)."""

    def __init__(
        self, units: Dict[Place, _Unit], classes: Dict[int, ast.ClassDef], lines: List[str]
    ) -> None:
        self.units = units
        self.classes = classes  # the cut classes, by their index in the module's body
        self.lines = lines
        self._words: Dict[object, Set[str]] = {}
        # name -> the top-level definitions of that name (a cut class by its index alone)
        self.top_level: Dict[str, List[Place]] = {}
        self.members: Dict[int, Dict[str, List[Place]]] = {index: {} for index in classes}
        for place, unit in units.items():
            if not isinstance(unit.node, _DEFINITIONS):
                continue
            if place.member is None:
                self.top_level.setdefault(unit.node.name, []).append(place)
            else:
                self.members[place.statement].setdefault(unit.node.name, []).append(place)
        for index, class_node in classes.items():
            self.top_level.setdefault(class_node.name, []).append(Place(index))
        self.kept: Set[Place] = set()
        self.kept_classes: Set[int] = set()
        self.seen: Set[str] = set()
        self.pending: List[object] = []  # units (and class headers) whose words are not read yet
        self.outward: List[Place] = []
        self.reached_outward: Set[Place] = set()

    def run(self, candidates: Dict[Place, bool]) -> Set[Place]:
        for place, unit in self.units.items():
            if place.member is None and not isinstance(unit.node, _DEFINITIONS):
                self.keep(place)
        owners: Dict[Optional[int], Set[str]] = {}  # a class (None: the module) -> functions
        for place, asks_callers in candidates.items():
            self.keep(place)
            if asks_callers:
                self.go_outward(place)
            node = self.units[place].node
            is_method = place.member is not None and isinstance(node, _FUNCTIONS)
            owners.setdefault(place.statement if is_method else None, set()).update(
                inner.name for inner in ast.walk(node) if isinstance(inner, _FUNCTIONS)
            )
        # Where tasks running the candidates' functions are made, and cancelled.
        for owner, functions in owners.items():
            for place in self.units:
                if owner in (None, place.statement) and (
                    self.cancels(place) or not functions.isdisjoint(self.words_of(place))
                ):
                    self.keep(place)
        while self.pending or self.outward:
            while self.pending:
                self.read(self.words_of(self.pending.pop()))
            while self.outward:
                target = self.outward.pop()
                name = self.units[target].node.name  # type: ignore[attr-defined]
                for place in self.callers_of(target):
                    if name in self.words_of(place):  # kept or not: its callers matter too
                        self.keep(place)
                        self.go_outward(place)
        return self.kept

    def keep(self, place: Place) -> None:
        if place.member is None and place.statement in self.classes:
            self.keep_class(place.statement)
        elif place not in self.kept:
            self.kept.add(place)
            self.pending.append(place)
            if place.member is not None:
                self.keep_class(place.statement)

    def keep_class(self, index: int) -> None:
        """A cut class is kept with its header, its plain statements, and the definitions
        of its body that words read so far name."""
        if index in self.kept_classes:
            return
        self.kept_classes.add(index)
        self.pending.append(index)  # its header: decorators and bases
        for place, unit in self.units.items():
            if place.statement == index and (
                not isinstance(unit.node, _DEFINITIONS) or unit.node.name in self.seen
            ):
                self.keep(place)

    def go_outward(self, place: Place) -> None:
        if isinstance(self.units[place].node, _FUNCTIONS) and place not in self.reached_outward:
            self.reached_outward.add(place)
            self.outward.append(place)

    def read(self, words: Set[str]) -> None:
        new = words - self.seen
        self.seen |= new
        for word in new:
            for place in self.top_level.get(word, ()):
                self.keep(place)
            for index in list(self.kept_classes):
                for place in self.members[index].get(word, ()):
                    self.keep(place)

    def cancels(self, place: Place) -> bool:
        """Does the unit cancel something (``t.cancel()``, ``call_soon(t.cancel)``)? Whether
        a fix is safe asks which tasks of the candidate's functions the functions of its class
        (for a method), or of the module, make, cancel and then await without a handler
        (fix_safety.owner_relies_on_a_quiet_end)."""
        unit = self.units[place]
        return any(_CANCEL.search(line) for line in self.lines[unit.first - 1:unit.last])

    def callers_of(self, target: Place) -> List[Place]:
        """Where a call of the function at ``target`` may be: anywhere for a top-level
        function, in its own class for a method."""
        if target.member is None:
            return list(self.units)
        return [place for place in self.units if place.statement == target.statement]

    def words_of(self, item: object) -> Set[str]:
        """The names called in a unit's text (in code, comments or strings alike: a word too
        many only keeps more), or every word of a cut class's header (for its index)."""
        found = self._words.get(item)
        if found is None:
            if isinstance(item, Place):
                first, last = self.units[item].first, self.units[item].last
                words = _CALLED
            else:
                first, last = _header(self.classes[item])  # type: ignore[index]
                words = _WORD
            found = self._words[item] = set(words.findall("".join(self.lines[first - 1:last])))
        return found


def _header(class_node: ast.ClassDef) -> Tuple[int, int]:
    """The lines of a cut class before its body: decorators, ``class C(Base):``, comments."""
    return _first_line(class_node), _first_line(class_node.body[0]) - 1


def _region(
    body: List[ast.stmt], units: Dict[Place, _Unit], classes: Dict[int, ast.ClassDef],
    lines: List[str], kept: Set[Place],
) -> Region:
    # Units that share a line (`import a; import b`) go together.
    spans = sorted((units[place].first, units[place].last) for place in kept)
    for place, unit in units.items():
        if place not in kept and any(
            first <= unit.last and unit.first <= last for first, last in spans
        ):
            kept.add(place)
    pieces: List[Tuple[int, int]] = []  # file lines, in order
    statements: List[ast.stmt] = []
    for index, statement in enumerate(body):
        if index in classes:
            members = sorted(place.member for place in kept if place.statement == index)
            if not members:
                continue
            if len(members) < len(statement.body):
                statement = copy.copy(statement)
                statement.body = [classes[index].body[member] for member in members]
            pieces.append(_header(classes[index]))
            pieces.extend(
                (units[Place(index, m)].first, units[Place(index, m)].last) for m in members
            )
            statements.append(statement)
        elif Place(index) in kept:
            pieces.append((units[Place(index)].first, units[Place(index)].last))
            statements.append(statement)
    text: List[str] = []
    stretches: List[Tuple[int, int, int]] = []
    region_line = 1
    for first, last in pieces:
        count = last - first + 1
        if count <= 0:
            continue
        if stretches and stretches[-1][1] + stretches[-1][2] == first:
            start, file_first, so_far = stretches[-1]
            stretches[-1] = (start, file_first, so_far + count)
        else:
            stretches.append((region_line, first, count))
        text.extend(lines[first - 1:last])
        region_line += count
    if text and not text[-1].endswith(("\n", "\r")):
        text[-1] += "\n"
    module = ast.Module(body=statements, type_ignores=[])
    return Region("".join(text), module, tuple(stretches))


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", ())
    return min([statement.lineno, *(decorator.lineno for decorator in decorators)])


def _last_line(statement: ast.stmt) -> int:
    return statement.end_lineno or statement.lineno
