"""A reference for the paths through an ``except asyncio.CancelledError:`` handler.

The property tests (test_properties.py) compare flake8_cancel/flow.py with this module, so it
shares nothing with it: it has its own small statement tree, renders it to Python source, and
*runs* it, following every path a real execution could take, instead of analysing the
libcst tree. Where the two disagree, one of them is wrong about Python or about the path
semantics that flow.py's module docstring states.

The model of execution, kept exact for the statements it has:

- a condition is opaque: both branches can be taken, except that ``cancelling()`` being false
  sanctions the path (flow.py's docstring: a *sanctioned* path; the CAN101 doc, *Not reported*:
  deliberate suppression);
- a loop runs zero, one or two times (``while True`` one or two, and never ends by its condition).
  Two rounds are enough because the only state a round passes on is the sanction, which goes
  from unsanctioned to sanctioned and never back: a third round can do nothing the second could
  not;
- every call statement (``log(x)``, ``await cleanup()``, ``...uncancel()``) may raise, before it
  has any effect, an exception of any of the types below: that is how inner ``except`` clauses
  are entered and ``finally`` blocks run early;
- a bare ``raise`` raises the exception being handled: the innermost enclosing ``except`` clause's,
  or the one in flight through a ``finally`` block, else the handler's own cancellation;
- ``finally`` runs on every way out of its ``try``; when it does not complete, its own way out
  replaces the one in flight.

``executed_ends`` checks this reading of Python against CPython itself: it runs the handler
once for every sequence of choices, with an oracle making them.

How a path leaves the handler (flow.py's docstring and its ``Exit``): it falls off the end,
returns, breaks or continues the loop around the ``try``; or a ``raise`` statement sends an
exception out of it, which *propagates the cancellation* when it is a ``CancelledError`` (the
caught one, a new one, or one that a call raised and a bare ``raise`` re-raises) and is *another
exception* otherwise. An exception that a call raised and nothing caught is no way out the rules
count: CAN101 is about what the handler's author wrote, not about ``log()`` failing.
"""

from __future__ import annotations

import ast
import re
import asyncio
import enum
import itertools
import sys
import textwrap
from dataclasses import dataclass, replace
from typing import Dict, FrozenSet, Iterator, List, Optional, Set, Tuple, Union


# -- the statement tree ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """``log(x)`` or ``await cleanup()``: may raise."""

    awaited: bool = False


@dataclass(frozen=True)
class Pass:
    pass


@dataclass(frozen=True)
class Uncancel:
    """``asyncio.current_task().uncancel()``: the deliberate end of the cancellation."""


@dataclass(frozen=True)
class Return:
    pass


@dataclass(frozen=True)
class Break:
    pass


@dataclass(frozen=True)
class Continue:
    pass


BARE = "bare"  # `raise`
BOUND = "bound"  # `raise exc`, exc being the name the handler binds its exception to
RAISED_TYPES = ("ValueError", "OSError", "RuntimeError", "asyncio.CancelledError")


@dataclass(frozen=True)
class Raise:
    what: str  # BARE, BOUND or one of RAISED_TYPES (raised as a new instance)


OPAQUE = "flag"
CANCELLING = "asyncio.current_task().cancelling()"
# Only in fixed code, read back: `if isinstance(exc, asyncio.CancelledError):` about the
# exception the innermost clause caught (the fixer binds a name no one else uses).
IS_CANCELLATION = "isinstance(<caught>, asyncio.CancelledError)"


@dataclass(frozen=True)
class If:
    test: str  # OPAQUE, CANCELLING or IS_CANCELLATION
    body: Tuple["Stmt", ...]
    orelse: Tuple["Stmt", ...] = ()


FOR = "for"
WHILE = "while"
WHILE_TRUE = "while True"


@dataclass(frozen=True)
class Loop:
    kind: str  # FOR, WHILE or WHILE_TRUE
    body: Tuple["Stmt", ...]
    orelse: Tuple["Stmt", ...] = ()


# What an inner `except` clause names; None is a bare `except:`.
CAUGHT_TYPES = ("ValueError", "OSError", "asyncio.CancelledError", "Exception", None)


@dataclass(frozen=True)
class Clause:
    catches: Optional[str]  # one of CAUGHT_TYPES; in fixed code read back, also "BaseException"
    body: Tuple["Stmt", ...]


