"""Does every path through an ``except`` handler re-raise?

The analysis walks the handler's statements once, carrying the set of *states* in which control
can reach the current point. A state is one boolean: is this path *sanctioned*, i.e. has it called
``<task>.uncancel()`` or is it reached only when a ``<task>.cancelling()`` check was false. Two
states at most, so loops reach their fixed point in two rounds and nothing is exponential.

Every way out of the handler is a :class:`PathEnd`: it falls off the end, returns, leaves an
enclosing loop (``break``/``continue``), re-raises the caught exception (bare ``raise``,
``raise <bound name>``, a call that never returns), raises a new ``CancelledError``, or raises
something else. It is exact over ``if``/``elif``/``else``, ``match``, nested ``try`` (a raise that
an inner handler certainly catches does not leave; any statement of a ``try`` may raise, so its
handlers and its ``finally`` can start from any state seen there; a ``finally`` that cannot
complete replaces every path through its ``try``), loops (``while True`` without ``break`` never
falls through; other loops may run zero times) and ``with`` (which suppresses only when it is
``contextlib.suppress`` or a configured suppressor).

A name that holds the caught exception (``error = exc``) re-raises it when raised; any other
assignment to it ends that. Names are tracked per block, not per path: where branches meet
again, a name keeps its meaning only if every branch that gets there agrees, otherwise raising it
counts as raising another exception (a branch that binds it on one path only is rare, and one of
its paths does raise something else).
"""

from __future__ import annotations

import enum
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple, Union

import libcst as cst

from flake8_cancel.names import Catch, Vocabulary
from flake8_cancel.syntax import (
    Handler,
    Statement,
    bound_name,
    calls_method,
    descendants,
    isinstance_classes,
    dotted_name,
    small_statements,
    statements,
)


class Exit(enum.Enum):
    FALLTHROUGH = "falls off the end"
    RETURN = "returns"
    BREAK = "breaks out of a loop"
    CONTINUE = "continues a loop"
    RERAISE = "re-raises"
    NEVER_RETURNS = "calls a function that never returns"
    RAISE_NEW_CANCELLED = "raises a new CancelledError"
    RAISE_OTHER = "raises another exception"
    # In an async generator: the consumer may never ask again (it breaks, or closes it), and
    # then the generator ends at this `yield` with GeneratorExit: the cancellation is lost.
    YIELDS = "yields to the consumer"
    # trio: a cancelled scope stays cancelled, so trio's own checkpoint in the handler raises the
    # cancellation again (`await trio.aclose_forcefully(stream)`): the path ends there.
    CHECKPOINT = "reaches a trio checkpoint, which raises the cancellation again"


SWALLOWING_EXITS = frozenset(
    {Exit.FALLTHROUGH, Exit.RETURN, Exit.BREAK, Exit.CONTINUE, Exit.YIELDS}
)
PROPAGATING_EXITS = frozenset(
    {Exit.RERAISE, Exit.NEVER_RETURNS, Exit.RAISE_NEW_CANCELLED, Exit.CHECKPOINT}
)
RAISING_EXITS = PROPAGATING_EXITS | {Exit.RAISE_OTHER}


class PathEnd:
    """One way out of the handler: how, whether sanctioned, and the statement that ends it."""

    __slots__ = ("exit", "sanctioned", "node")

    def __init__(self, exit: Exit, sanctioned: bool, node: Optional[cst.CSTNode]) -> None:
        self.exit = exit
        self.sanctioned = sanctioned
        self.node = node  # None when the path falls off the end

    def _key(self) -> Tuple[Exit, bool, int]:
        return (self.exit, self.sanctioned, id(self.node))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathEnd) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"PathEnd({self.exit.name}, sanctioned={self.sanctioned})"


class HandlerPaths:
    """The ways out of one handler, and the questions the rules ask of them."""

    def __init__(self, ends: Iterable[PathEnd]) -> None:
        self.ends: FrozenSet[PathEnd] = frozenset(ends)

    @property
    def swallowing(self) -> List[PathEnd]:
        """Paths that complete without propagating, and are not sanctioned suppression."""
        return [e for e in self.ends if e.exit in SWALLOWING_EXITS and not e.sanctioned]

    @property
    def reraises(self) -> bool:
        """Some path lets the cancellation propagate."""
        return any(end.exit in PROPAGATING_EXITS for end in self.ends)

    @property
    def every_path_reraises(self) -> bool:
        return all(end.exit in PROPAGATING_EXITS for end in self.ends)


