"""Ranges for the fixed spec's roots: the largest box around the example that satisfies the guards.

Starts from the box the spec itself implies; if a guard (a branch, a multi-symbol condition) is not
implied there, the roots it involves are shrunk to the example and grown back one bound at a time,
as far as the guards allow (binary search with the solver). A root that cannot grow is specialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import time

import z3

from dimsolve.dims.model import DimKind
from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, Outcome, make_solver
from dimsolve.solver.budget import check as run
from dimsolve.solver.params import Parametrisation
from dimsolve.solver.problem import MIN_DYNAMIC_SIZE, Problem
from dimsolve.solver.search import FAR_BELOW, widest_bound


Box = tuple[int, int | None]


SEARCH_BUDGET_S = 30.0  # wall time for one fix search: past it, bounds stop growing (still valid)


@dataclass
class Candidate:
    par: Parametrisation
    boxes: dict[str, Box]
    fixed: dict[str, int] = field(default_factory=dict)  # roots specialised by the search
    undecided: bool = False
    deadline: float = field(default_factory=lambda: time.monotonic() + SEARCH_BUDGET_S)


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


def _domain(problem: Problem, cand: Candidate) -> tuple[list[z3.BoolRef], list[z3.ArithRef]]:
    constraints: list[z3.BoolRef] = []
    free: list[z3.ArithRef] = list(problem.auto.values())
    for name, var in problem.vars.items():
        if name in problem.auto:
            continue
        aff = cand.par.symbols.get(name)
        if aff is None:
            free.append(var)  # not expressible: left to Dim.AUTO, so existential
            constraints.append(var >= MIN_DYNAMIC_SIZE)
            continue
        if aff.param is None:
            constraints.append(var == aff.offset)
        elif aff.param in cand.fixed:
            constraints.append(var == aff.coeff * cand.fixed[aff.param] + aff.offset)
        else:
            constraints.append(var == aff.coeff * _param_var(aff.param) + aff.offset)
    for p, (lo, hi) in cand.boxes.items():
        if p in cand.fixed:
            continue
        constraints.append(_param_var(p) >= lo)
        if hi is not None:
            constraints.append(_param_var(p) <= hi)
    return constraints, free


def candidate_valid(problem: Problem, cand: Candidate, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Outcome:
    """UNSAT: every size the candidate admits satisfies every guard (unknown sizes existential)."""
    constraints, free = _domain(problem, cand)
    free_names = {str(v) for v in free}
    # the domain of existential sizes goes inside the quantifier, the rest outside
    outer = [c for c in constraints if not (set(map(str, _vars_of(c))) & free_names)]
    inner = [c for c in constraints if set(map(str, _vars_of(c))) & free_names] + list(problem.auto_domain)
    body = z3.And(*inner, *[g for _, g in problem.guards])
    req = z3.Exists(free, body) if free else body
    solver = make_solver(timeout_ms)
    solver.add(*outer)
    solver.add(z3.Not(req))
    return run(solver)


def _vars_of(expr: z3.ExprRef) -> list[z3.ExprRef]:
    out, todo = [], [expr]
    while todo:
        e = todo.pop()
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.append(e)
        else:
            todo.extend(e.children())
    return out


def _grow(problem: Problem, cand: Candidate, p: str, limit: int | None, up: bool, timeout_ms: int) -> int | None:
    """Push one bound of root ``p`` from the example towards ``limit`` as far as the guards allow."""
    lo, hi = cand.boxes[p]

    def ok(bound: int | None) -> bool:
        if time.monotonic() > cand.deadline:  # out of budget: keep the last valid (smaller) box
            cand.undecided = True
            return False
        cand.boxes[p] = (lo, bound) if up else (bound if bound is not None else FAR_BELOW, hi)
        outcome = candidate_valid(problem, cand, timeout_ms)
        cand.undecided |= outcome is Outcome.UNKNOWN
        return outcome is Outcome.UNSAT

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