@dataclass(frozen=True)
class Try:
    body: Tuple["Stmt", ...]
    handlers: Tuple[Clause, ...] = ()
    orelse: Tuple["Stmt", ...] = ()
    finalbody: Tuple["Stmt", ...] = ()


Stmt = Union[Call, Pass, Uncancel, Return, Break, Continue, Raise, If, Loop, Try]
SIMPLE = (Call, Pass, Uncancel, Return, Break, Continue, Raise)


# -- rendering -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Program:
    """One handler, and how it sits in the coroutine ``f``."""

    body: Tuple[Stmt, ...]
    in_loop: bool = False  # the try sits in `for _ in x:`, so break/continue leave the handler
    bound: bool = False  # `except asyncio.CancelledError as exc:`
    one_line: bool = False  # `except asyncio.CancelledError: pass`, when the body is one statement

    def source(self) -> str:
        return render(self)[0]

    def handler_line(self) -> int:
        return render(self)[1]


@dataclass(frozen=True)
class Words:
    """How the statements are written: for the linter, or for CPython to run under an oracle
    that makes every choice (see ``executed_ends``)."""

    call: str
    awaited_call: str
    uncancel: str
    bare_raise: str
    tests: Dict[str, str]
    loops: Dict[str, str]


LINTED = Words(
    call="log(x)",
    awaited_call="await cleanup()",
    uncancel="asyncio.current_task().uncancel()",
    bare_raise="raise",
    tests={OPAQUE: OPAQUE, CANCELLING: CANCELLING},
    loops={FOR: "for item in items:", WHILE: "while flag:", WHILE_TRUE: "while True:"},
)


def render(program: Program, words: Words = LINTED) -> Tuple[str, int]:
    """The module's text, and the line of the handler's ``except``.

    Inner ``except`` clauses and ``raise`` statements carry a ``# L<n>`` comment, a name for the
    place that survives the fixer's edits (which move lines)."""
    tags = itertools.count(1)
    clause = "except asyncio.CancelledError" + (" as exc" if program.bound else "") + ":"
    lines = ["import asyncio", "", "", "async def f(x, flag, items):"]
    indent = "    "
    if program.in_loop:
        lines.append(indent + "for _ in x:")
        indent += "    "
    lines.append(indent + "try:")
    lines.append(indent + "    await asyncio.sleep(1)")
    handler_line = len(lines) + 1
    body = program.body
    if program.one_line and len(body) == 1 and isinstance(body[0], SIMPLE):
        lines.append(indent + clause + " " + _simple(body[0], words, tags))
    else:
        lines.append(indent + clause)
        lines.extend(_block(body, indent + "    ", words, tags))
    return "\n".join(lines) + "\n", handler_line


def _simple(statement: Stmt, words: Words, tags: Iterator[int]) -> str:
    if isinstance(statement, Call):
        return words.awaited_call if statement.awaited else words.call
    if isinstance(statement, Pass):
        return "pass"
    if isinstance(statement, Uncancel):
        return words.uncancel
    if isinstance(statement, Return):
        return "return"
    if isinstance(statement, Break):
        return "break"
    if isinstance(statement, Continue):
        return "continue"
    assert isinstance(statement, Raise)
    tag = f"  # L{next(tags)}"
    if statement.what == BARE:
        return words.bare_raise + tag
    if statement.what == BOUND:
        return "raise exc" + tag
    return f"raise {statement.what}()" + tag


def _block(block: Tuple[Stmt, ...], indent: str, words: Words, tags: Iterator[int]) -> List[str]:
    lines: List[str] = []
    for statement in block:
        lines.extend(_statement(statement, indent, words, tags))
    return lines


