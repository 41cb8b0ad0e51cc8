"""Ranges for the fixed spec's roots: the largest box around the example that satisfies the guards.

Starts from the box the spec itself implies; if a guard (a branch, a multi-symbol condition) is not
implied there, the roots it involves are shrunk to the example and grown back one bound at a time,
as far as the guards allow (binary search with the solver). A root that cannot grow is specialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

from dimsolve.dims.model import DimKind
from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, Outcome, make_solver, rlimit_for, spent
from dimsolve.solver.budget import check as run
from dimsolve.solver.params import Parametrisation
from dimsolve.solver.linear import INF
from dimsolve.solver.probe import evaluate
from dimsolve.solver.problem import MIN_DYNAMIC_SIZE, Form, Problem, implied, lowest_size
from dimsolve.solver.search import FAR_BELOW, Refuted, widest_bound
from dimsolve.solver.terms import at_least, at_most, equals_affine, int_var
from dimsolve.solver.existentials import exists


Box = tuple[int, int | None]


# One fix search may spend this many per-query budgets of z3 work and ask this many range queries
# (each builds the candidate's domain in Python). Counts, not a deadline: past them, bounds stop
# growing and the search is ``exhausted``, the same on any machine.
SEARCH_BUDGET_QUERIES = 15
SEARCH_MAX_PROBES = 2048


@dataclass
class Candidate:
    par: Parametrisation
    boxes: dict[str, Box]
    fixed: dict[str, int] = field(default_factory=dict)  # roots specialised by the search
    undecided: bool = False  # some query was unknown: the box may be smaller than the guards allow
    exhausted: bool = False  # the search ran out of its budget before every bound was pushed out
    spent: int = 0  # z3 resource units used by the range search
    probes: int = 0  # range queries asked

    def out_of_budget(self, timeout_ms: int) -> bool:
        return self.probes >= SEARCH_MAX_PROBES or self.spent >= SEARCH_BUDGET_QUERIES * rlimit_for(timeout_ms)


def _param_var(name: str) -> z3.ArithRef:
    return int_var(f"param!{name}")


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def symbol_bounds(problem: Problem, name: str) -> Box:
    """The size range the *original* spec admits for one symbol (dynamic sizes are >= 2, ints >= 0)."""
    entries = problem.entries_of.get(name, [])
    lo, hi = min((lowest_size(e) for e in entries), default=MIN_DYNAMIC_SIZE), None
    for e in entries:
        d = e.dim
        if d.kind is DimKind.STATIC:
            v = d.value if d.value is not None else e.example
            return v, v
        root = problem.spec.roots.get(d.root or "")
        if root is not None:
            lo = max(lo, d.coeff * root.min + d.offset)
            if root.max is not None:
                top = d.coeff * root.max + d.offset
                hi = top if hi is None else min(hi, top)
    return lo, hi


def initial_boxes(problem: Problem, par: Parametrisation) -> dict[str, Box]:
    boxes: dict[str, Box] = {p: (FAR_BELOW, None) for p in par.params}
    for name, aff in par.symbols.items():
        if aff.param is None or aff.param not in boxes:
            continue
        lo, hi = symbol_bounds(problem, name)
        blo, bhi = boxes[aff.param]
        blo = max(blo, _ceil_div(lo - aff.offset, aff.coeff))
        if hi is not None:
            top = (hi - aff.offset) // aff.coeff
            bhi = top if bhi is None else min(bhi, top)
        boxes[aff.param] = (blo, bhi)
    for root, aff in par.roots.items():
        spec_root = problem.spec.roots.get(root)
        if spec_root is None or aff.param not in boxes:
            continue
        blo, bhi = boxes[aff.param]
        blo = max(blo, _ceil_div(spec_root.min - aff.offset, aff.coeff))
        if spec_root.max is not None:
            top = (spec_root.max - aff.offset) // aff.coeff
            bhi = top if bhi is None else min(bhi, top)
        boxes[aff.param] = (blo, bhi)
    return boxes


def _domain(problem: Problem, cand: Candidate) -> tuple[list[z3.BoolRef], list[z3.BoolRef], list[z3.ArithRef]]:
    """The candidate's admitted sizes: constraints on the named sizes and roots (``outer``), those on
    sizes left existential (``inner``: they go inside the quantifier), and the existential sizes."""
    outer: list[z3.BoolRef] = []
    inner: list[z3.BoolRef] = list(problem.auto_domain)
    free: list[z3.ArithRef] = list(problem.auto.values())
    for name, form in _forms(problem, cand).items():
        # z3 terms from ``terms``' cache: the search rebuilds the domain for every probe, and
        # building terms through z3's Python API was most of the fix synthesis time
        if form is None:
            free.append(problem.vars[name])  # not expressible: left to Dim.AUTO, so existential
            inner.append(at_least(name, min((lowest_size(e) for e in problem.entries_of.get(name, [])),
                                            default=MIN_DYNAMIC_SIZE)))
            continue
        p, coeff, offset = form
        outer.append(equals_affine(name, f"param!{p}" if p is not None else None, coeff, offset))
    for p, (lo, hi) in cand.boxes.items():
        if p in cand.fixed:
            continue
        outer.append(at_least(f"param!{p}", lo))
        if hi is not None:
            outer.append(at_most(f"param!{p}", hi))
    return outer, inner, free


def _forms(problem: Problem, cand: Candidate) -> dict[str, Form | None]:
    """Each named size as ``(root, coeff, offset)`` of the candidate (root None: a constant);
    None for a size the candidate cannot express (existential)."""
    forms: dict[str, Form | None] = {}
    for name in problem.vars:
        if name in problem.auto:
            continue
        aff = cand.par.symbols.get(name)
        if aff is None:
            forms[name] = None
        elif aff.param is None:
            forms[name] = (None, 0, aff.offset)
        elif aff.param in cand.fixed:
            forms[name] = (None, 0, aff.coeff * cand.fixed[aff.param] + aff.offset)
        else:
            forms[name] = (aff.param, aff.coeff, aff.offset)
    return forms


def _open_guards(problem: Problem, cand: Candidate) -> list[z3.BoolRef]:
    """The guards the candidate's box does not imply by interval reasoning (``problem.implied``)."""
    forms = {name: form for name, form in _forms(problem, cand).items() if form is not None}
    atoms = {p: (lo, INF if hi is None else hi) for p, (lo, hi) in cand.boxes.items() if p not in cand.fixed}
    settled = implied((r for r, _ in problem.guards), atoms, forms)
    return [g for r, g in problem.guards if r not in settled]