class _Flow:
    """What a block does: states that complete it, paths that leave the handler, loop jumps."""

    __slots__ = ("fall", "ends", "breaks", "continues")

    def __init__(self, fall: Optional[Set[bool]] = None) -> None:
        self.fall: Set[bool] = set() if fall is None else fall
        self.ends: Set[PathEnd] = set()
        self.breaks: Set[bool] = set()
        self.continues: Set[bool] = set()

    def merge(self, other: "_Flow") -> None:
        self.fall |= other.fall
        self.ends |= other.ends
        self.breaks |= other.breaks
        self.continues |= other.continues

    def reached_states(self) -> Set[bool]:
        return self.fall | {end.sanctioned for end in self.ends} | self.breaks | self.continues


# What a bare `raise` (key None) or `raise <name>` means at this point of the handler.
RaiseMeanings = Dict[Optional[str], Exit]


def _record_assignment(small: cst.BaseSmallStatement, meanings: RaiseMeanings) -> None:
    """``error = exc`` (or ``self.error = exc``) makes raising ``error`` re-raise ``exc``; any
    other assignment to ``error`` ends that, so ``raise error`` then raises something else."""
    if isinstance(small, cst.Assign):
        targets = [target.target for target in small.targets]
        value: Optional[cst.BaseExpression] = small.value
    elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
        targets, value = [small.target], None
    else:
        return
    meaning = meanings.get(value.value) if isinstance(value, cst.Name) else None
    for target in targets:
        alias = dotted_name(target)
        if alias is None:
            continue
        if meaning is not None:
            meanings[alias] = meaning
        else:
            meanings.pop(alias, None)


def _join(meanings: RaiseMeanings, branches: Sequence[RaiseMeanings]) -> None:
    """Where branches meet again, a name keeps its meaning only if every branch that gets there
    agrees on it: on a path where it is something else, raising it is not a re-raise. Updates
    ``meanings`` in place, for the statements that follow."""
    if not branches:
        return  # no branch completes: what follows is unreachable
    first, *others = branches
    agreed = {name: exit for name, exit in first.items() if all(o.get(name) is exit for o in others)}
    meanings.clear()
    meanings.update(agreed)


def analyze_handler(
    handler: Handler,
    vocabulary: Vocabulary,
    in_async_generator: bool = False,
    catches_cancellation: bool = True,
) -> HandlerPaths:
    """``in_async_generator``: a ``yield`` in the handler may be where the path ends.
    ``catches_cancellation``: the paths followed are those of a cancellation (in trio, its
    checkpoints end them); else of the other exceptions the clause catches."""
    meanings: RaiseMeanings = {None: Exit.RERAISE}
    bound = bound_name(handler)
    if bound is not None:
        meanings[bound] = Exit.RERAISE
    analyzer = _Analyzer(vocabulary, bound, in_async_generator, in_handler=catches_cancellation)
    flow = analyzer.block(statements(handler.body), {False}, 0, meanings)
    ends = set(flow.ends)
    ends.update(PathEnd(Exit.FALLTHROUGH, state, None) for state in flow.fall)
    return HandlerPaths(ends)


def function_never_returns(function: cst.FunctionDef, vocabulary: Vocabulary) -> bool:
    """Does every path through the function's body raise, or call a function that never
    returns? A generator function is not judged (calling it only builds the generator), nor one
    with a ``while`` loop (it may loop forever instead of raising, which swallows as surely)."""
    for node in descendants(function.body):
        if isinstance(node, (cst.While, cst.Yield)):
            return False
    flow = _Analyzer(vocabulary).block(
        statements(function.body), {False}, 0, {None: Exit.RAISE_OTHER}
    )
    return not flow.fall and bool(flow.ends) and all(end.exit in RAISING_EXITS for end in flow.ends)


def function_reraises(function: cst.FunctionDef, parameter: str, vocabulary: Vocabulary) -> bool:
    """Called from a handler with the caught exception as ``parameter``, does the function
    raise it again (``raise``, ``raise parameter``) on every path where it is a cancellation?
    The paths that narrowing shows are for other exceptions may end as they like."""
    meanings: RaiseMeanings = {None: Exit.RERAISE, parameter: Exit.RERAISE}
    flow = _Analyzer(vocabulary, parameter).block(statements(function.body), {False}, 0, meanings)
    ends = set(flow.ends)
    ends.update(PathEnd(Exit.FALLTHROUGH, state, None) for state in flow.fall)
    return all(end.sanctioned or end.exit in PROPAGATING_EXITS for end in ends)


