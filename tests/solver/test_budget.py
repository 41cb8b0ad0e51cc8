"""Budgets are work, not time: z3 resource units and query counts, so a busy machine gets the same answer.

The wall clock is only the safety net behind z3's ``rlimit``. These tests compare answers with the
machine quiet and with every core busy (a CPU hog); they time nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sympy
import z3
from solver_oracle import entry, guardset, sym

from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.service.pool import fresh_z3_context
from dimsolve.solver.budget import (RLIMIT_PER_MS, SAFETY_NET_FACTOR, SAFETY_NET_SLACK_MS, Allowance, Outcome, check,
                                    make_solver, rlimit_for, safety_net_ms)
from dimsolve.solver.check import Status
from dimsolve.solver.check import check as decide
from dimsolve.solver.problem import build_problem
from dimsolve.solver.synthesis import synthesize

s = [sym(f"s{i}") for i in range(4)]


def test_a_budget_buys_resource_units_and_a_far_safety_net():
    assert rlimit_for(2000) == 2000 * RLIMIT_PER_MS
    assert safety_net_ms(2000) == SAFETY_NET_FACTOR * 2000 + SAFETY_NET_SLACK_MS
    with pytest.raises(ValueError):
        rlimit_for(0)


def _hard_solver(timeout_ms: int) -> z3.Solver:
    a, b, c, d = z3.Ints("a b c d")
    solver = make_solver(timeout_ms)
    solver.add(a >= 2, b >= 2, c >= 2, d >= 2, a * a * b - c * d * d * a == 1234567, a * b * c * d % 7 == 3)
    return solver


def test_an_exhausted_budget_is_the_resource_limit_not_the_clock():
    solver = _hard_solver(5)
    assert check(solver) is Outcome.UNKNOWN
    assert "resource limit" in solver.reason_unknown() or solver.reason_unknown() == "canceled"


def test_an_allowance_is_charged_what_z3_counted_and_then_refuses():
    allowance = Allowance(units=rlimit_for(5) * 3 // 2, queries=10)
    assert allowance.check(_hard_solver(5), rlimit_for(5)) is Outcome.UNKNOWN  # the whole per-query budget
    assert not allowance.exhausted
    assert allowance.check(_hard_solver(5), rlimit_for(5)) is Outcome.UNKNOWN  # only what was left
    assert allowance.exhausted
    easy = make_solver()
    assert allowance.check(easy, rlimit_for(5)) is Outcome.UNKNOWN  # not asked at all


def test_an_allowance_counts_queries():
    allowance = Allowance(units=10**9, queries=2)
    answers = [allowance.check(make_solver(), 1000) for _ in range(3)]
    assert answers == [Outcome.SAT, Outcome.SAT, Outcome.UNKNOWN]


# --- the same answer on a busy machine ------------------------------------------------------------


@contextmanager
def busy_machine() -> Iterator[None]:
    """Every core (twice over) spinning in a process of its own, for the duration of the block."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait(timeout=10)


def _unbounded(n: int) -> Spec:
    return Spec(tuple(entry(i, DimSpec(DimKind.ROOT, root=f"d{i}"), 4) for i in range(n)),
                {f"d{i}": RootDim(f"d{i}", 2, None) for i in range(n)})


def _diophantine() -> Any:
    """Guards whose blame runs out of its allowance part way (z3 answers some, not all, on a 10 ms budget)."""
    guards = [sympy.Ne(s[0] * s[0] * s[1] - s[2] * s[3] * s[3], 1234567 + 2 * i) for i in range(12)]
    gs, spec = guardset((4, 4, 4, 4), guards), _unbounded(4)

    def answer() -> Any:
        verdict = decide(build_problem(gs, spec), 10)
        return (verdict.status, [(v.index, v.counterexample) for v in verdict.violations],
                [str(r.expr) for r in verdict.undecided])
    return answer


def _bound_guards() -> Any:
    """500 one-symbol bounds (the issue's case): DS301 "<= 9" on a quiet machine, DS401 under load, before."""
    gs, spec = guardset((6,), [s[0] < 10 + i for i in range(500)]), _unbounded(1)

    def answer() -> Any:
        problem = build_problem(gs, spec)
        verdict = decide(problem)
        plan = synthesize(problem, verdict)
        assert plan is not None
        return verdict.status, [v.index for v in verdict.violations], plan.changes, plan.verified, plan.exhausted
    return answer


@pytest.mark.parametrize("case", [_diophantine, _bound_guards], ids=["blame-out-of-budget", "500-bound-guards"])
def test_the_same_answer_quiet_and_busy(case: Callable[[], Any]):
    answer = case()
    with fresh_z3_context():  # z3's answers depend on what its context saw before: start each from nothing
        quiet = answer()
    with busy_machine(), fresh_z3_context():
        busy = answer()
    assert busy == quiet


def test_the_bound_guards_case_is_decided_with_a_verified_range():
    with fresh_z3_context():
        status, violations, changes, verified, exhausted = _bound_guards()()
    assert status is Status.VIOLATED and violations == [0] and verified and not exhausted
    assert [(type(c).__name__, c.max) for c in changes] == [("SetRange", 9)]


def test_the_diophantine_case_does_run_out_of_its_allowance():
    with fresh_z3_context():
        status, violations, undecided = _diophantine()()
    assert undecided and violations  # the boundary of the budget falls inside the blame
