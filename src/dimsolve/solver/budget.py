"""A z3 solver with a time budget, and a check that reports "unknown" instead of raising.

Every query dimsolve sends is bounded: a timeout becomes ``Outcome.UNKNOWN`` (reported as DS9xx),
never a hang and never a guess.
"""

from __future__ import annotations

import enum

import z3

DEFAULT_TIMEOUT_MS = 2000
# Preprocess before the SMT core: ``solve-eqs`` substitutes the spec's relations (``s1 == d + 1``)
# away and ``propagate-ineqs`` bounds what is left (products of bounded sizes), which decides
# thousands of guards in a fraction of a second where z3's default solver gave up at its budget.
# The solver this gives re-runs the pipeline on every ``check`` (push/pop included), so no query
# depends on the incremental solver's weaker reasoning. ``qe`` eliminates the existentials of
# Dim.AUTO sizes (``exists x, y >= 2: x + y == z``), on which ``smt`` alone answers "unknown".
TACTICS = ("simplify", "solve-eqs", "propagate-ineqs", "qe", "smt")


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
        _PIPELINE[:] = [(ctx, z3.Then(*TACTICS, ctx=ctx))]
    return _PIPELINE[0][1]


def make_solver(timeout_ms: int = DEFAULT_TIMEOUT_MS) -> z3.Solver:
    """A fresh solver (the ``TACTICS`` pipeline) that gives up after ``timeout_ms`` milliseconds per ``check``.

    >>> check(make_solver(500)) is Outcome.SAT
    True
    """
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise ValueError(f"timeout_ms must be a positive integer, got {timeout_ms!r}")
    solver = _pipeline().solver()
    solver.set("timeout", timeout_ms)
    return solver


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