def _statement(statement: Stmt, indent: str, words: Words, tags: Iterator[int]) -> List[str]:
    inner = indent + "    "
    if isinstance(statement, SIMPLE):
        return [indent + _simple(statement, words, tags)]
    if isinstance(statement, If):
        test = words.tests[statement.test]
        lines = [f"{indent}if {test}:", *_block(statement.body, inner, words, tags)]
        orelse = statement.orelse
        while len(orelse) == 1 and isinstance(orelse[0], If):  # written as `elif`
            lines.append(f"{indent}elif {words.tests[orelse[0].test]}:")
            lines.extend(_block(orelse[0].body, inner, words, tags))
            orelse = orelse[0].orelse
        if orelse:
            lines.append(indent + "else:")
            lines.extend(_block(orelse, inner, words, tags))
        return lines
    if isinstance(statement, Loop):
        lines = [indent + words.loops[statement.kind], *_block(statement.body, inner, words, tags)]
        if statement.orelse:
            lines.append(indent + "else:")
            lines.extend(_block(statement.orelse, inner, words, tags))
        return lines
    assert isinstance(statement, Try)
    lines = [indent + "try:", *_block(statement.body, inner, words, tags)]
    for clause in statement.handlers:
        caught = "" if clause.catches is None else " " + clause.catches
        lines.append(f"{indent}except{caught}:  # L{next(tags)}")
        lines.extend(_block(clause.body, inner, words, tags))
    if statement.orelse:
        lines.append(indent + "else:")
        lines.extend(_block(statement.orelse, inner, words, tags))
    if statement.finalbody:
        lines.append(indent + "finally:")
        lines.extend(_block(statement.finalbody, inner, words, tags))
    return lines


# -- reading a program back (the fixer's output) --------------------------------------------------
def parse_program(source: str) -> Program:
    """The program that ``source`` renders, for a module shaped as ``render`` writes it (the
    fixer's output is). Anything outside the statement tree is an error."""
    function = ast.parse(source).body[-1]
    assert isinstance(function, ast.AsyncFunctionDef), ast.dump(function)
    statement = function.body[0]
    in_loop = isinstance(statement, ast.For)
    if isinstance(statement, ast.For):
        statement = statement.body[0]
    assert isinstance(statement, ast.Try), ast.dump(statement)
    handler = statement.handlers[0]
    return Program(_read_block(handler.body), in_loop, bound=handler.name == "exc")


def _read_block(block: List[ast.stmt]) -> Tuple[Stmt, ...]:
    return tuple(_read(statement) for statement in block)


def _read(node: ast.stmt) -> Stmt:
    text = ast.unparse(node)
    if isinstance(node, ast.Expr):
        known = {
            "log(x)": Call(False),
            "await cleanup()": Call(True),
            "asyncio.current_task().uncancel()": Uncancel(),
        }
        return known[text]
    simple = {ast.Pass: Pass(), ast.Return: Return(), ast.Break: Break(), ast.Continue: Continue()}
    if type(node) in simple:
        assert text in ("pass", "return", "break", "continue"), text
        return simple[type(node)]
    if isinstance(node, ast.Raise):
        if node.exc is None:
            return Raise(BARE)
        if text == "raise exc":
            return Raise(BOUND)
        assert isinstance(node.exc, ast.Call) and node.cause is None, text
        name = ast.unparse(node.exc.func)
        assert name in RAISED_TYPES and not node.exc.args, text
        return Raise(name)
    if isinstance(node, ast.If):
        test = ast.unparse(node.test)
        if re.fullmatch(r"isinstance\(\w+, asyncio\.CancelledError\)", test):
            test = IS_CANCELLATION
        assert test in (OPAQUE, CANCELLING, IS_CANCELLATION), test
        return If(test, _read_block(node.body), _read_block(node.orelse))
    if isinstance(node, ast.For):
        assert ast.unparse(node.target) == "item" and ast.unparse(node.iter) == "items", text
        return Loop(FOR, _read_block(node.body), _read_block(node.orelse))
    if isinstance(node, ast.While):
        kinds = {"flag": WHILE, "True": WHILE_TRUE}
        return Loop(kinds[ast.unparse(node.test)], _read_block(node.body), _read_block(node.orelse))
    assert isinstance(node, ast.Try), text
    clauses = []
    for clause in node.handlers:
        caught = None if clause.type is None else ast.unparse(clause.type)
        # A fix may turn a bare clause into `except BaseException as exc:`, or name a clause.
        assert caught in (*CAUGHT_TYPES, "BaseException"), ast.unparse(clause)
        assert clause.name in (None, "exc", "error", "cancel_exc", "caught_exc"), clause.name
        clauses.append(Clause(caught, _read_block(clause.body)))
    return Try(
        _read_block(node.body),
        tuple(clauses),
        _read_block(node.orelse),
        _read_block(node.finalbody),
    )


# -- running every path ----------------------------------------------------------------------------
CANCELLED = "CancelledError"
# The exceptions a call may raise: one for each kind of clause to catch, one that only
# `except Exception` catches, and one that only a bare `except:` does.
SPONTANEOUS = (CANCELLED, "ValueError", "OSError", "RuntimeError", "KeyboardInterrupt")


