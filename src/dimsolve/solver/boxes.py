"""Ranges for the fixed spec's roots: the largest box around the example that satisfies the guards.

Starts from the box the spec itself implies; if a guard (a branch, a multi-symbol condition) is not
implied there, the roots it involves are shrunk to the example and grown back one bound at a time,
as far as the guards allow (binary search with the solver). A root that cannot grow is specialised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import z3

from dimsolve.dims.model import DimKind
from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, Outcome, make_solver
from dimsolve.solver.budget import check as run
from dimsolve.solver.params import Parametrisation
from dimsolve.solver.linear import INF
from dimsolve.solver.problem import MIN_DYNAMIC_SIZE, Form, Problem, implied
from dimsolve.solver.search import FAR_BELOW, Refuted, widest_bound


Box = tuple[int, int | None]


SEARCH_BUDGET_S = 30.0  # wall time for one fix search: past it, bounds stop growing (still valid)


@dataclass
class Candidate:
    par: Parametrisation
    boxes: dict[str, Box]
    fixed: dict[str, int] = field(default_factory=dict)  # roots specialised by the search
    undecided: bool = False
    deadline: float = field(default_factory=lambda: time.monotonic() + SEARCH_BUDGET_S)
    # z3 constraints by what they say: the search rebuilds the domain for every probe, and
    # building terms through z3's Python API was most of the fix synthesis time
    terms: dict[tuple[object, ...], z3.BoolRef] = field(default_factory=dict, repr=False)

    def term(self, key: tuple[object, ...], build: Callable[[], z3.BoolRef]) -> z3.BoolRef:
        found = self.terms.get(key)
        if found is None:
            found = self.terms[key] = build()
        return found


def _param_var(name: str) -> z3.ArithRef:
    return z3.Int(f"param!{name}")


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def symbol_bounds(problem: Problem, name: str) -> Box:
    """The size range the *original* spec admits for one symbol (dynamic sizes are >= 2)."""
    lo, hi = MIN_DYNAMIC_SIZE, None
    for e in problem.entries_of.get(name, []):
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
        var = problem.vars[name]
        if form is None:
            free.append(var)  # not expressible: left to Dim.AUTO, so existential
            inner.append(cand.term((name,), lambda: var >= MIN_DYNAMIC_SIZE))
            continue
        p, coeff, offset = form
        key = (name, p, coeff, offset)
        outer.append(cand.term(key, lambda: var == (coeff * _param_var(p) + offset if p is not None else offset)))
    for p, (lo, hi) in cand.boxes.items():
        if p in cand.fixed:
            continue
        outer.append(cand.term((p, ">=", lo), lambda: _param_var(p) >= lo))
        if hi is not None:
            outer.append(cand.term((p, "<=", hi), lambda: _param_var(p) <= hi))
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
    return _candidate_check(problem, cand, timeout_ms)[0]


def _candidate_check(problem: Problem, cand: Candidate, timeout_ms: int,
                     witness: str | None = None) -> tuple[Outcome, int | None]:
    """``candidate_valid``, and when SAT the value of root ``witness`` in the counterexample."""
    guards = _open_guards(problem, cand)
    outer, inner, free = _domain(problem, cand)
    if not guards and not inner:  # sizes left to AUTO (``inner``) must still exist: z3 decides that
        return Outcome.UNSAT, None
    body = z3.And(*inner, *guards)
    req = z3.Exists(free, body) if free else body
    solver = make_solver(timeout_ms)
    solver.add(*outer)
    solver.add(z3.Not(req))
    outcome = run(solver)
    if witness is None or outcome is not Outcome.SAT:
        return outcome, None
    value = solver.model().eval(_param_var(witness), model_completion=True)
    return outcome, value.as_long() if z3.is_int_value(value) else None


def _grow(problem: Problem, cand: Candidate, p: str, limit: int | None, up: bool, timeout_ms: int) -> int | None:
    """Push one bound of root ``p`` from the example towards ``limit`` as far as the guards allow."""
    lo, hi = cand.boxes[p]

    def ok(bound: int | None) -> bool | Refuted:
        if time.monotonic() > cand.deadline:  # out of budget: keep the last valid (smaller) box
            cand.undecided = True
            return False
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