class _Analyzer:
    def __init__(
        self,
        vocabulary: Vocabulary,
        bound: Optional[str] = None,
        yields_end: bool = False,
        in_handler: bool = False,
    ) -> None:
        self.vocabulary = vocabulary
        self.bound = bound  # the name the handler binds its exception to, if any
        self.yields_end = yields_end  # an async generator's `yield` may end the path
        # trio's cancellation is level-triggered: its checkpoints in a handler re-raise it (not
        # inside a shielded scope).
        # Only for a handler's own paths: in a helper, a checkpoint just returns when nothing
        # is cancelled.
        self.checkpoints_reraise = in_handler and vocabulary.library == "trio"

    def block(
        self, block: Sequence[Statement], states: Set[bool], loops: int, meanings: RaiseMeanings
    ) -> _Flow:
        """``loops`` counts the loops entered inside the handler: a jump at 0 leaves it."""
        result = _Flow()
        current = set(states)
        for statement in block:
            if not current:
                break  # the rest is unreachable
            flow = self.statement(statement, current, loops, meanings)
            result.ends |= flow.ends
            result.breaks |= flow.breaks
            result.continues |= flow.continues
            current = flow.fall
        result.fall = current
        return result

    def statement(
        self, statement: Statement, states: Set[bool], loops: int, meanings: RaiseMeanings
    ) -> _Flow:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            return self.simple(small_statements(statement), states, loops, meanings)
        if isinstance(statement, cst.If):
            return self.if_(statement, states, loops, meanings)
        if isinstance(statement, (cst.For, cst.While)):
            return self.loop(statement, states, loops, meanings)
        if isinstance(statement, (cst.Try, cst.TryStar)):
            return self.try_(statement, states, loops, meanings)
        if isinstance(statement, cst.With):
            return self.with_(statement, states, loops, meanings)
        if isinstance(statement, cst.Match):
            return self.match(statement, states, loops, meanings)
        return _Flow(set(states))  # def, class: defining runs nothing

    # -- simple statements ---------------------------------------------------------------------
    def simple(
        self,
        smalls: Sequence[cst.BaseSmallStatement],
        states: Set[bool],
        loops: int,
        meanings: RaiseMeanings,
    ) -> _Flow:
        result = _Flow()
        current = set(states)
        for small in smalls:
            if calls_method(small, "uncancel"):
                current = {True}
            if self.yields_end and any(
                isinstance(node, cst.Yield) for node in (small, *descendants(small))
            ):
                result.ends.update(PathEnd(Exit.YIELDS, state, small) for state in current)
            if self.checkpoints_reraise and any(
                self.is_trio_checkpoint(node) for node in (small, *descendants(small))
            ):
                result.ends.update(PathEnd(Exit.CHECKPOINT, state, small) for state in current)
                return result
            _record_assignment(small, meanings)
            exit: Optional[Exit] = None
            if isinstance(small, cst.Raise):
                exit = self.raise_exit(small, meanings)
            elif isinstance(small, cst.Return):
                returned = small.value
                never = returned is not None and self.vocabulary.is_never_returning_call(returned)
                exit = Exit.NEVER_RETURNS if never else Exit.RETURN
            elif isinstance(small, (cst.Break, cst.Continue)):
                if loops:
                    jumps = result.breaks if isinstance(small, cst.Break) else result.continues
                    jumps |= current
                    return result
                exit = Exit.BREAK if isinstance(small, cst.Break) else Exit.CONTINUE
            elif isinstance(small, cst.Expr) and self.vocabulary.is_never_returning_call(
                small.value
            ):
                exit = Exit.NEVER_RETURNS
            elif isinstance(small, cst.Expr) and self.hands_back(small.value):
                exit = Exit.RERAISE
            if exit is not None:
                result.ends.update(PathEnd(exit, state, small) for state in current)
                return result
        result.fall = current
        return result

    def raise_exit(self, node: cst.Raise, meanings: RaiseMeanings) -> Exit:
        if node.exc is None:
            return meanings[None]
        return self.raised_exit(node.exc, meanings)

    def raised_exit(self, raised: cst.BaseExpression, meanings: RaiseMeanings) -> Exit:
        """How ``raise <raised>`` leaves the handler."""
        if isinstance(raised, cst.IfExp):
            # `raise exc if isinstance(exc, CancelledError) else Wrapped(exc)`
            narrowed = self.isinstance_of_cancellation(raised.test)
            if narrowed is True:
                return self.raised_exit(raised.body, meanings)
            if narrowed is False:
                return self.raised_exit(raised.orelse, meanings)
            either = {self.raised_exit(raised.body, meanings), self.raised_exit(raised.orelse, meanings)}
            return either.pop() if len(either) == 1 else Exit.RAISE_OTHER
        if (  # `raise exc.with_traceback(tb)` raises the same instance
            isinstance(raised, cst.Call)
            and isinstance(raised.func, cst.Attribute)
            and raised.func.attr.value == "with_traceback"
        ):
            raised = raised.func.value
        name = dotted_name(raised)
        if name is not None and name in meanings:
            return meanings[name]
        target = raised.func if isinstance(raised, cst.Call) else raised
        if self.vocabulary.is_cancelled_error(target):
            return Exit.RAISE_NEW_CANCELLED
        return Exit.RAISE_OTHER

    # -- branches --------------------------------------------------------------------------------
    def if_(self, node: cst.If, states: Set[bool], loops: int, meanings: RaiseMeanings) -> _Flow:
        if calls_method(node.test, "uncancel"):
            states = {True}
        then_states, else_states = states, states
        narrows = self.isinstance_of_cancellation
        if true_means_not_cancelling(node.test, narrows) or self.exit_suppresses(node.test):
            then_states = {True}
        if false_means_not_cancelling(node.test, narrows):
            else_states = {True}
        # `if isinstance(exc, CancelledError): raise`: the other branch is not the cancellation.
        narrowed = self.isinstance_of_cancellation(node.test)
        if narrowed is True:
            else_states = {True}
        elif narrowed is False:
            then_states = {True}
        then_meanings = dict(meanings)
        result = self.block(statements(node.body), then_states, loops, then_meanings)
        completing = [then_meanings] if result.fall else []
        if node.orelse is None:
            result.fall |= else_states
            completing.append(dict(meanings))
        else:
            else_meanings = dict(meanings)
            if isinstance(node.orelse, cst.If):
                other = self.if_(node.orelse, else_states, loops, else_meanings)
            else:
                other = self.block(statements(node.orelse.body), else_states, loops, else_meanings)
            if other.fall:
                completing.append(else_meanings)
            result.merge(other)
        _join(meanings, completing)
        return result

    def hands_back(self, expression: cst.BaseExpression) -> bool:
        """``await self._handle_error(exc)``: a helper given the caught exception that raises it
        again whenever it is a cancellation."""
        call = expression.expression if isinstance(expression, cst.Await) else expression
        return (
            self.bound is not None
            and self.vocabulary.callee_reraises is not None
            and isinstance(call, cst.Call)
            and any(dotted_name(argument.value) == self.bound for argument in call.args)
            and self.vocabulary.callee_reraises(expression, self.bound)
        )

    def exit_suppresses(self, test: cst.BaseExpression) -> bool:
        """``if scope.__exit__(type(exc), exc, exc.__traceback__):``: a context manager's exit,
        called by hand with the caught exception, says it suppresses it; the branch that then
        ends quietly does what a ``with`` statement does, the manager's decision."""
        if isinstance(test, cst.Await):
            test = test.expression
        return (
            self.bound is not None
            and isinstance(test, cst.Call)
            and isinstance(test.func, cst.Attribute)
            and test.func.attr.value in ("__exit__", "__aexit__")
            and any(dotted_name(argument.value) == self.bound for argument in test.args)
        )

    def isinstance_of_cancellation(self, test: cst.BaseExpression) -> Optional[bool]:
        """True for ``isinstance(exc, CancelledError)`` (``exc`` the handler's bound name, the
        types any cancellation spelling, alone or in a tuple), False for its negation."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            inner = self.isinstance_of_cancellation(test.expression)
            return None if inner is None else not inner
        if isinstance(test, cst.BooleanOperation):
            # `isinstance(exc, OSError) and retrying` is false for any cancellation; so is an
            # `or` of operands that all are.
            # `not isinstance(exc, Exception) or isinstance(exc, CancelledError)` is true for any.
            left = self.isinstance_of_cancellation(test.left)
            right = self.isinstance_of_cancellation(test.right)
            if isinstance(test.operator, cst.And):
                if False in (left, right):
                    return False
                return True if left is True and right is True else None
            if True in (left, right):
                return True
            return False if left is False and right is False else None
        classes = isinstance_classes(test, self.bound) if self.bound is not None else None
        if classes is None:
            return None
        types = list(self.vocabulary.bindings.exception_types(classes))
        if any(self.vocabulary.is_cancelled_error(single) for single in types):
            return True
        # `isinstance(exc, (OSError, asyncio.TimeoutError))` is never true of a CancelledError.
        if self.vocabulary.never_matches_cancellation(classes):
            return False
        return None

    def match(
        self, node: cst.Match, states: Set[bool], loops: int, meanings: RaiseMeanings
    ) -> _Flow:
        result = _Flow()
        exhaustive = False
        completing = []
        for case in node.cases:
            case_meanings = dict(meanings)
            flow = self.block(statements(case.body), states, loops, case_meanings)
            if flow.fall:
                completing.append(case_meanings)
            result.merge(flow)
            if case.guard is None and _irrefutable(case.pattern):
                exhaustive = True
                break  # later cases are unreachable
        if not exhaustive:
            result.fall |= states
            completing.append(dict(meanings))
        _join(meanings, completing)
        return result

    # -- loops -----------------------------------------------------------------------------------
    def loop(
        self,
        node: Union[cst.For, cst.While],
        states: Set[bool],
        loops: int,
        meanings: RaiseMeanings,
    ) -> _Flow:
        endless = isinstance(node, cst.While) and _always_true(node.test)
        entry = set(states)
        while True:  # at most two rounds: the state set only grows, and has two members
            body_meanings = dict(meanings)
            body = self.block(statements(node.body), entry, loops + 1, body_meanings)
            grown = entry | body.fall | body.continues
            if grown == entry:
                break
            entry = grown
        once = isinstance(node, cst.For) and _never_empty(node.iter)
        # The body may run zero times, unless it iterates a literal that is not empty.
        _join(meanings, [body_meanings] if once else [dict(meanings), body_meanings])
        result = _Flow()
        result.ends = body.ends
        if endless:
            finished: Set[bool] = set()
        elif once:  # only after a whole iteration
            finished = body.fall | body.continues
        else:  # the condition turned false, or nothing to iterate
            finished = entry
        if node.orelse is not None and finished:
            result.merge(self.block(statements(node.orelse.body), finished, loops, meanings))
        else:
            result.fall |= finished
        result.fall |= body.breaks
        return result

    # -- try -------------------------------------------------------------------------------------
    def try_(
        self,
        node: Union[cst.Try, cst.TryStar],
        states: Set[bool],
        loops: int,
        meanings: RaiseMeanings,
    ) -> _Flow:
        body_meanings = dict(meanings)
        body = self.block(statements(node.body), states, loops, body_meanings)
        # Any statement of the body may raise, so each handler may start in any state seen there,
        # and sees a name as the caught exception only if it was that before and after the body.
        handler_entry = set(states) | body.reached_states()
        handler_meanings = {n: e for n, e in meanings.items() if body_meanings.get(n) is e}
        completing = []
        catches = [self.vocabulary.catch_of(handler.type) for handler in node.handlers]

        result = _Flow()
        result.breaks = body.breaks
        result.continues = body.continues
        handled = self.named_types(handler.type for handler in node.handlers)
        result.ends = {end for end in body.ends if not _certainly_caught(end, catches, handled)}
        for index, handler in enumerate(node.handlers):
            inner = dict(handler_meanings)
            # A bare raise in an inner handler re-raises the inner exception, not ours.
            reraised = receives_cancellation(catches, index)
            inner_raise = Exit.RERAISE if reraised else Exit.RAISE_OTHER
            inner[None] = inner_raise
            inner_bound = bound_name(handler)
            if inner_bound is not None:
                inner[inner_bound] = inner_raise
            flow = self.block(statements(handler.body), handler_entry, loops, inner)
            # After the inner handler, a bare raise is ours again and its name is unbound.
            inner[None] = meanings[None]
            if inner_bound is not None:
                inner.pop(inner_bound, None)
            if flow.fall:
                completing.append(inner)
            result.merge(flow)
        if node.orelse is not None:
            orelse = self.block(statements(node.orelse.body), body.fall, loops, body_meanings)
            if orelse.fall:
                completing.append(body_meanings)
            result.merge(orelse)
        else:
            result.fall |= body.fall
            if body.fall:
                completing.append(body_meanings)
        _join(meanings, completing)

        if node.finalbody is None:
            return result
        # An exception from any statement of the try can reach the finally block, in any state
        # seen there: before an `uncancel()` that the paths completing the try all call.
        raising = handler_entry | result.reached_states()
        return self.finally_(statements(node.finalbody.body), result, raising, loops, meanings)

    def finally_(
        self,
        block: Sequence[Statement],
        through: _Flow,
        raising: Set[bool],
        loops: int,
        meanings: RaiseMeanings,
    ) -> _Flow:
        """Every path through the try runs the finally block, which may change its state (an
        ``uncancel()``, a ``cancelling()`` guard) or end it (a raise, a return). So does an
        exception raised in one of the ``raising`` states: a finally block that does not complete
        ends its path, one that completes lets it propagate (no way out of the handler)."""
        result = _Flow()
        after: Dict[bool, Set[bool]] = {}
        for state in through.reached_states() | raising:
            final = self.block(block, {state}, loops, meanings)
            result.ends |= final.ends
            result.breaks |= final.breaks
            result.continues |= final.continues
            after[state] = final.fall  # empty: the finally block replaces what was in flight
        for state in through.fall:
            result.fall |= after[state]
        for end in through.ends:
            result.ends.update(PathEnd(end.exit, new, end.node) for new in after[end.sanctioned])
        for state in through.breaks:
            result.breaks |= after[state]
        for state in through.continues:
            result.continues |= after[state]
        return result

    # -- with ------------------------------------------------------------------------------------
    def is_trio_checkpoint(self, node: cst.CSTNode) -> bool:
        """``await trio.sleep(0)``, ``await trio.aclose_forcefully(s)``: an await of one of
        trio's own functions, each of which checkpoints."""
        return (
            isinstance(node, cst.Await)
            and isinstance(node.expression, cst.Call)
            and any(
                meaning.split(".", 1)[0] == "trio"
                for meaning in self.vocabulary.bindings.resolve(node.expression.func)
            )
        )

    def with_(self, node: cst.With, states: Set[bool], loops: int, meanings: RaiseMeanings) -> _Flow:
        if self.checkpoints_reraise and (
            self.vocabulary.shields(node) or self.vocabulary.catches_in_block(node)
        ):
            # No checkpoint of a shielded scope raises it again; in `pytest.raises(Cancelled)`
            # or `suppress(...)` the block ends there, and what follows it still runs.
            self.checkpoints_reraise = False
            try:
                result = self.block(statements(node.body), states, loops, meanings)
            finally:
                self.checkpoints_reraise = True
        else:
            result = self.block(statements(node.body), states, loops, meanings)
        suppression = self.vocabulary.suppression_of(node)
        if suppression is None:
            return result
        suppressed, arguments = suppression
        handled = self.named_types(arguments)
        kept = set()
        for end in result.ends:
            if end.exit in RAISING_EXITS and _possibly_caught(end.exit, suppressed):
                result.fall.add(end.sanctioned)
                if _certainly_caught(end, [suppressed], handled):
                    continue
            kept.add(end)
        result.ends = kept
        return result

    def named_types(self, types: Iterable[Optional[cst.BaseExpression]]) -> Set[str]:
        """The dotted names of the exception types in ``except`` clauses or suppress() calls."""
        names = set()
        for written in types:
            for single in self.vocabulary.bindings.exception_types(written):
                name = dotted_name(single)
                if name is not None:
                    names.add(name)
        return names


