"""Fixes found by evaluation: for each root, the longest arithmetic progression of its values
through the example on which every guard holds.

When z3 leaves guards open (the nested ``//`` and ``%`` of window models) its range search cannot
prove any box and ends by specialising the roots. When the roots range over few values, evaluating
the guards on those values (``vectorised``) tells exactly which values work: for a Swin-like model
with ``height`` in ``[32, 256]`` the multiples of 16. The fix is then a relation, ``height =
16*_height`` with ``_height`` in ``[2, 16]``, not a specialisation: per root, the step ``p`` and the
run of values ``example + k*p`` (consecutive ``k``) that all pass, with the most values, the
smallest step among equals (``p = 1`` is a plain range). Roots that share guards are chosen in
turns, each against the values the others keep, and the product of the choices is checked whole.
A root whose only passing value is its example is specialised: some guard pins it there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import sympy

from dimsolve.guards.model import GuardRecord
from dimsolve.solver.boxes import Candidate, initial_boxes
from dimsolve.solver import exhaustive
from dimsolve.solver.exhaustive import Region, components, first_failures, symbol_names
from dimsolve.solver.params import Affine, Parametrisation, parametrise
from dimsolve.solver.problem import MIN_DYNAMIC_SIZE, Form, Problem
from dimsolve.solver.pyeval import compiled as scalar
from dimsolve.solver.vectorised import Frame, checked

PASSES = 3  # turns over the roots of one group of guards before giving up on agreeing
MAX_VALUES = 1 << 16  # values of one root enumerated


class _OutOfBudget(Exception):
    pass


def _guards(problem: Problem, par: Parametrisation) -> list[GuardRecord] | None:
    """The guards a candidate must satisfy, in trace order (None: one is on a size the
    parametrisation cannot express, such as a Dim.AUTO size: evaluation cannot decide it)."""
    consumed = {problem.guards[i][0] for i in par.consumed}
    wanted = {r for r, _ in problem.guards if r not in problem.implied and r not in consumed}
    wanted |= {r for r, _ in problem.unsupported}
    records = [r for r in problem.guardset.guards if r in wanted]
    return None if any(not r.symbols <= set(par.symbols) for r in records) else records


def _forms(par: Parametrisation) -> dict[str, Form]:
    return {s: (a.param, a.coeff, a.offset) if a.param is not None else (None, 0, a.offset)
            for s, a in par.symbols.items()}


def enumerated_fix(problem: Problem) -> Candidate | None:
    """The fix by evaluation, or None when a root involved has no finite range, a guard cannot be
    evaluated, or the budget (``exhaustive.EVALUATION_BUDGET``) is not enough."""
    par = parametrise(problem, set())
    if par is None or par.auto_roots:
        return None
    records = _guards(problem, par)
    if records is None:
        return None
    boxes = initial_boxes(problem, par)
    forms = _forms(par)
    guards = [r.expr for r in records]
    chosen: dict[str, tuple[int, int, int]] = {}  # param -> (step, lowest k, highest k) around its example
    budget = [exhaustive.EVALUATION_BUDGET]
    try:
        for atoms, positions in components(guards, forms):
            if not atoms:
                continue
            limits = {a: boxes[a] for a in atoms}
            if any(hi is None or hi - lo + 1 > MAX_VALUES for lo, hi in limits.values()):
                return None
            chosen.update(_agree([guards[i] for i in positions], forms, atoms, limits, par.params, budget))
    except _OutOfBudget:
        return None
    return _candidate(problem, par, boxes, chosen)


def _agree(guards: list[sympy.Basic], forms: Mapping[str, Form], atoms: list[str],
           limits: Mapping[str, tuple[int, int | None]], example: Mapping[str, int],
           budget: list[int]) -> dict[str, tuple[int, int, int]]:
    """A progression per atom such that every guard holds on their product: each atom in turn
    against the values the others keep (the example at first), until the product passes."""
    values = {a: np.array([example[a]], dtype=np.int64) for a in atoms}
    chosen = {a: (1, 0, 0) for a in atoms}
    involving = {a: [g for g in guards if any(forms[n][0] == a for n in symbol_names(g))] for a in atoms}
    for _ in range(PASSES):
        for a in atoms:
            lo, hi = limits[a]
            span = np.arange(lo, int(hi) + 1, dtype=np.int64)  # type: ignore[arg-type]
            passing = _passing(involving[a], forms, a, span, {b: values[b] for b in atoms if b != a}, budget)
            chosen[a] = longest_run(passing, example[a] - lo)
            step, k_lo, k_hi = chosen[a]
            values[a] = example[a] + step * np.arange(k_lo, k_hi + 1, dtype=np.int64)
        whole = {a: (int(v.min()), int(v.max())) for a, v in values.items()}
        if _holds_on_product(guards, forms, whole, {a: chosen[a][0] for a in atoms}, example, budget):
            return chosen
    return {a: (1, 0, 0) for a in atoms}  # no agreement: the example alone


def _passing(guards: list[sympy.Basic], forms: Mapping[str, Form], atom: str, span: np.ndarray,
             others: Mapping[str, np.ndarray], budget: list[int]) -> np.ndarray:
    """For each value of ``atom`` in ``span``: every guard holds with every combination of the others."""
    names = [atom, *others]
    grids = np.meshgrid(span, *others.values(), indexing="ij")
    flat = {n: g.reshape(-1) for n, g in zip(names, grids)}
    count = flat[atom].shape[0]
    budget[0] -= count * len(guards)
    if budget[0] < 0:
        raise _OutOfBudget
    sizes = {}
    for s, (a, coeff, offset) in forms.items():
        if a is None or not coeff:
            sizes[s] = np.full(count, offset, dtype=np.int64)
        elif a in flat:
            sizes[s] = coeff * flat[a] + offset
    bounds = {s: (float(v.min()), float(v.max())) for s, v in sizes.items()}
    frame = Frame(sizes, np.zeros(count, dtype=bool))
    ok = np.ones(count, dtype=bool)
    for g in guards:
        node = checked(g, bounds)
        if node is None:
            raise _OutOfBudget  # not evaluable here: leave it to z3
        ok &= np.broadcast_to(np.asarray(node(frame), dtype=bool), (count,))
    ok &= ~frame.undefined
    return ok.reshape(grids[0].shape).reshape(span.shape[0], -1).all(axis=1)


def longest_run(passing: np.ndarray, at: int) -> tuple[int, int, int]:
    """``(step, k_lo, k_hi)``: the arithmetic progression ``at + k*step`` (``k_lo <= k <= k_hi``,
    consecutive k) of passing indices with the most members, the smallest step among equals.

    >>> longest_run(np.array([i % 4 == 0 for i in range(13)]), 4)
    (4, -1, 2)
    """
    best = (1, 0, 0)
    n = passing.shape[0]
    if not passing[at]:
        return best
    for step in range(1, max(n - at, at + 1)):
        k_hi = 0
        while at + (k_hi + 1) * step < n and passing[at + (k_hi + 1) * step]:
            k_hi += 1
        k_lo = 0
        while at + (k_lo - 1) * step >= 0 and passing[at + (k_lo - 1) * step]:
            k_lo -= 1
        if k_hi - k_lo > best[2] - best[1]:
            best = (step, k_lo, k_hi)
    return best


def _holds_on_product(guards: list[sympy.Basic], forms: Mapping[str, Form], whole: Mapping[str, tuple[int, int]],
                      steps: Mapping[str, int], example: Mapping[str, int], budget: list[int]) -> bool:
    """Every guard holds on the product of the chosen progressions (as a ``Region`` of their indices)."""
    atoms = {a: ((lo - example[a]) // steps[a], (hi - example[a]) // steps[a]) for a, (lo, hi) in whole.items()}
    progression = {s: (a, coeff * steps[a], coeff * example[a] + offset) if a in steps else (a, coeff, offset)
                   for s, (a, coeff, offset) in forms.items()}
    decided = first_failures(guards, Region(atoms, progression, {a: 0 for a in atoms}), budget=max(budget[0], 0))
    budget[0] -= decided.evaluations
    return not decided.fails and not decided.open and not decided.undefined


def _candidate(problem: Problem, par: Parametrisation, boxes: Mapping[str, tuple[int, int | None]],
               chosen: Mapping[str, tuple[int, int, int]]) -> Candidate:
    """``par`` with each chosen progression as a (possibly new) root and its box."""
    renamed: dict[str, Affine] = {}  # old param -> its value in the new root
    params, new_params = dict(par.params), set(par.new_params)
    out_boxes = {p: b for p, b in boxes.items()}
    fixed: dict[str, int] = {}
    for p, (step, k_lo, k_hi) in chosen.items():
        e = par.params[p]
        if k_lo == k_hi and boxes[p] == (e, e):
            continue  # the spec admits this value alone already: nothing to change
        if k_lo == k_hi:
            fixed[p] = e
            out_boxes[p] = (e, e)
        elif step == 1:
            out_boxes[p] = (e + k_lo, e + k_hi)
        else:  # p = step*u + r: a new root u, shifted so that it is >= 2 at the example
            r, u0 = e % step, e // step
            shift = max(MIN_DYNAMIC_SIZE - u0, 0)
            name = p if p.startswith("_") else "_" + p
            renamed[p] = Affine(name, step, r - step * shift)
            del params[p], out_boxes[p]
            params[name], out_boxes[name] = u0 + shift, (u0 + k_lo + shift, u0 + k_hi + shift)
            new_params.add(name)

    def moved(a: Affine) -> Affine:
        if a.param not in renamed:
            return a
        to = renamed[a.param]
        return Affine(to.param, a.coeff * to.coeff, a.coeff * to.offset + a.offset)

    new = replace(par, roots={r: moved(a) for r, a in par.roots.items()},
                  symbols={s: moved(a) for s, a in par.symbols.items()}, params=params, new_params=new_params)
    return Candidate(new, out_boxes, fixed)


def pinning_guard(problem: Problem, points: Sequence[Mapping[str, int]]) -> tuple[GuardRecord, dict[str, int]] | None:
    """The first guard (trace order) that fails at one of ``points`` (the example with one root moved
    one step): a guard that pins the root; with the failing sizes. None: nothing pins it there."""
    records = [r for r in problem.guardset.guards
               if r in {g for g, _ in problem.guards} | {g for g, _ in problem.unsupported}]
    for sizes in points:
        for r in records:
            fn: Callable | None = scalar(r.expr)
            try:
                if fn is not None and r.symbols <= set(sizes) and fn(sizes) is False:
                    return r, dict(sizes)
            except (ArithmeticError, ValueError, TypeError, KeyError):
                continue
    return None


def moved(example: Mapping[str, int], users: Mapping[str, tuple[int, int]], value: int) -> list[dict[str, int]]:
    """The example with a root moved one step either way from ``value``: ``users`` maps each size
    of the root to ``(coeff, offset)``."""
    return [{**example, **{s: c * (value + step) + o for s, (c, o) in users.items()}} for step in (1, -1)]


def unpin_unreasoned(problem: Problem, cand: Candidate) -> list[str]:
    """Undo the specialisations of ``cand`` that no guard asks for (the search could not prove a
    wider box, which is an unknown, not a reason): those roots get their box back, and the
    candidate is marked undecided. Returns the roots unpinned."""
    example = problem.example()
    out = []
    for p, value in list(cand.fixed.items()):
        users = {s: (a.coeff, a.offset) for s, a in cand.par.symbols.items() if a.param == p}
        if not users or pinning_guard(problem, moved(example, users, value)) is not None:
            continue
        del cand.fixed[p]
        cand.boxes[p] = initial_boxes(problem, cand.par)[p]
        cand.undecided = True
        out.append(p)
    return out
