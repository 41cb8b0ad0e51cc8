"""Which violated guards each change of a fix plan answers: the guard a finding leads with, the ones
it lists as also required, and range changes that only carry a relation's shared bounds.

One finding per change reads best when each change owns the guards it explains best (same kind
of constraint, same dims, before and after the fix) and no change is left without its own guard.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from dimsolve.diagnostics.model import MakeAuto, NewRoot, Relate, SetRange, Specialize, SpecChange
from dimsolve.dims.model import Spec
from dimsolve.export.terms import root_ref
from dimsolve.solver.check import GuardViolation, Verdict
from dimsolve.solver.problem import Problem
from dimsolve.solver.synthesis import FixPlan


def roots_of(problem: Problem, v: GuardViolation) -> set[str]:
    roots = set()
    for sym in v.guard.symbols:
        for e in problem.entries_of.get(sym, []):
            if e.dim.root:
                roots.add(e.dim.root)
    return roots


def range_text(lo: int, hi: int | None) -> str:
    if hi is None:
        return f">= {lo}"
    return f"<= {hi}" if lo <= 2 else f"in [{lo}, {hi}]"


def _involved_roots(change: SpecChange) -> set[str]:
    return {getattr(change, "target", "")} | ({change.root} if isinstance(change, Relate) else set())


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _score(problem: Problem, plan: FixPlan, v: GuardViolation, change: SpecChange) -> float:
    """How well ``change`` explains violation ``v``: same kind of constraint, same roots."""
    roots, involved = roots_of(problem, v), _involved_roots(change)
    if not roots & involved and not _final(plan, roots) & _final(plan, involved):
        return 0.0
    is_equality = isinstance(v.guard.expr, sympy.Equality)
    kind_match = is_equality == isinstance(change, (Relate, Specialize, MakeAuto))
    # a new root (dx = 3*_dx - 1) answers a divisibility guard: that guard is its reason
    divisibility = isinstance(change, Relate) and change.root not in problem.spec.roots and any(
        type(a).__name__ in ("Mod", "PythonMod") for a in v.guard.expr.atoms(sympy.Function))
    return (2.0 * kind_match + 1.5 * divisibility + _jaccard(roots, involved)
            + _jaccard(_final(plan, roots), _final(plan, involved)))


def _closeness(problem: Problem, plan: FixPlan, v: GuardViolation, change: SpecChange) -> float:
    """How exactly a guard is about the dims a change touches (ties keep the trace order)."""
    roots, involved = roots_of(problem, v), _involved_roots(change)
    return _jaccard(roots, involved) + _jaccard(_final(plan, roots), _final(plan, involved))


def _final(plan: FixPlan, roots: set[str]) -> set[str]:
    """Roots after the fix: ``dy = dx`` maps dy to dx."""
    out = set()
    for r in roots:
        change = plan.change_of.get(r)
        out.add(change.root if isinstance(change, Relate) else r)
    return out


def _shared_range(spec: Spec, narrowing: SetRange, relation: Relate) -> bool:
    """``narrowing`` is only the range the related dims share: ``mask_seq = seq`` with ``mask_seq`` max=32
    narrows ``seq`` (max=64) to max=32. That narrowing is part of the relation, not a finding of its own."""
    target, root = spec.roots.get(relation.target), spec.roots.get(relation.root)
    if narrowing.target != relation.root or target is None or root is None or relation.coeff <= 0:
        return False
    c, o = relation.coeff, relation.offset
    lo = max(root.min, -((o - target.min) // c))  # ceil((target.min - o) / c)
    hi = None if target.max is None else (target.max - o) // c
    hi = hi if root.max is None else root.max if hi is None else min(hi, root.max)
    return (narrowing.max == hi and max(narrowing.min, 2) == max(lo, 2)
            and (narrowing.min, narrowing.max) != (root.min, root.max))


def shared_note(spec: Spec, narrowing: SetRange, relation: Relate) -> str:
    other = spec.roots[relation.target]
    return (f"with this relation, {root_ref(spec, narrowing.target)} can only be "
            f"{range_text(narrowing.min, narrowing.max)}, as {root_ref(spec, relation.target)} is "
            f"{range_text(other.min, other.max)}")


def _folded_ranges(problem: Problem, changes: list[SpecChange], owned: dict[int, list[GuardViolation]]
                   ) -> dict[int, int]:
    """Range changes no guard asks for that only carry a relation's shared range: index -> relation index."""
    out = {}
    for i, change in enumerate(changes):
        if not isinstance(change, SetRange) or owned[i]:
            continue
        for j, other in enumerate(changes):
            if isinstance(other, Relate) and _shared_range(problem.spec, change, other):
                out[i] = j
                break
    return out


def _share_ties(problem: Problem, plan: FixPlan, changes: list[SpecChange],
                owned: dict[int, list[GuardViolation]]) -> None:
    """A change left without a guard takes one that explains it as well as it explains its owner's
    (``e = d`` and ``f = d`` tie on ``e == f``), when that owner keeps another: each finding leads
    with its own guard."""
    for i, change in enumerate(changes):
        if owned[i]:
            continue
        target = getattr(change, "target", "")
        for j, theirs in owned.items():
            ties = [v for v in theirs if len(theirs) > 1 and target in roots_of(problem, v)
                    and _score(problem, plan, v, change) >= _score(problem, plan, v, changes[j])]
            if ties:
                theirs.remove(ties[-1])
                owned[i].append(ties[-1])
                break


@dataclass
class Ownership:
    """``owned[i]``: the guards shown with ``changes[i]``, its lead first; ``folded``: range changes
    shown inside a relation's finding (index -> the relation's index); ``remaining``: guards no
    change explains."""

    changes: list[SpecChange]
    owned: dict[int, list[GuardViolation]]
    folded: dict[int, int]
    remaining: list[GuardViolation]


def assign_guards(problem: Problem, verdict: Verdict, plan: FixPlan) -> Ownership:
    changes = [c for c in plan.changes if not isinstance(c, NewRoot)]
    owned: dict[int, list[GuardViolation]] = {i: [] for i in range(len(changes))}
    remaining = []
    for v in verdict.violations:
        scores = [_score(problem, plan, v, c) for c in changes]
        if scores and max(scores) > 0:
            owned[scores.index(max(scores))].append(v)
        else:
            remaining.append(v)
    _share_ties(problem, plan, changes, owned)
    folded = _folded_ranges(problem, changes, owned)
    for i, change in enumerate(changes):
        # the guard that best explains the change leads (its line, its counterexample)
        owned[i].sort(key=lambda v, c=change: -_closeness(problem, plan, v, c))
        if not owned[i]:  # a change needed by a guard another change owns: show that guard too
            context = max(verdict.violations, key=lambda v, c=change: _score(problem, plan, v, c), default=None)
            if context is not None and _score(problem, plan, context, change) > 0:
                owned[i] = [context]
        if isinstance(change, MakeAuto):  # the relation torch will infer leads
            relation = [v for v in verdict.violations if isinstance(v.guard.expr, sympy.Equality)
                        and change.target in roots_of(problem, v)]
            owned[i] = relation[:1] + [v for v in owned[i] if v not in relation[:1]]
    return Ownership(changes, owned, folded, remaining)