def receives_cancellation(catches: Sequence[Catch], index: int) -> bool:
    """Can a cancellation reach clause ``index`` of a ``try`` whose clauses catch ``catches``? It
    must catch one, and no earlier clause may: after ``except CancelledError:``, a bare
    ``except:`` only ever sees other exceptions, so its bare ``raise`` re-raises one of those."""
    return catches[index].catches_cancellation and not any(
        earlier.catches_every_cancellation for earlier in catches[:index]
    )


def _certainly_caught(end: PathEnd, catches: Sequence[Catch], handled: Set[str]) -> bool:
    exit = end.exit
    if exit not in RAISING_EXITS:
        return False
    if exit is Exit.RAISE_OTHER and _raised_name(end.node) in handled:
        return True
    for catch in catches:
        if catch.catches_everything:
            return True
        if exit in (Exit.RERAISE, Exit.RAISE_NEW_CANCELLED) and catch.names_cancellation:
            return True
        if exit is Exit.RAISE_OTHER and catch.exception:
            return _raised_name(end.node) not in _NOT_EXCEPTIONS
    return False


# Raised by name, these escape `except Exception`.
_NOT_EXCEPTIONS = frozenset({"BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit"})


def _raised_name(node: Optional[cst.CSTNode]) -> Optional[str]:
    """``pkg.Error`` for ``raise pkg.Error(...)`` or ``raise pkg.Error``."""
    if not isinstance(node, cst.Raise) or node.exc is None:
        return None
    raised = node.exc.func if isinstance(node.exc, cst.Call) else node.exc
    return dotted_name(raised)


