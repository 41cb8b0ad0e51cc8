"""Synthesise the weakest fix for a violated spec, and verify it by re-solving.

1. equalities (``params``): spec relations and linear guard equalities solved together;
2. ranges (``boxes``): the largest box of root values around the example that satisfies the rest;
3. the result becomes structured ``SpecChange``s and a fixed ``Spec``, which is checked again from
   scratch; only a fix that re-solves as valid is marked verified.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import z3

from dimsolve.diagnostics.model import MakeAuto, NewRoot, Relate, SetRange, SpecChange, Specialize
from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec, SpecEntry
from dimsolve.solver.boxes import Box, Candidate, candidate_model, candidate_valid, failing_guards, initial_boxes, search_boxes
from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, Outcome
from dimsolve.solver.check import Verdict, is_valid
from dimsolve.solver.params import Affine, Parametrisation, linear_inequalities, parametrise, user_roots
from dimsolve.solver.problem import Problem, build_problem, lowest_size


@dataclass(frozen=True)
class FixPlan:
    changes: tuple[SpecChange, ...]
    fixed_spec: Spec
    verified: bool
    # user root -> the change that concerns it (for attributing guards to findings)
    change_of: dict[str, SpecChange]
    # a range search ran out of its budget (``boxes.SEARCH_BUDGET_QUERIES``): the changes are not
    # the weakest fix, only a valid one; a larger budget may find another
    exhausted: bool = False


def effective_box(problem: Problem, root: str) -> Box:
    """The range of ``root`` the original spec really admits (its users' sizes are >= 2)."""
    spec_root = problem.spec.roots.get(root, RootDim(root))
    lo, hi = spec_root.min, spec_root.max
    for e in problem.spec.entries:
        if e.dim.root == root and e.dim.is_named:
            lo = max(lo, -((e.dim.offset - lowest_size(e)) // e.dim.coeff))
    return lo, hi


def _involved(problem: Problem, cand: Candidate, timeout_ms: int, seed: z3.ModelRef | None = None) -> list[str]:
    """Roots of the symbols in guards that the current box does not imply (``seed``: a model of the
    box failing the guards, see ``boxes.failing_guards``)."""
    indices = [i for i in range(len(problem.guards)) if i not in cand.par.consumed]
    involved: list[str] = []
    for i in sorted(failing_guards(problem, cand, indices, timeout_ms, seed)):
        for sym in sorted(problem.guards[i][0].symbols):
            aff = cand.par.symbols.get(sym)
            if aff and aff.param and aff.param not in involved:
                involved.append(aff.param)
    order = list(cand.par.params)
    return sorted(involved, key=order.index)


def _value(aff: Affine, cand: Candidate) -> Affine:
    if aff.param is not None and aff.param in cand.fixed:
        return Affine(None, 0, aff.coeff * cand.fixed[aff.param] + aff.offset)
    return aff


def _printed_range(problem: Problem, name: str, box: Box) -> RootDim:
    """Keep the user's own min/max wherever the fix did not tighten them."""
    if name in problem.spec.roots:
        eff_lo, eff_hi = effective_box(problem, name)
        user = problem.spec.roots[name]
        lo = user.min if box[0] <= eff_lo else box[0]
        hi = user.max if box[1] == eff_hi else box[1]
        return RootDim(name, lo, hi)
    return RootDim(name, max(box[0], 0), box[1])


def _fixed_entry(entry: SpecEntry, par: Parametrisation, cand: Candidate) -> SpecEntry:
    d = entry.dim
    if not d.is_named or d.root is None:
        return entry
    if d.root in par.auto_roots:
        return replace(entry, dim=DimSpec(DimKind.AUTO))
    aff = par.roots.get(d.root)
    if aff is None:
        return entry
    aff = _value(aff, cand)
    if aff.param is None:
        return replace(entry, dim=DimSpec(DimKind.STATIC, value=d.coeff * aff.offset + d.offset))
    coeff, offset = d.coeff * aff.coeff, d.coeff * aff.offset + d.offset
    kind = DimKind.ROOT if (coeff, offset) == (1, 0) else DimKind.DERIVED
    return replace(entry, dim=DimSpec(kind, root=aff.param, coeff=coeff, offset=offset))


def fixed_spec(problem: Problem, cand: Candidate) -> Spec:
    entries = tuple(_fixed_entry(e, cand.par, cand) for e in problem.spec.entries)
    used = {e.dim.root for e in entries if e.dim.is_named}
    roots = {p: _printed_range(problem, p, cand.boxes[p]) for p in cand.par.params if p in used and p not in cand.fixed}
    return replace(problem.spec, entries=entries, roots=roots)


def _changes(problem: Problem, current: Problem, cand: Candidate, pinned: dict[str, int]) -> tuple[list[SpecChange], dict[str, SpecChange]]:
    new_roots: list[SpecChange] = []
    others: list[SpecChange] = []
    change_of: dict[str, SpecChange] = {}
    for root in user_roots(problem):
        change: SpecChange | None = None
        if root in pinned:
            change = Specialize(root, pinned[root])
        elif root in cand.par.auto_roots:
            change = MakeAuto(root)
        elif root in cand.par.roots:
            aff = _value(cand.par.roots[root], cand)
            if aff.param is None:
                change = Specialize(root, aff.offset)
            elif aff.param != root:
                if aff.param in cand.par.new_params and not any(getattr(c, "name", None) == aff.param for c in new_roots):
                    rng = _printed_range(current, aff.param, cand.boxes[aff.param])
                    new_roots.append(NewRoot(aff.param, rng.min, rng.max))
                change = Relate(root, aff.param, aff.coeff, aff.offset)
            else:
                rng = _printed_range(current, root, cand.boxes[root])
                if rng != problem.spec.roots.get(root, RootDim(root)):
                    change = SetRange(root, rng.min, rng.max)
        if change is not None:
            others.append(change)
            change_of[root] = change
    return new_roots + others, change_of


def pin_roots(spec: Spec, pinned: dict[str, int]) -> Spec:
    """The spec with some roots specialised: their users become static sizes."""
    entries = tuple(
        replace(e, dim=DimSpec(DimKind.STATIC, value=e.dim.coeff * pinned[e.dim.root] + e.dim.offset))
        if e.dim.is_named and e.dim.root in pinned else e
        for e in spec.entries
    )
    return replace(spec, entries=entries, roots={k: v for k, v in spec.roots.items() if k not in pinned})


def _round(current: Problem, violated: set[int], timeout_ms: int, floordiv: bool = False) -> Candidate | None:
    return _search(current, parametrise(current, violated, floordiv), timeout_ms)


def _search(current: Problem, par: Parametrisation | None, timeout_ms: int) -> Candidate | None:
    """The widest boxes for ``par``'s roots (None: the equalities are contradictory)."""
    if par is None:
        return None
    cand = Candidate(par, initial_boxes(current, par))
    outcome, model = candidate_model(current, cand, timeout_ms)
    if outcome is Outcome.UNSAT:
        return cand
    search_boxes(current, cand, _involved(current, cand, timeout_ms, model), timeout_ms)
    if candidate_valid(current, cand, timeout_ms) is not Outcome.UNSAT:
        # guards that only fail together (through a size left to Dim.AUTO): grow every root they touch
        cand = Candidate(par, initial_boxes(current, par))
        search_boxes(current, cand, _all_guard_roots(current, cand), timeout_ms)
    return cand


def _related(current: Problem, violated: set[int], timeout_ms: int) -> Candidate | None:
    """The candidate with the violated linear inequalities between sizes held as the equalities
    they are at the example (an index bound ``x0 <= y0``: ``y0 = x0``), or None if there are none."""
    tight = linear_inequalities(current, violated)
    if not tight:
        return None
    return _search(current, parametrise(current, violated, as_equal=tight), timeout_ms)


def _all_guard_roots(problem: Problem, cand: Candidate) -> list[str]:
    roots: list[str] = []
    for i, (record, _) in enumerate(problem.guards):
        if i in cand.par.consumed:
            continue
        for sym in sorted(record.symbols):
            aff = cand.par.symbols.get(sym)
            if aff and aff.param and aff.param not in roots:
                roots.append(aff.param)
    order = list(cand.par.params)
    return sorted(roots, key=order.index)


DYNAMISM_WINDOW = 1024  # sizes counted when comparing how much two candidate fixes admit


def _admitted_count(aff: Affine, cand: Candidate) -> int:
    """How many sizes in ``[0, DYNAMISM_WINDOW]`` a user root may take under ``cand``."""
    aff = _value(aff, cand)
    if aff.param is None:
        return 1
    lo, hi = cand.boxes[aff.param]
    lo = max(lo, -(aff.offset // aff.coeff))  # sizes >= 0
    top = (DYNAMISM_WINDOW - aff.offset) // aff.coeff
    hi = top if hi is None else min(hi, top)
    return max(hi - lo + 1, 1) if hi >= lo else 1


def dynamism(problem: Problem, cand: Candidate) -> tuple[int, int]:
    """(user roots kept dynamic, sizes they admit): larger is weaker, i.e. a better fix.

    Counting fixed roots alone would prefer ``2*_dx + 1`` (odd sizes) over ``Dim(min=3)`` when both
    pin the same other dim; counting the sizes each root still admits does not.
    """
    counts = []
    for root in user_roots(problem):
        aff = cand.par.roots.get(root)
        if aff is None or root in cand.par.auto_roots:
            continue
        counts.append(_admitted_count(aff, cand))
    return sum(1 for c in counts if c > 1), sum(counts)


def _collapsed_roots(problem: Problem, cand: Candidate) -> list[tuple[str, int]]:
    """User roots the box search had to specialise, in the user's order, with their values."""
    out = []
    for root in user_roots(problem):
        aff = cand.par.roots.get(root)
        if aff is not None and aff.param in cand.fixed:
            out.append((root, aff.coeff * cand.fixed[aff.param] + aff.offset))
    return out


def synthesize(problem: Problem, verdict: Verdict, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> FixPlan | None:
    """The weakest verified fix, or None when the equalities are contradictory (spec errors first).

    When the range search must specialise several roots, pinning only the first and solving again
    often lets the others stay dynamic (``x.view(x.shape[0] - 1, -1)``: pin dim 0, dim 1 even).
    """
    violated = {v.index for v in verdict.violations if v.index >= 0}  # -1: a guard without a z3 translation
    if verdict.enumerated or verdict.undecided:  # z3 left guards open: evaluate them (few sizes)
        from dimsolve.solver.progressions import enumerated_fix

        found = enumerated_fix(problem)
        if found is not None:
            return _enumerated_plan(problem, found, timeout_ms)
    pinned: dict[str, int] = {}
    current = problem
    cand = _round(current, violated, timeout_ms)
    exhausted = cand is not None and cand.exhausted
    if cand is not None and cand.fixed:  # specialised: a FloorDiv lattice may keep the dims dynamic
        lattice_par = parametrise(current, violated, floordiv=True)
        # the same parametrisation (no FloorDiv to lattice) would search the same boxes again
        lattice = _search(current, lattice_par, timeout_ms) if lattice_par != cand.par else None
        exhausted |= lattice is not None and lattice.exhausted
        if lattice is not None and dynamism(current, lattice) > dynamism(current, cand):
            cand = lattice
    if cand is not None and cand.fixed:  # pinned by ``x <= y``: ``y = x`` may keep both dynamic
        related = _related(current, violated, timeout_ms)
        exhausted |= related is not None and related.exhausted
        if related is not None and dynamism(current, related) > dynamism(current, cand):
            cand = related
    while cand is not None:
        collapsed = _collapsed_roots(current, cand)
        if len(collapsed) < 2:
            break
        root, value = collapsed[0]
        pinned[root] = value
        current = build_problem(problem.guardset, pin_roots(problem.spec, pinned))
        cand = _round(current, violated, timeout_ms)
        exhausted |= cand is not None and cand.exhausted
    if cand is None:
        return None
    from dimsolve.solver.auto_choice import with_more_auto
    from dimsolve.solver.progressions import unpin_unreasoned

    # sizes narrowed only to leave room for one left to Dim.AUTO: AUTO too, if that keeps more sizes
    cand = with_more_auto(current, cand, lambda par: _search(current, par, timeout_ms),
                          lambda c, root: _admitted_count(c.par.roots[root], c))
    unpin_unreasoned(current, cand)  # a specialisation needs a guard that pins the size
    fixed = fixed_spec(current, cand)
    changes, change_of = _changes(problem, current, cand, pinned)
    verified = is_valid(build_problem(problem.guardset, fixed), timeout_ms) is Outcome.UNSAT
    return FixPlan(tuple(changes), fixed, verified and not cand.undecided and not exhausted, change_of, exhausted)


def _enumerated_plan(problem: Problem, cand: Candidate, timeout_ms: int) -> FixPlan:
    """The plan of a fix found by evaluation (``progressions``), verified by the full check."""
    from dimsolve.solver.check import Status, check

    fixed = fixed_spec(problem, cand)
    changes, change_of = _changes(problem, problem, cand, {})
    verified = check(build_problem(problem.guardset, fixed), timeout_ms).status is Status.VALID
    return FixPlan(tuple(changes), fixed, verified, change_of)