def candidate_valid(problem: Problem, cand: Candidate, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Outcome:
    """UNSAT: every size the candidate admits satisfies every guard (unknown sizes existential)."""
    return _candidate_query(problem, cand, timeout_ms)[0]


def candidate_model(problem: Problem, cand: Candidate, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> tuple[Outcome, z3.ModelRef | None]:
    """``candidate_valid``, with the counterexample when SAT and no size is existential (a seed
    for ``failing_guards``)."""
    outcome, solver, quantified = _candidate_query(problem, cand, timeout_ms)
    return outcome, solver.model() if solver is not None and outcome is Outcome.SAT and not quantified else None


def _candidate_query(problem: Problem, cand: Candidate, timeout_ms: int) -> tuple[Outcome, z3.Solver | None, bool]:
    """The outcome of ``candidate_valid``, its solver (None if none was needed) and whether sizes
    were existential. The z3 work is charged to ``cand.spent``."""
    guards = _open_guards(problem, cand)
    outer, inner, free = _domain(problem, cand)
    if not guards and not inner:  # sizes left to AUTO (``inner``) must still exist: z3 decides that
        return Outcome.UNSAT, None, bool(free)
    req = exists(free, [*inner, *guards])
    solver = make_solver(timeout_ms)
    solver.add(*outer)
    solver.add(z3.Not(req))
    before = spent(solver)
    outcome = run(solver)
    cand.spent += spent(solver) - before
    return outcome, solver, bool(free)


def _candidate_check(problem: Problem, cand: Candidate, timeout_ms: int,
                     witness: str | None = None) -> tuple[Outcome, int | None]:
    """``candidate_valid``, and when SAT the value of root ``witness`` in the counterexample."""
    outcome, solver, quantified = _candidate_query(problem, cand, timeout_ms)
    if witness is None or solver is None or outcome is not Outcome.SAT:
        return outcome, None
    model = solver.model()
    value = model.eval(_param_var(witness), model_completion=True)
    if not z3.is_int_value(value):
        return outcome, None
    return outcome, value.as_long() if quantified or problem.auto else _nearest_failure(problem, cand, model, witness, value.as_long())


WALK_STEPS = 16  # Python evaluations per counterexample, towards the example


def _nearest_failure(problem: Problem, cand: Candidate, model: z3.ModelRef, p: str, at: int) -> int:
    """The value of root ``p`` nearest its example that still fails a guard, walking from the
    counterexample's ``at`` with the other roots at its values (z3 often answers with the far end of
    the box; the nearest failure ends the range search sooner). Stops at the first value that passes
    or does not evaluate."""
    forms = _forms(problem, cand)
    if any(form is None for form in forms.values()):
        return at
    values = {}
    for q in cand.boxes:
        v = model.eval(_param_var(q), model_completion=True)
        values[q] = v.as_long() if z3.is_int_value(v) else 0
    start = cand.par.params[p]
    step = 1 if at < start else -1
    for v in range(at + step, start, step)[:WALK_STEPS]:
        values[p] = v
        sizes = {name: coeff * values[q] + offset if q is not None else offset
                 for name, (q, coeff, offset) in forms.items()}  # type: ignore[misc]
        if not _fails_some(problem, sizes):
            break
        at = v
    return at


def _fails_some(problem: Problem, sizes: dict[str, int]) -> bool:
    """Some guard is false at these sizes (and every guard evaluates)."""
    truths = [evaluate(record.expr, sizes) for record, _ in problem.guards]
    return None not in truths and False in truths


def failing_guards(problem: Problem, cand: Candidate, indices: list[int], timeout_ms: int = DEFAULT_TIMEOUT_MS,
                   seed: z3.ModelRef | None = None) -> set[int]:
    """The guards of ``indices`` (into ``problem.guards``) that the candidate does not imply one by
    one: each is what ``candidate_valid`` with that guard alone answers SAT or unknown for.

    Without existential sizes one query covers them all: a model of "the candidate admits a size
    that fails some guard" fails each guard it falsifies (that guard alone is SAT too), so those are
    taken and the rest asked again, until z3 answers UNSAT (the rest are implied). ``seed``: such a
    model already found (``candidate_model``), used first. A guard-by-guard query is the fallback
    (existential sizes, unknown, a model that decides nothing).
    """
    forms = {name: form for name, form in _forms(problem, cand).items() if form is not None}
    atoms = {p: (lo, INF if hi is None else hi) for p, (lo, hi) in cand.boxes.items() if p not in cand.fixed}
    settled = implied((problem.guards[i][0] for i in indices), atoms, forms)
    pending = {i: problem.guards[i][1] for i in indices if problem.guards[i][0] not in settled}
    outer, inner, free = _domain(problem, cand)
    failing: set[int] = set()
    while pending and not free:
        seeded, model, seed = seed is not None, seed, None
        if model is None:
            solver = make_solver(timeout_ms)
            solver.add(*outer)
            solver.add(z3.Not(z3.And(*inner, *pending.values())))
            outcome = run(solver)
            if outcome is Outcome.UNSAT:
                return failing
            model = solver.model() if outcome is Outcome.SAT else None
        hit = [i for i, g in pending.items() if model is not None
               and z3.is_false(model.eval(z3.And(*inner, g), model_completion=True))]
        if not hit and not seeded:
            break
        failing.update(hit)
        pending = {i: g for i, g in pending.items() if i not in failing}
    return failing | _failing_one_by_one(outer, inner, free, pending, timeout_ms)


def _failing_one_by_one(outer: list[z3.BoolRef], inner: list[z3.BoolRef], free: list[z3.ArithRef],
                        pending: dict[int, z3.BoolRef], timeout_ms: int) -> set[int]:
    failing: set[int] = set()
    if not pending:
        return failing
    solver = make_solver(timeout_ms)
    solver.add(*outer)
    for i, g in pending.items():
        solver.push()
        solver.add(z3.Not(exists(free, [*inner, g])))
        if run(solver) is not Outcome.UNSAT:
            failing.add(i)
        solver.pop()
    return failing


def _grow(problem: Problem, cand: Candidate, p: str, limit: int | None, up: bool, timeout_ms: int) -> int | None:
    """Push one bound of root ``p`` from the example towards ``limit`` as far as the guards allow."""
    lo, hi = cand.boxes[p]

    def ok(bound: int | None) -> bool | Refuted:
        if cand.out_of_budget(timeout_ms):  # keep the last valid (smaller) box
            cand.exhausted = True
            return False
        cand.probes += 1
        cand.boxes[p] = (lo, bound) if up else (bound if bound is not None else FAR_BELOW, hi)
        outcome, at = _candidate_check(problem, cand, timeout_ms, witness=p)
        cand.undecided |= outcome is Outcome.UNKNOWN
        if outcome is Outcome.UNSAT:
            return True
        return Refuted(at) if at is not None else False  # only p's bound moves: a larger box fails too

    good = widest_bound(cand.par.params[p], limit, up, ok)
    cand.boxes[p] = (lo, good) if up else (good if good is not None else FAR_BELOW, hi)  # the last bound proven valid
    return good


def search_boxes(problem: Problem, cand: Candidate, involved: list[str], timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
    """Shrink the involved roots to the example, then grow each bound back as far as valid."""
    limits = {p: cand.boxes[p] for p in involved}
    for p in involved:
        v = cand.par.params[p]
        cand.boxes[p] = (v, v)
    for p in involved:
        lo_limit, hi_limit = limits[p]
        _grow(problem, cand, p, hi_limit, True, timeout_ms)
        _grow(problem, cand, p, lo_limit, False, timeout_ms)
        lo, hi = cand.boxes[p]
        if hi is not None and lo >= hi:
            cand.fixed[p] = lo
