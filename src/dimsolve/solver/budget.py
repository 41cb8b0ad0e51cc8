"""A z3 solver with a time budget, and a check that reports "unknown" instead of raising.

Every query dimsolve sends is bounded: a timeout becomes ``Outcome.UNKNOWN`` (reported as DS9xx),
never a hang and never a guess.
"""

from __future__ import annotations

import enum

import z3

DEFAULT_TIMEOUT_MS = 2000


class Outcome(str, enum.Enum):
    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


def make_solver(timeout_ms: int = DEFAULT_TIMEOUT_MS) -> z3.Solver:
    """A fresh solver that gives up after ``timeout_ms`` milliseconds per ``check``.

    >>> check(make_solver(500)) is Outcome.SAT
    True
    """
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise ValueError(f"timeout_ms must be a positive integer, got {timeout_ms!r}")
    solver = z3.Solver()
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