def _possibly_caught(exit: Exit, catch: Catch) -> bool:
    if exit is Exit.RAISE_OTHER:
        return True  # an unknown exception may match any suppressed type
    if exit in (Exit.RERAISE, Exit.RAISE_NEW_CANCELLED):
        return catch.catches_cancellation
    return catch.catches_everything


def _never_empty(iterable: cst.BaseExpression) -> bool:
    """A literal that has items: ``[a, b]``, ``(x,)``, ``{k: v}``, ``"ab"``, ``range(3)``,
    ``range(1, 4)`` (integer literals)."""
    if isinstance(iterable, (cst.List, cst.Tuple, cst.Set)):
        return any(
            not isinstance(element, cst.StarredElement) or _never_empty(element.value)
            for element in iterable.elements
        )
    if isinstance(iterable, cst.Dict):
        return any(
            isinstance(element, cst.DictElement) or _never_empty(element.value)
            for element in iterable.elements
        )
    if isinstance(iterable, cst.SimpleString):
        value = iterable.evaluated_value
        return bool(value)
    if (
        isinstance(iterable, cst.Call)
        and isinstance(iterable.func, cst.Name)
        and iterable.func.value == "range"
        and 1 <= len(iterable.args) <= 2
        and all(
            isinstance(argument.value, cst.Integer) and argument.keyword is None
            for argument in iterable.args
        )
    ):
        bounds = [int(argument.value.evaluated_value) for argument in iterable.args]  # type: ignore[attr-defined]
        start, stop = (0, bounds[0]) if len(bounds) == 1 else bounds
        return stop > start
    return False