@dataclass(frozen=True)
class Exc:
    type: str  # CANCELLED, KeyboardInterrupt or the name of an Exception subclass
    by_raise: bool  # raised by a `raise` statement (else by a call)


OURS = Exc(CANCELLED, by_raise=True)


class Kind(enum.Enum):
    NORMAL = "completes"
    RETURN = "returns"
    BREAK = "breaks"
    CONTINUE = "continues"
    RAISE = "raises"


@dataclass(frozen=True)
class Outcome:
    """How a statement (or block) ended on one path, and whether that path is sanctioned."""

    kind: Kind
    sanctioned: bool
    exc: Optional[Exc] = None  # for RAISE


def _catches(caught: Optional[str], exc: Exc) -> bool:
    if caught is None or caught == "BaseException":
        return True
    if caught == "asyncio.CancelledError":
        return exc.type == CANCELLED
    if caught == "Exception":
        return exc.type not in (CANCELLED, "KeyboardInterrupt")
    return caught == exc.type


def _call(sanctioned: bool) -> Set[Outcome]:
    """A call raising, before it did anything."""
    return {Outcome(Kind.RAISE, sanctioned, Exc(name, by_raise=False)) for name in SPONTANEOUS}


def run_block(block: Tuple[Stmt, ...], sanctioned: bool, handling: Exc) -> Set[Outcome]:
    """Every way ``block`` can end when entered with this sanction while ``handling`` is the
    exception a bare ``raise`` would raise."""
    outcomes: Set[Outcome] = set()
    current = {sanctioned}
    for statement in block:
        following: Set[bool] = set()
        for state in current:
            for outcome in run_statement(statement, state, handling):
                if outcome.kind is Kind.NORMAL:
                    following.add(outcome.sanctioned)
                else:
                    outcomes.add(outcome)
        current = following
    outcomes.update(Outcome(Kind.NORMAL, state) for state in current)
    return outcomes


def run_statement(statement: Stmt, sanctioned: bool, handling: Exc) -> Set[Outcome]:
    if isinstance(statement, Call):
        return {Outcome(Kind.NORMAL, sanctioned)} | _call(sanctioned)
    if isinstance(statement, Uncancel):
        return {Outcome(Kind.NORMAL, True)} | _call(sanctioned)
    if isinstance(statement, Pass):
        return {Outcome(Kind.NORMAL, sanctioned)}
    if isinstance(statement, Return):
        return {Outcome(Kind.RETURN, sanctioned)}
    if isinstance(statement, Break):
        return {Outcome(Kind.BREAK, sanctioned)}
    if isinstance(statement, Continue):
        return {Outcome(Kind.CONTINUE, sanctioned)}
    if isinstance(statement, Raise):
        if statement.what == BARE:
            raised = Exc(handling.type, by_raise=True)
        elif statement.what == BOUND:
            raised = OURS
        elif statement.what == "asyncio.CancelledError":
            raised = Exc(CANCELLED, by_raise=True)
        else:
            raised = Exc(statement.what, by_raise=True)
        return {Outcome(Kind.RAISE, sanctioned, raised)}
    if isinstance(statement, If) and statement.test == IS_CANCELLATION:
        taken = statement.body if handling.type == CANCELLED else statement.orelse
        return run_block(taken, sanctioned, handling)
    if isinstance(statement, If):
        # When `cancelling()` is false the task is not being cancelled: the path is sanctioned.
        else_state = True if statement.test == CANCELLING else sanctioned
        return run_block(statement.body, sanctioned, handling) | run_block(
            statement.orelse, else_state, handling
        )
    if isinstance(statement, Loop):
        return _run_loop(statement, sanctioned, handling)
    assert isinstance(statement, Try)
    return _run_try(statement, sanctioned, handling)


def _run_loop(loop: Loop, sanctioned: bool, handling: Exc) -> Set[Outcome]:
    outcomes: Set[Outcome] = set()
    # States in which the loop's condition may turn out false (or `items` run out).
    finished: Set[bool] = set() if loop.kind == WHILE_TRUE else {sanctioned}
    starting = {sanctioned}
    for _ in range(2):
        next_round: Set[bool] = set()
        for state in starting:
            for outcome in run_block(loop.body, state, handling):
                if outcome.kind in (Kind.NORMAL, Kind.CONTINUE):
                    next_round.add(outcome.sanctioned)
                elif outcome.kind is Kind.BREAK:
                    outcomes.add(Outcome(Kind.NORMAL, outcome.sanctioned))  # skips the else
                else:
                    outcomes.add(outcome)
        if loop.kind != WHILE_TRUE:
            finished |= next_round
        starting = next_round
    for state in finished:
        # A break or continue in the loop's else belongs to the enclosing loop.
        outcomes |= run_block(loop.orelse, state, handling)
    return outcomes


