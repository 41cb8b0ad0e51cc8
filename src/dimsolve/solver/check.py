"""Decide a spec against the guards: valid, violated (with counterexamples), or unknown.

Valid means ``UNSAT(domain ∧ ¬guards)``: every input size the spec admits satisfies every guard.
Each violated guard is blamed in trace order with the earlier guards assumed, so a guard torch
wrote in terms of an already-replaced symbol is never blamed for an earlier guard's failure.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import sympy
import z3

from dimsolve.guards.model import GuardRecord
from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, Allowance, Outcome, make_solver, rlimit_for
from dimsolve.solver.budget import check as run
from dimsolve.solver.probe import VALIDITY_PROBE_BUDGET, Points
from dimsolve.solver.problem import Problem
from dimsolve.solver.terms import at_most
from dimsolve.solver.existentials import exists

if TYPE_CHECKING:
    from dimsolve.solver.exhaustive import Decided

BLAME_BUDGET_TIMEOUTS = 5  # the whole blame gets this many per-query budgets, however many guards
BLAME_MAX_QUERIES = 4096  # and at most this many queries (each builds terms over its range in Python)


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
    undecided: tuple[GuardRecord, ...] = ()  # guards whose check ran out of budget
    # guards z3 left open (budget, no translation) that evaluation at every admitted size decided
    enumerated: tuple[GuardRecord, ...] = ()


def requirement(problem: Problem, guards: Sequence[z3.BoolRef]) -> z3.BoolRef:
    """The guards as a requirement on the spec's symbols: AUTO sizes are whatever makes them hold."""
    body = z3.And(*guards) if guards else z3.BoolVal(True)
    if not problem.auto:
        return body
    return exists(list(problem.auto.values()), [*problem.auto_domain, body])


def readable_bounds(problem: Problem) -> dict[str, int]:
    """The largest size a counterexample shows per named symbol, when the spec admits one that small."""
    example = problem.example()
    return {n: max(64, 4 * example.get(n, 2)) for n in problem.vars if n not in problem.auto}


def model_sizes(model: z3.ModelRef, problem: Problem) -> dict[str, int]:
    example = problem.example()
    out = {}
    for n in problem.vars:
        if n in problem.auto:
            continue
        val = model.eval(problem.vars[n], model_completion=True)
        out[n] = val.as_long() if z3.is_int_value(val) else example.get(n, 0)
    return out


def is_readable(sizes: dict[str, int], problem: Problem) -> bool:
    """Every size is within ``readable_bounds`` (then no query for smaller ones)."""
    bounds = readable_bounds(problem)
    return all(sizes[n] <= bounds[n] for n in bounds if n in sizes)


def counterexample_model(solver: z3.Solver, problem: Problem, known: dict[str, int] | None = None) -> dict[str, int] | None:
    """A satisfying model as symbol sizes, preferring small, readable sizes when there are any;
    ``known``: sizes that satisfy the solver's query, already found (used when none is readable)."""
    solver.push()
    solver.add(*[at_most(n, bound) for n, bound in readable_bounds(problem).items()])
    outcome = run(solver)
    if outcome is not Outcome.SAT:
        solver.pop()
        if known is not None:
            return known
        if run(solver) is not Outcome.SAT:
            return None
        model = solver.model()
    else:
        model = solver.model()
        solver.pop()
    return model_sizes(model, problem)


def open_guards(problem: Problem) -> list[tuple[int, GuardRecord, z3.BoolRef]]:
    """The guards the spec does not settle by itself (``Problem.implied``), with their indices."""
    return [(i, r, g) for i, (r, g) in enumerate(problem.guards) if r not in problem.implied]