def _always_true(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.Name):
        return test.value == "True"
    if isinstance(test, cst.Integer):
        return test.evaluated_value != 0
    return False


def _irrefutable(pattern: cst.MatchPattern) -> bool:
    if isinstance(pattern, cst.MatchAs):
        return pattern.pattern is None or _irrefutable(pattern.pattern)
    if isinstance(pattern, cst.MatchOr):
        return any(_irrefutable(element.pattern) for element in pattern.patterns)
    return False


# -- the cancelling() guard ----------------------------------------------------------------------
def _is_cancelling_call(node: cst.BaseExpression) -> bool:
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "cancelling"
    )


def _compares_cancelling(node: cst.BaseExpression) -> Optional[bool]:
    """For ``<task>.cancelling() OP N``: True when the comparison is true exactly while
    cancelling (``> 0``, ``!= 0``, ``>= 1``), False when true exactly while not cancelling
    (``== 0``, ``< 1``, ``<= 0``), None otherwise."""
    if not (isinstance(node, cst.Comparison) and len(node.comparisons) == 1):
        return None
    if not _is_cancelling_call(node.left):
        return None
    target = node.comparisons[0]
    if not isinstance(target.comparator, cst.Integer):
        return None
    value = target.comparator.evaluated_value
    operator = type(target.operator)
    if (operator, value) in ((cst.GreaterThan, 0), (cst.NotEqual, 0), (cst.GreaterThanEqual, 1)):
        return True
    if (operator, value) in ((cst.Equal, 0), (cst.LessThan, 1), (cst.LessThanEqual, 0)):
        return False
    return None