def _run_try(node: Try, sanctioned: bool, handling: Exc) -> Set[Outcome]:
    through: Set[Outcome] = set()
    for outcome in run_block(node.body, sanctioned, handling):
        if outcome.kind is Kind.RAISE:
            assert outcome.exc is not None
            clause = next((c for c in node.handlers if _catches(c.catches, outcome.exc)), None)
            if clause is None:
                through.add(outcome)
            else:
                through |= run_block(clause.body, outcome.sanctioned, outcome.exc)
        elif outcome.kind is Kind.NORMAL:
            through |= run_block(node.orelse, outcome.sanctioned, handling)
        else:
            through.add(outcome)
    if not node.finalbody:
        return through
    outcomes: Set[Outcome] = set()
    for outcome in through:
        in_flight = outcome.exc if outcome.kind is Kind.RAISE else None
        for final in run_block(node.finalbody, outcome.sanctioned, in_flight or handling):
            if final.kind is Kind.NORMAL:  # what was in flight goes on
                outcomes.add(replace(outcome, sanctioned=final.sanctioned))
            else:
                outcomes.add(final)
    return outcomes


# -- the handler's ways out, in the words of flow.py's Exit ---------------------------------------
class End(enum.Enum):
    FALLTHROUGH = "falls off the end"
    RETURN = "returns"
    BREAK = "breaks out of the loop"
    CONTINUE = "continues the loop"
    PROPAGATES = "raises a CancelledError"
    RAISES_OTHER = "raises another exception"


SWALLOWING = frozenset({End.FALLTHROUGH, End.RETURN, End.BREAK, End.CONTINUE})


def handler_ends(program: Program) -> FrozenSet[Tuple[End, bool]]:
    """The handler's ways out, each with whether it is sanctioned."""
    ends = set()
    for outcome in run_block(program.body, False, OURS):
        if outcome.kind is Kind.RAISE:
            assert outcome.exc is not None
            if not outcome.exc.by_raise:
                continue  # a call's exception that nothing caught: not a way out the rules count
            end = End.PROPAGATES if outcome.exc.type == CANCELLED else End.RAISES_OTHER
        else:
            end = {
                Kind.NORMAL: End.FALLTHROUGH,
                Kind.RETURN: End.RETURN,
                Kind.BREAK: End.BREAK,
                Kind.CONTINUE: End.CONTINUE,
            }[outcome.kind]
        ends.add((end, outcome.sanctioned))
    return frozenset(ends)


def swallowing(program: Program) -> FrozenSet[End]:
    """The ways the handler ends the cancellation without sanction (flow.py's
    ``HandlerPaths.swallowing``; the CAN101 doc, *What it does*)."""
    return frozenset(
        end for end, sanctioned in handler_ends(program) if end in SWALLOWING and not sanctioned
    )


def propagates(program: Program) -> bool:
    """Some path re-raises the cancellation (flow.py's ``HandlerPaths.reraises``; the CAN102 doc,
    *What it does*)."""
    return any(end is End.PROPAGATES for end, _ in handler_ends(program))


def expected_code(program: Program) -> Optional[str]:
    """CAN101 when the handler swallows and never re-raises, CAN102 when it does both, else
    nothing (the CAN101 and CAN102 docs, *What it does*)."""
    if not swallowing(program):
        return None
    return "CAN102" if propagates(program) else "CAN101"


def describe(program: Program) -> str:
    """For a failing example: the source and what the reference makes of it."""
    ends = sorted(
        end.value + (" (sanctioned)" if sanctioned else "")
        for end, sanctioned in handler_ends(program)
    )
    tree = textwrap.indent(repr(program), "  ")
    return f"{program.source()}\nreference: {', '.join(ends)}\n{tree}"


# -- the interpreter checked against CPython -------------------------------------------------------
class Abandoned(BaseException):
    """Raised by the oracle to stop a path that went round ``while True`` too often."""


