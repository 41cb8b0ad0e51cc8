"""A z3 solver with a work budget, and a check that reports "unknown" instead of raising.

Every query dimsolve sends is bounded: an exhausted budget becomes ``Outcome.UNKNOWN`` (reported as
DS9xx), never a hang and never a guess. A budget is work, not time: ``timeout_ms`` buys z3 resource
units (its ``rlimit``) at the fixed rate ``RLIMIT_PER_MS``, so the same query gets the same answer
on a quiet or a loaded machine. A wall-clock timeout stays only as the last resort for a z3
component that does not count its work; it is set far beyond the resource budget.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import z3

DEFAULT_TIMEOUT_MS = 2000
# z3 resource units per millisecond of budget: about what z3 spends per millisecond on the queries
# dimsolve sends (0.9k to 1.7k measured on hard nonlinear and 10k-guard queries)
RLIMIT_PER_MS = 1000
# the wall-clock safety net: this many budgets, plus a constant for a loaded machine's scheduling
SAFETY_NET_FACTOR = 10
SAFETY_NET_SLACK_MS = 1000
# Preprocess before the SMT core: ``solve-eqs`` substitutes the spec's relations (``s1 == d + 1``)
# away and ``propagate-ineqs`` bounds what is left (products of bounded sizes), which decides
# thousands of guards in a fraction of a second where z3's default solver gave up at its budget.
# The solver this gives re-runs the pipeline on every ``check`` (push/pop included), so no query
# depends on the incremental solver's weaker reasoning. Existentials of Dim.AUTO sizes
# (``exists x, y >= 2: x + y == z``), on which ``smt`` alone answers "unknown", are eliminated
# first. A goal with a quantifier tries ``qe2`` and then ``qe``: ``qe`` leaves the quantifier over
# ``(z + 1) div 2`` in place and ``smt`` spends its whole budget on it, where ``qe2`` decides it at
# once; ``qe2`` gives up on non-linear ``mod`` under the quantifier, which ``qe`` then ``smt``
# decide. A goal without one takes the ``qe`` pipeline alone.
TACTICS = ("simplify", "solve-eqs", "propagate-ineqs", "qe", "smt")
QUANTIFIED_TACTICS = ("simplify", "solve-eqs", "propagate-ineqs", "qe2", "smt")


class Outcome(str, enum.Enum):
    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


_PIPELINE: list[tuple[z3.Context, z3.Tactic]] = []


def _pipeline() -> z3.Tactic:
    """The tactic, made once per default context: the service gives every check a fresh one, and
    z3 objects of different contexts must not meet."""
    ctx = z3.main_ctx()
    if not _PIPELINE or _PIPELINE[0][0] is not ctx:
        quantified = z3.Probe("has-quantifiers", ctx=ctx)
        either = z3.OrElse(z3.Then(*QUANTIFIED_TACTICS, ctx=ctx), z3.Then(*TACTICS, ctx=ctx), ctx=ctx)
        tactic = z3.Cond(quantified, either, z3.Then(*TACTICS, ctx=ctx), ctx=ctx)
        _PIPELINE[:] = [(ctx, tactic)]
    return _PIPELINE[0][1]


def _valid_budget(timeout_ms: int) -> int:
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise ValueError(f"timeout_ms must be a positive integer, got {timeout_ms!r}")
    return timeout_ms


def rlimit_for(timeout_ms: int) -> int:
    """The z3 resource units one query may spend on a budget of ``timeout_ms``.

    >>> rlimit_for(2)
    2000
    """
    return _valid_budget(timeout_ms) * RLIMIT_PER_MS


def safety_net_ms(timeout_ms: int) -> int:
    """The wall-clock timeout behind a budget of ``timeout_ms``: reached only by work z3 does not count."""
    return SAFETY_NET_FACTOR * _valid_budget(timeout_ms) + SAFETY_NET_SLACK_MS


def make_solver(timeout_ms: int = DEFAULT_TIMEOUT_MS) -> z3.Solver:
    """A fresh solver (the ``TACTICS`` pipeline) that gives up after ``rlimit_for(timeout_ms)``
    resource units per ``check`` (and, as a last resort, after ``safety_net_ms(timeout_ms)``).

    >>> check(make_solver(500)) is Outcome.SAT
    True
    """
    solver = _pipeline().solver()
    solver.set("rlimit", rlimit_for(timeout_ms))
    solver.set("timeout", safety_net_ms(timeout_ms))
    return solver


def spent(solver: z3.Solver | z3.Optimize) -> int:
    """The resource units z3 has counted so far in ``solver``'s context (all its solvers together)."""
    try:
        return int(solver.statistics().get_key_value("rlimit count"))
    except (z3.Z3Exception, KeyError):  # a statistic z3 did not record: nothing counted
        return 0


class Allowance:
    """Resource units shared by a sequence of queries (a blame, a fix search), and a count of them.

    What a deadline did, deterministically: once ``units`` are spent or ``queries`` asked, every
    further query is ``UNKNOWN`` without asking z3.

    >>> allowance = Allowance(units=10**6, queries=1)
    >>> allowance.check(make_solver(), 1000) is Outcome.SAT, allowance.check(make_solver(), 1000)
    (True, <Outcome.UNKNOWN: 'unknown'>)
    """

    def __init__(self, units: int, queries: int | None = None) -> None:
        self.units = units
        self.queries = queries

    @property
    def exhausted(self) -> bool:
        return self.units <= 0 or (self.queries is not None and self.queries <= 0)

    def check(self, solver: z3.Solver, per_query: int, run: Callable[[z3.Solver], Outcome] | None = None) -> Outcome:
        """``run(solver)`` (default: ``check``) with at most ``per_query`` units (fewer when less is
        left), charged here."""
        if self.exhausted:
            return Outcome.UNKNOWN
        if self.queries is not None:
            self.queries -= 1
        before = spent(solver)
        solver.set("rlimit", max(1, min(per_query, self.units)))
        outcome = (run or check)(solver)
        self.units -= max(spent(solver) - before, 1)
        return outcome


def check(solver: z3.Solver, *assumptions: z3.BoolRef) -> Outcome:
    """``solver.check(*assumptions)`` as an ``Outcome``; timeouts and z3 errors are ``UNKNOWN``."""
    try:
        result = solver.check(*assumptions)
    except z3.Z3Exception:
        return Outcome.UNKNOWN
    if result == z3.sat:
        return Outcome.SAT
    if result == z3.unsat:
        return Outcome.UNSAT
    return Outcome.UNKNOWN