# Is this operand ``isinstance(exc, CancelledError)`` (True), its negation (False), or neither?
Narrowing = Callable[["cst.BaseExpression"], Optional[bool]]  # a string: libcst loads on use


def _no_narrowing(test: cst.BaseExpression) -> Optional[bool]:
    return None


def false_means_not_cancelling(
    test: cst.BaseExpression, narrows: Narrowing = _no_narrowing
) -> bool:
    """When ``test`` is false, is the task known not to be cancelling (or the exception known
    not to be the cancellation)?

    ``task and task.cancelling()`` counts: when it is false there is either no task to cancel or
    no cancellation pending. So does ``isinstance(exc, CancelledError) and task.cancelling()``:
    when it is false, the exception is no cancellation or none is pending.
    """
    if _is_cancelling_call(test) or _compares_cancelling(test) is True:
        return True
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return true_means_not_cancelling(test.expression, narrows)
    if isinstance(test, cst.BooleanOperation):
        if isinstance(test.operator, cst.Or):
            return false_means_not_cancelling(test.left, narrows) or false_means_not_cancelling(
                test.right, narrows
            )
        # `task and task.cancelling()` is false when there is no task or nothing is pending;
        # `flag and task.cancelling()` is false whenever flag is, cancelling or not.
        operands = _and_operands(test)
        for check in operands:
            if false_means_not_cancelling(check, narrows) and all(
                other is check
                or _checks_task_presence(other, check)
                or _is_version_check(other)
                or narrows(other) is True
                for other in operands
            ):
                return True
    return False