class Interrupt(BaseException):
    """What a call may raise that only a bare ``except:`` catches (KeyboardInterrupt's place)."""


ORACLE_RAISES = (asyncio.CancelledError, ValueError, OSError, RuntimeError, Interrupt)
EXECUTED = Words(
    call="oracle.call()",
    awaited_call="oracle.call()",
    uncancel="oracle.uncancel()",
    bare_raise="oracle.reraising(); raise",
    tests={OPAQUE: "oracle.choose()", CANCELLING: "oracle.cancelling()"},
    # A `for` over the oracle's rounds behaves as `while flag:` does: else, break and continue.
    loops={
        FOR: "for _ in oracle.rounds():",
        WHILE: "for _ in oracle.rounds():",
        WHILE_TRUE: "for _ in oracle.forever():",
    },
)


class Oracle:
    """Makes every choice of one run: ``prefix`` first, then the first option."""

    def __init__(self, prefix: List[int]) -> None:
        self.prefix = prefix
        self.taken: List[Tuple[int, int]] = []  # (choice, number of options)
        self.sanctioned = False
        self.abandoned = False
        self.continued = False

    def _pick(self, options: int) -> int:
        if self.abandoned:
            return 0  # the run no longer counts: do not branch on it
        position = len(self.taken)
        choice = self.prefix[position] if position < len(self.prefix) else 0
        self.taken.append((choice, options))
        return choice

    def next_prefix(self) -> Optional[List[int]]:
        """The choices of the next run, depth first; None when every run has been made."""
        for position in reversed(range(len(self.taken))):
            choice, options = self.taken[position]
            if choice + 1 < options:
                return [taken for taken, _ in self.taken[:position]] + [choice + 1]
        return None

    def choose(self) -> bool:
        return self._pick(2) == 1

    def call(self) -> None:
        which = self._pick(1 + len(ORACLE_RAISES))
        if which:
            error = ORACLE_RAISES[which - 1]()
            error.by_call = True
            raise error

    def uncancel(self) -> None:
        self.call()
        self.sanctioned = True

    def cancelling(self) -> bool:
        if self.choose():
            return True
        self.sanctioned = True
        return False

    def rounds(self) -> Iterator[None]:
        for _ in range(2):
            if not self.choose():
                return
            yield

    def forever(self) -> Iterator[None]:
        yield
        yield
        self.abandoned = True
        raise Abandoned()

    def outer(self) -> Iterator[None]:
        yield
        self.continued = True  # the loop asked for another round: a `continue` left the handler

    def reraising(self) -> None:
        # What a bare `raise` is about to re-raise: CPython's idea, not the interpreter's.
        sys.exc_info()[1].by_raise = True  # type: ignore[union-attr]


def executed_ends(program: Program) -> FrozenSet[Tuple[End, bool]]:
    """``handler_ends`` by another route: CPython runs the handler once for every sequence of
    the oracle's choices. Only for small programs: the runs multiply."""
    body = _block(program.body, "        ", EXECUTED, itertools.count(1))
    lines = [
        "def handler(oracle, ours):",
        "    for _ in oracle.outer():",
        "        try:",
        "            raise ours",
        "        except asyncio.CancelledError as exc:",
        *("    " + line for line in body),
        '        return "fell"',
        '    return "left the loop"',
    ]
    if not program.in_loop:  # the same without the loop
        lines = [lines[0], *(line[4:] for line in lines[2:-1])]
    namespace = {"asyncio": asyncio}
    exec(compile("\n".join(lines), "<handler>", "exec"), namespace)
    handler = namespace["handler"]
    ends = set()
    prefix: Optional[List[int]] = []
    while prefix is not None:
        oracle = Oracle(prefix)
        try:
            returned = handler(oracle, asyncio.CancelledError())
            end = {
                "fell": End.FALLTHROUGH,
                None: End.RETURN,
                "left the loop": End.CONTINUE if oracle.continued else End.BREAK,
            }[returned]
        except BaseException as error:  # the run's own exception, whatever it is
            if getattr(error, "by_call", False) and not getattr(error, "by_raise", False):
                end = None
            elif isinstance(error, asyncio.CancelledError):
                end = End.PROPAGATES
            else:
                end = End.RAISES_OTHER
        if end is not None and not oracle.abandoned:
            ends.add((end, oracle.sanctioned))
        prefix = oracle.next_prefix()
    return frozenset(ends)
