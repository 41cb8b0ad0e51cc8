"""Dim.AUTO instead of narrowing, when a relation Dims cannot write ties the narrowed sizes.

``x + y == (z + 1)//2`` (a ``cat`` against a strided slice): ``y`` is left to Dim.AUTO (it is
defined by the others), but the sizes left named must still leave ``y`` a valid size, and the range
search narrows them to a box around the example (``x <= 6``, ``z >= 15``). Sending the narrowed
sizes that share a guard with the AUTO one to Dim.AUTO too lets torch infer them, and the named
sizes left keep their whole range. The two are compared by the sizes the named Dims keep, with an
AUTO root counted at the range the narrowed fix gave it (what it certainly keeps): AUTO wins only
when it makes some named Dim wider, so a fix that narrows a little keeps its named Dims.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from dimsolve.solver.boxes import Candidate, initial_boxes
from dimsolve.solver.params import Parametrisation, user_roots
from dimsolve.solver.problem import Problem


def _narrowed(problem: Problem, cand: Candidate) -> set[str]:
    """Params whose box is smaller than the spec's own (the search narrowed them)."""
    full = initial_boxes(problem, cand.par)
    return {p for p, box in cand.boxes.items() if p in cand.fixed or box != full.get(p, box)}


def _tied_to_auto(problem: Problem, par: Parametrisation) -> set[str]:
    """User roots that share a guard with a size left to Dim.AUTO."""
    auto_symbols = {s for s, entries in problem.entries_of.items()
                    if any(e.dim.root in par.auto_roots for e in entries)}
    root_of = {s: e.dim.root for s, entries in problem.entries_of.items() for e in entries if e.dim.is_named}
    tied: set[str] = set()
    for record, _ in problem.guards:
        if record.symbols & auto_symbols:
            tied |= {root_of[s] for s in record.symbols - auto_symbols if s in root_of}
    return tied - set(par.auto_roots)


def kept(problem: Problem, cand: Candidate, counted: Callable[[Candidate, str], int],
         fallback: Candidate | None = None) -> int:
    """Sizes the named roots keep; a root left to AUTO counts as ``fallback`` keeps it."""
    total = 0
    for root in user_roots(problem):
        if root in cand.par.auto_roots:
            total += counted(fallback, root) if fallback is not None and root not in fallback.par.auto_roots else 0
        elif root in cand.par.roots:
            total += counted(cand, root)
    return total


def with_more_auto(problem: Problem, cand: Candidate, search: Callable[[Parametrisation], Candidate | None],
                   counted: Callable[[Candidate, str], int]) -> Candidate:
    """``cand``, or a candidate with some of the narrowed roots tied to an AUTO size also left to
    AUTO (each alone, or all), whichever keeps the most sizes (ties: the fewer AUTO)."""
    if not cand.par.auto_roots:
        return cand
    narrowed = _narrowed(problem, cand)
    movable = [r for r in _tied_to_auto(problem, cand.par)
               if r in cand.par.roots and cand.par.roots[r].param in narrowed
               and sum(1 for a in cand.par.roots.values() if a.param == cand.par.roots[r].param) == 1]
    if not movable:
        return cand
    best, best_kept = cand, kept(problem, cand, counted)
    # each narrowed root alone, then all of them: a handful of range searches
    for group in [[r] for r in sorted(movable)] + ([sorted(movable)] if len(movable) > 1 else []):
        other = search(_left_to_auto(cand.par, group))
        if other is None or other.undecided or other.fixed:
            continue
        count = kept(problem, other, counted, cand)
        if count > best_kept:
            best, best_kept = other, count
    return best


def _left_to_auto(par: Parametrisation, roots: list[str]) -> Parametrisation:
    params = {par.roots[r].param for r in roots}
    return replace(par, auto_roots=par.auto_roots + roots, roots={r: a for r, a in par.roots.items() if r not in roots},
                   symbols={s: a for s, a in par.symbols.items() if a.param not in params},
                   params={p: v for p, v in par.params.items() if p not in params})