def is_valid(problem: Problem, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Outcome:
    """UNSAT means valid. At most one solver call: the fast path before any blame."""
    return _validity(problem, timeout_ms)[0]


def _validity(problem: Problem, timeout_ms: int,
              open_terms: list[z3.BoolRef] | None = None) -> tuple[Outcome, z3.ModelRef | None]:
    """``is_valid``, with the counterexample model when SAT (without AUTO sizes: the blame reuses it);
    ``open_terms``: the open guards' terms, when already known."""
    guards = [g for _, _, g in open_guards(problem)] if open_terms is None else open_terms
    if not guards and not problem.auto:  # with AUTO sizes the requirement still says "some exist"
        return Outcome.UNSAT, None
    solver = make_solver(timeout_ms)
    solver.add(*problem.domain)
    solver.add(z3.Not(requirement(problem, guards)))
    outcome = run(solver)
    return outcome, solver.model() if outcome is Outcome.SAT and not problem.auto else None


class _Blame:
    """Which guards fail first, searched over ranges of guards in trace order.

    ``fails(a, b)``: some point admitted by the spec satisfies guards ``< a`` and fails one in
    ``[a, b)``; the first guard it fails is then blamed, so a range that is UNSAT holds no blamed
    guard. Without AUTO sizes a SAT range's model names such a guard ``j`` directly (the first one
    it fails): ``j`` is blamed and ``[a, j)``, ``(j, b)`` are searched next, so k violations cost
    about 3k + 1 queries whatever the number of guards. With AUTO sizes (or an unknown) the range
    is halved instead. Ranges are visited left to right, so (without AUTO sizes) the guards before a
    range are asserted once, not per query; the whole search has one ``budget.Allowance`` (resource
units and a query count, so where it ends does not depend on the machine's load). Before asking z3
    about a range, points next to the example (``probe.Points``) are tried: one that fails a guard
    of the range first answers the query as a model would, so z3 is left the ranges they cannot
    answer (proofs that a range holds no blamed guard, failures far from the example).
    """

    def __init__(self, problem: Problem, timeout_ms: int, points: Points) -> None:
        self.problem = problem
        self.guards = open_guards(problem)
        self.terms = [g for _, _, g in self.guards]
        self.timeout_ms = timeout_ms
        self.per_query = rlimit_for(timeout_ms)
        self.allowance = Allowance(BLAME_BUDGET_TIMEOUTS * self.per_query, BLAME_MAX_QUERIES)
        self._solver: z3.Solver | None = None  # made on the first query (points may answer them all)
        self.asserted = 0  # guards before this index are asserted in self.solver (no AUTO sizes)
        self.violations: list[GuardViolation] = []
        self.undecided: list[GuardRecord] = []
        self.failing: dict[int, dict[str, int]] = {}  # blamed guards known from a range's model (no re-query)
        self.points = points  # over the same guards

    @property
    def solver(self) -> z3.Solver:
        if self._solver is None:
            self._solver = make_solver(self.timeout_ms)
            self._solver.add(*self.problem.domain)
        return self._solver

    def run(self, whole: Outcome, model: z3.ModelRef | None = None, point: tuple[int, dict[str, int]] | None = None) -> None:
        """Blame every guard; ``whole`` is the outcome already known for all of them together, and
        ``model`` its counterexample, or ``point`` one found in Python (the first range's query is
        not asked again)."""
        todo: list[tuple[int, int]] = [(0, len(self.guards))]
        if point is not None:
            self.failing[point[0]] = point[1]
            todo = [(point[0] + 1, len(self.guards)), (point[0], point[0] + 1), (0, point[0])]
        elif model is not None and not self.problem.auto and len(self.guards) > 1:
            todo = self._ranges(model, 0, len(self.guards))
        elif model is not None and not self.problem.auto:
            self.failing[0] = model_sizes(model, self.problem)
        while todo:
            lo, hi = todo.pop()
            if hi <= lo:
                continue
            if self.allowance.exhausted:
                self.undecided.extend(r for _, r, _ in self.guards[lo:hi])
            elif hi - lo == 1:
                self._leaf(lo)
            elif self.problem.auto and (lo, hi) == (0, len(self.guards)) and whole is not Outcome.UNSAT:
                todo += self._halves(lo, hi)
            else:
                todo += self._split(lo, hi)

    @staticmethod
    def _halves(lo: int, hi: int) -> list[tuple[int, int]]:
        mid = (lo + hi) // 2
        return [(mid, hi), (lo, mid)]  # the left half is popped first: trace order, growing prefix

    def _split(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """The ranges still to search in ``[lo, hi)``, last first (a stack)."""
        point = self.points.witness(lo, hi)
        if point is not None:  # sizes near the example answer the query
            j, sizes = point
            self.failing[j] = sizes
            return [(j + 1, hi), (j, j + 1), (lo, j)]
        outcome = self._fails(lo, hi, keep=not self.problem.auto)
        if outcome is Outcome.UNSAT:
            return []
        if outcome is not Outcome.SAT or self.problem.auto:
            return self._halves(lo, hi)
        model = self.solver.model()
        self.solver.pop()
        return self._ranges(model, lo, hi)

    def _ranges(self, model: z3.ModelRef, lo: int, hi: int) -> list[tuple[int, int]]:
        """Split ``[lo, hi)`` at the first guard that ``model`` (which satisfies the guards < lo) fails."""
        for j in range(lo, hi):
            if z3.is_false(model.eval(self.terms[j], model_completion=True)):
                self.failing[j] = model_sizes(model, self.problem)  # it satisfies guards < j and fails j: blamed
                return [(j + 1, hi), (j, j + 1), (lo, j)]
        return self._halves(lo, hi)  # no guard fails at the model (never expected): search blind

    def _leaf(self, index: int) -> None:
        position, record, _ = self.guards[index]
        point = self.points.witness(index, index + 1) if index not in self.failing else None
        known = point[1] if point is not None else self.failing.get(index)
        if known is not None and is_readable(known, self.problem):  # a counterexample already
            self.violations.append(GuardViolation(record, position, known))
            return
        if known is not None:  # known SAT: only set the query up for a readable model
            self._push_query(index, index + 1)
            outcome = Outcome.SAT
        else:
            outcome = self._fails(index, index + 1, keep=True)
        if outcome is Outcome.SAT:
            cex = counterexample_model(self.solver, self.problem, known)
            self.solver.pop()
            if cex is not None:
                self.violations.append(GuardViolation(record, position, cex))
                return
        if outcome is not Outcome.UNSAT:
            self.undecided.append(record)

    def _fails(self, lo: int, hi: int, keep: bool = False) -> Outcome:
        """Is some guard of ``[lo, hi)`` blamed? ``keep``: leave the query pushed (for a model)."""
        self._push_query(lo, hi)
        outcome = self.allowance.check(self.solver, self.per_query, run)
        if not keep or outcome is not Outcome.SAT:
            self.solver.pop()
        return outcome

    def _push_query(self, lo: int, hi: int) -> None:
        """Assert the guards before ``lo``, then push "some guard of ``[lo, hi)`` is blamed"."""
        guards = self.terms
        if not self.problem.auto:
            self.solver.add(*guards[self.asserted:lo])
            self.asserted = max(self.asserted, lo)
        self.solver.push()
        if self.problem.auto:
            self.solver.add(requirement(self.problem, guards[:lo]), z3.Not(requirement(self.problem, guards[:hi])))
        else:
            self.solver.add(z3.Not(z3.And(guards[lo:hi])))


def check(problem: Problem, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Verdict:
    """Decide the problem. Unknown is an honest answer, never reported as valid.

    Guards z3 is known to find hard (nested ``//``/``%``, floats, no translation) are decided first
    by evaluation at every admitted size when those are few (``exhaustive``), so z3's budget is not
    spent on them; z3 decides the rest, and evaluation takes what z3 leaves open.
    """
    hard = {r for _, r, _ in open_guards(problem) if is_hard(r.expr)} | {r for r, _ in problem.unsupported}
    early = _by_evaluation(problem, hard) if hard else None
    if early is None or not early[2]:
        return _enumerated(problem, _solve(problem, timeout_ms))
    records, decided, settled = early
    verdict = _solve(replace(problem, implied=problem.implied | settled), timeout_ms)
    return _enumerated(problem, _merged(problem, verdict, records, decided, hard))


def is_hard(expr: sympy.Basic) -> bool:
    """A guard z3 often cannot decide within its budget: a division inside a division (window
    padding), or float arithmetic."""
    return _hard(expr)


@functools.lru_cache(maxsize=4096)
def _hard(expr: sympy.Basic) -> bool:
    for node in expr.atoms(sympy.Function):
        name = type(node).__name__
        if name in _FLOATS:
            return True
        if name in _DIVISIONS and any(type(a).__name__ in _DIVISIONS for arg in node.args for a in arg.atoms(sympy.Function)):
            return True
    return False


_DIVISIONS = frozenset({"FloorDiv", "CleanDiv", "CeilDiv", "Mod", "PythonMod", "ModularIndexing"})
_FLOATS = frozenset({"ToFloat", "FloatTrueDiv", "IntTrueDiv", "TruncToInt", "FloorToInt", "CeilToInt", "RoundToInt"})


def _solve(problem: Problem, timeout_ms: int) -> Verdict:
    """The verdict of z3 (and of the probe points) on the translated guards."""
    guards = open_guards(problem)
    points = Points(problem, [r for _, r, _ in guards])
    # sizes next to the example that fail a guard: violated, without the validity query
    point = points.witness(0, len(guards), spend=VALIDITY_PROBE_BUDGET) if guards else None
    terms = [g for _, _, g in guards]
    overall, model = (Outcome.SAT, None) if point is not None else _validity(problem, timeout_ms, terms)
    if overall is Outcome.UNSAT:
        return Verdict(Status.VALID)
    blame = _Blame(problem, timeout_ms, points)
    blame.run(overall, model, point)
    if blame.violations:
        return Verdict(Status.VIOLATED, tuple(blame.violations), tuple(blame.undecided))
    return Verdict(Status.UNKNOWN, (), tuple(blame.undecided) or tuple(r for r, _ in problem.guards))


def _by_evaluation(problem: Problem, wanted: set[GuardRecord]) -> tuple[list[GuardRecord], Decided, frozenset[GuardRecord]] | None:
    """The guards evaluation can decide (trace order), what it decided for the components holding
    one of ``wanted``, and the guards it settled (decided, or not evaluable somewhere they matter)."""
    from dimsolve.solver.exhaustive import first_failures, problem_region

    candidates = {r for _, r, _ in open_guards(problem)} | {r for r, _ in problem.unsupported}
    auto = set(problem.auto)
    records = [r for r in problem.guardset.guards if r in candidates and not r.symbols & auto]
    only = {i for i, r in enumerate(records) if r in wanted}
    if not only:
        return None
    decided = first_failures([r.expr for r in records], problem_region(problem), only=only)
    return records, decided, frozenset(records[i] for i in decided.decided | decided.undefined)


def _merged(problem: Problem, verdict: Verdict, records: list[GuardRecord], decided: Decided,
            wanted: set[GuardRecord]) -> Verdict:
    """``verdict`` with the guards evaluation settled taken from ``decided``."""
    settled = {records[i] for i in decided.decided | decided.undefined}
    index = {r: i for i, (r, _) in enumerate(problem.guards)}
    violations = [v for v in verdict.violations if v.guard not in settled]
    violations += [GuardViolation(records[i], index.get(records[i], -1), sizes) for i, sizes in decided.fails.items()]
    undecided = tuple(r for r in verdict.undecided if r not in settled) + tuple(
        records[i] for i in sorted(decided.undefined) if i not in decided.fails and records[i] in wanted)
    enumerated = tuple(records[i] for i in sorted(decided.decided) if records[i] in wanted)
    order = {r: i for i, r in enumerate(problem.guardset.guards)}
    violations.sort(key=lambda v: order.get(v.guard, 0))
    status = Status.VIOLATED if violations else (Status.UNKNOWN if undecided else Status.VALID)
    return Verdict(status, tuple(violations), undecided, verdict.enumerated + enumerated)


def _enumerated(problem: Problem, verdict: Verdict) -> Verdict:
    """Guards z3 left open (out of budget, or without a translation) decided by evaluating the guards
    at every admitted size, when those are few (``exhaustive``). The components of guards holding an
    open one are re-decided whole, in trace order, so the blame stays "first guard to fail"."""
    wanted = (set(verdict.undecided) | {r for r, _ in problem.unsupported}) - set(verdict.enumerated)
    found = _by_evaluation(problem, wanted) if wanted else None
    if found is None or not found[2]:
        return verdict
    records, decided, _ = found
    return _merged(problem, verdict, records, decided, wanted)