def _and_operands(test: cst.BaseExpression) -> List[cst.BaseExpression]:
    """``a and b and c`` (parsed as ``(a and b) and c``) as [a, b, c]."""
    return _operands(test, cst.And)


def _or_operands(test: cst.BaseExpression) -> List[cst.BaseExpression]:
    return _operands(test, cst.Or)


def _operands(test: cst.BaseExpression, operator: type) -> List[cst.BaseExpression]:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, operator):
        return _operands(test.left, operator) + _operands(test.right, operator)
    return [test]


def _is_version_check(test: cst.BaseExpression) -> bool:
    """``sys.version_info >= (3, 11)``: where it is false there is no ``cancelling()`` to ask, and
    the author has decided what the older versions do; the guard is still deliberate."""
    return (
        isinstance(test, cst.Comparison)
        and dotted_name(test.left) in ("sys.version_info", "version_info")
    )


def _cancelling_receiver(test: cst.BaseExpression) -> Optional[str]:
    while isinstance(test, cst.UnaryOperation):
        test = test.expression
    if isinstance(test, cst.Comparison):
        test = test.left
    if _is_cancelling_call(test):
        return dotted_name(test.func.value)  # type: ignore[union-attr]
    return None


def true_means_not_cancelling(
    test: cst.BaseExpression, narrows: Narrowing = _no_narrowing
) -> bool:
    """When ``test`` is true, is the task known not to be cancelling (or the exception known not
    to be the cancellation)?"""
    if _compares_cancelling(test) is False:
        return True
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return false_means_not_cancelling(test.expression, narrows)
    if isinstance(test, cst.BooleanOperation):
        if isinstance(test.operator, cst.And):
            return true_means_not_cancelling(test.left, narrows) or true_means_not_cancelling(
                test.right, narrows
            )
        # `task is None or not task.cancelling()`: true when there is no task, or nothing is
        # pending for it; `not isinstance(exc, CancelledError) or not task.cancelling()` too.
        operands = _or_operands(test)
        checks = [check for check in operands if true_means_not_cancelling(check, narrows)]
        return bool(checks) and all(
            check in checks
            or any(_checks_task_absence(check, other) for other in checks)
            or narrows(check) is False
            for check in operands
        )
    return False


def _checks_task_presence(check: cst.BaseExpression, cancelling_test: cst.BaseExpression) -> bool:
    """``task``, ``(task := ...)`` or ``task is not None``, for the task whose cancelling() is
    read."""
    return _checks_task(check, cancelling_test, present=True)


def _checks_task_absence(check: cst.BaseExpression, cancelling_test: cst.BaseExpression) -> bool:
    """``not task`` or ``task is None``, for the task whose cancelling() is read."""
    return _checks_task(check, cancelling_test, present=False)


def _checks_task(
    check: cst.BaseExpression, cancelling_test: cst.BaseExpression, present: bool
) -> bool:
    receiver = _cancelling_receiver(cancelling_test)
    if receiver is None:
        return False
    if isinstance(check, cst.UnaryOperation) and isinstance(check.operator, cst.Not):
        return not present and dotted_name(check.expression) == receiver
    if isinstance(check, cst.NamedExpr):
        check = check.target
    if (
        isinstance(check, cst.Comparison)
        and len(check.comparisons) == 1
        and isinstance(check.comparisons[0].operator, cst.IsNot if present else cst.Is)
        and isinstance(check.comparisons[0].comparator, cst.Name)
        and check.comparisons[0].comparator.value == "None"
    ):
        check = check.left
        if isinstance(check, cst.NamedExpr):
            check = check.target
    elif not present:
        return False  # a bare `task` says it is there
    return dotted_name(check) == receiver
