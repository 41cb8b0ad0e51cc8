"""Decide a spec against the guards: valid, violated (with counterexamples), or unknown.

Valid means ``UNSAT(domain ∧ ¬guards)``: every input size the spec admits satisfies every guard.
Each violated guard is blamed in trace order with the earlier guards assumed, so a guard torch
wrote in terms of an already-replaced symbol is never blamed for an earlier guard's failure.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import z3

from dimsolve.guards.model import GuardRecord
from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, Outcome, make_solver
from dimsolve.solver.budget import check as run
from dimsolve.solver.problem import Problem


class Status(str, enum.Enum):
    VALID = "valid"
    VIOLATED = "violated"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class GuardViolation:
    guard: GuardRecord
    index: int  # position among the problem's translated guards
    counterexample: dict[str, int]  # symbol name -> size, admitted by the spec, failing the guard


@dataclass(frozen=True)
class Verdict:
    status: Status
    violations: tuple[GuardViolation, ...] = ()
    undecided: tuple[GuardRecord, ...] = ()  # guards whose check hit the time budget


def requirement(problem: Problem, guards: Sequence[z3.BoolRef]) -> z3.BoolRef:
    """The guards as a requirement on the spec's symbols: AUTO sizes are whatever makes them hold."""
    body = z3.And(*guards) if guards else z3.BoolVal(True)
    if not problem.auto:
        return body
    return z3.Exists(list(problem.auto.values()), z3.And(*problem.auto_domain, body))


def counterexample_model(solver: z3.Solver, problem: Problem) -> dict[str, int] | None:
    """A satisfying model as symbol sizes, preferring small, readable sizes when there are any."""
    names = [n for n in problem.vars if n not in problem.auto]
    example = problem.example()
    solver.push()
    solver.add(*[problem.vars[n] <= max(64, 4 * example.get(n, 2)) for n in names])
    outcome = run(solver)
    if outcome is not Outcome.SAT:
        solver.pop()
        if run(solver) is not Outcome.SAT:
            return None
        model = solver.model()
    else:
        model = solver.model()
        solver.pop()
    out = {}
    for n in names:
        val = model.eval(problem.vars[n], model_completion=True)
        out[n] = val.as_long() if z3.is_int_value(val) else example.get(n, 0)
    return out


def is_valid(problem: Problem, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Outcome:
    """UNSAT means valid. One solver call: the fast path before any blame."""
    solver = make_solver(timeout_ms)
    solver.add(*problem.domain)
    solver.add(z3.Not(requirement(problem, [g for _, g in problem.guards])))
    return run(solver)


def _blame(problem: Problem, timeout_ms: int) -> tuple[list[GuardViolation], list[GuardRecord]]:
    violations: list[GuardViolation] = []
    undecided: list[GuardRecord] = []
    solver = make_solver(timeout_ms)
    solver.add(*problem.domain)
    done: list[z3.BoolRef] = []
    for index, (record, guard) in enumerate(problem.guards):
        solver.push()
        if problem.auto:
            solver.add(requirement(problem, done), z3.Not(requirement(problem, done + [guard])))
        else:
            solver.add(z3.Not(guard))
        outcome = run(solver)
        cex = counterexample_model(solver, problem) if outcome is Outcome.SAT else None
        solver.pop()
        if outcome is Outcome.UNKNOWN:
            undecided.append(record)
        elif cex is not None:
            violations.append(GuardViolation(record, index, cex))
        done.append(guard)
        if not problem.auto:
            solver.add(guard)
    return violations, undecided


def check(problem: Problem, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Verdict:
    """Decide the problem. Unknown is an honest answer, never reported as valid."""
    overall = is_valid(problem, timeout_ms)
    if overall is Outcome.UNSAT:
        return Verdict(Status.VALID)
    violations, undecided = _blame(problem, timeout_ms)
    if violations:
        return Verdict(Status.VIOLATED, tuple(violations), tuple(undecided))
    return Verdict(Status.UNKNOWN, (), tuple(undecided) or tuple(r for r, _ in problem.guards))
