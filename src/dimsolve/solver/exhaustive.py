"""Decide guards z3 leaves open by evaluating them at every size the spec admits, when those are few.

Window and patch models (Swin's padding to a multiple of the window, then ``view`` back) emit
guards of nested ``//`` and ``%`` on which z3 answers "unknown"; float guards with long mantissas
(``0.3*ToFloat(s)``) are slow for it too. When the admitted sizes are finite and few (``H, W in
[32, 256]``), evaluating every guard at every admitted size decides them exactly: numpy
evaluations with Python's semantics (``vectorised``), budgeted by count (points times guards
actually evaluated), never by time.

Guards are split into components that share no atom (a root, or a size with a range): a guard on
``H`` alone is evaluated on the values of ``H``, not on every ``(batch, H, W)``. Within a component
the guards are evaluated in trace order on the points where every earlier guard holds, so a guard
is blamed exactly where z3's blame (``check._Blame``) would blame it: at admitted sizes that
satisfy the guards before it and fail it. The counterexample is the failing point nearest the
example. A guard that raises in Python somewhere it matters (a division by zero) is ``undefined``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy

from dimsolve.dims.model import DimKind
from dimsolve.solver.linear import INF, Interval
from dimsolve.solver.problem import Form, Problem, lowest_size, size_forms
from dimsolve.solver.vectorised import Array, Frame, checked

EVALUATION_BUDGET = 20_000_000  # guard evaluations (points times guards) per decision
CHUNK = 1 << 17  # points per numpy batch
_ATOM = "@"  # prefix of an atom's array in a frame (never a symbol name)

Admits = Callable[[Mapping[str, Array]], Array]


@dataclass(frozen=True)
class Region:
    """The sizes to enumerate: atoms with intervals, each size an affine form of one atom."""

    atoms: Mapping[str, Interval]
    forms: Mapping[str, Form]
    example: Mapping[str, int]  # atom -> its value at the example
    admits: Admits | None = None  # further constraints of the domain, on the sizes of one component


@dataclass
class Decided:
    """What evaluation decided, by position in the guards given."""

    holds: set[int] = field(default_factory=set)
    fails: dict[int, dict[str, int]] = field(default_factory=dict)  # position -> counterexample sizes
    undefined: set[int] = field(default_factory=set)
    open: set[int] = field(default_factory=set)  # too many points, or not evaluable
    evaluations: int = 0

    @property
    def decided(self) -> set[int]:
        return self.holds | set(self.fails)


@functools.lru_cache(maxsize=8192)
def symbol_names(expr: sympy.Basic) -> frozenset[str]:
    """The names of ``expr``'s symbols (sympy walks the whole tree for ``free_symbols`` each time)."""
    return frozenset(s.name for s in expr.free_symbols)  # type: ignore[attr-defined]


def components(guards: Sequence[sympy.Basic], forms: Mapping[str, Form]) -> list[tuple[list[str], list[int]]]:
    """Groups of guard positions that share atoms, with their atoms; a guard on a symbol without a
    form is in no group. Guards on constants only form a group with no atom."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    atoms_of: dict[int, list[str]] = {}
    for i, g in enumerate(guards):
        names = symbol_names(g)
        if any(n not in forms for n in names):
            continue
        atoms = sorted({a for n in names if (a := forms[n][0]) is not None and forms[n][1]})
        atoms_of[i] = atoms
        for a in atoms[1:]:
            parent[find(a)] = find(atoms[0])
    groups: dict[str, tuple[list[str], list[int]]] = {}
    for i, atoms in atoms_of.items():
        key = find(atoms[0]) if atoms else ""
        group = groups.setdefault(key, ([], []))
        group[0].extend(a for a in atoms if a not in group[0])
        group[1].append(i)
    return list(groups.values())


def first_failures(guards: Sequence[sympy.Basic], region: Region, budget: int | None = None,
                   only: set[int] | None = None) -> Decided:
    """Evaluate ``guards`` (in trace order) at every point of ``region``; ``only``: decide just the
    components holding one of these positions (the others are ``open``). ``budget``: guard
    evaluations (default ``EVALUATION_BUDGET``)."""
    budget = EVALUATION_BUDGET if budget is None else budget
    out = Decided()
    left = budget
    for atoms, positions in components(guards, region.forms):
        if only is not None and not set(positions) & only:
            out.open.update(positions)
            continue
        spent = _component(guards, region, atoms, positions, left, out)
        if spent is None:
            out.open.update(positions)
        else:
            left -= spent
    covered = {i for _, ps in components(guards, region.forms) for i in ps}
    out.open.update(i for i in range(len(guards)) if i not in covered)
    out.evaluations = budget - left
    return out


def _count(region: Region, atoms: list[str]) -> int | None:
    total = 1
    for a in atoms:
        lo, hi = region.atoms.get(a, (-INF, INF))
        if math.isinf(lo) or math.isinf(hi):
            return None
        total *= max(int(hi) - int(lo) + 1, 0)
    return total


def _component(guards: Sequence[sympy.Basic], region: Region, atoms: list[str], positions: list[int],
               budget: int, out: Decided) -> int | None:
    """Decide one component into ``out``; the evaluations spent, or None when it is not decided."""
    count = _count(region, atoms)
    if count is None or count > budget:
        return None
    symbols = sorted({n for i in positions for n in symbol_names(guards[i])})
    bounds = _symbol_bounds(region, symbols)
    nodes = {i: checked(guards[i], bounds) for i in positions}
    runnable = [i for i in positions if nodes[i] is not None]
    best: dict[int, tuple[int, dict[str, int]]] = {}
    undefined: set[int] = set()
    spent = 0
    for start in range(0, max(count, 1), CHUNK):
        frame = _frame(region, atoms, symbols, start, min(start + CHUNK, count))
        for i in runnable:
            n = _points(frame)
            if n == 0:
                break
            spent += n
            if spent > budget:
                return None
            frame = _evaluate(i, nodes[i], frame, region, atoms, best, undefined)  # type: ignore[arg-type]
    out.undefined |= undefined
    out.fails.update({i: sizes for i, (_, sizes) in best.items()})
    out.holds.update(i for i in runnable if i not in best and i not in undefined)
    out.open.update(i for i in positions if nodes[i] is None)
    return spent


def _symbol_bounds(region: Region, symbols: list[str]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for s in symbols:
        atom, coeff, offset = region.forms[s]
        if atom is None or not coeff:
            out[s] = (offset, offset)
            continue
        lo, hi = region.atoms[atom]
        ends = (coeff * lo + offset, coeff * hi + offset)
        out[s] = (min(ends), max(ends))
    return out


def _frame(region: Region, atoms: list[str], symbols: list[str], start: int, stop: int) -> Frame:
    """The admitted points with flat indices in ``[start, stop)``, atoms and sizes."""
    flat = np.arange(start, stop, dtype=np.int64)
    values: dict[str, Array] = {}
    for a in reversed(atoms):
        lo, hi = (int(v) for v in region.atoms[a])
        width = hi - lo + 1
        values[_ATOM + a] = flat % width + lo
        flat = flat // width
    n = stop - start
    sizes: dict[str, Array] = dict(values)
    for s in symbols:
        atom, coeff, offset = region.forms[s]
        sizes[s] = (coeff * values[_ATOM + atom] + offset) if atom is not None and coeff else np.full(n, offset, dtype=np.int64)
    frame = Frame(sizes, np.zeros(n, dtype=bool))
    if region.admits is not None:
        keep = np.asarray(region.admits(sizes), dtype=bool)
        if not keep.all():
            frame = frame.subset(np.broadcast_to(keep, (n,)))
    return frame


def _points(frame: Frame) -> int:
    return int(frame.undefined.shape[0])


def _evaluate(i: int, node: Callable[[Frame], Array], frame: Frame, region: Region, atoms: list[str],
              best: dict[int, tuple[int, dict[str, int]]], undefined: set[int]) -> Frame:
    """Evaluate guard ``i`` on ``frame``; record its failures; the frame of the points where it holds."""
    n = _points(frame)
    holds = np.broadcast_to(np.asarray(node(frame), dtype=bool), (n,))
    bad = frame.undefined
    if bad.any():
        undefined.add(i)
    fails = ~holds & ~bad
    if fails.any():
        distance = sum(np.abs(frame.sizes[_ATOM + a] - region.example.get(a, int(region.atoms[a][0]))) for a in atoms)
        where = np.flatnonzero(fails)
        k = int(where[np.argmin(np.asarray(distance)[where])]) if atoms else int(where[0])
        d = int(np.asarray(distance)[k]) if atoms else 0
        if i not in best or d < best[i][0]:
            best[i] = (d, _sizes_at(region, {a: int(frame.sizes[_ATOM + a][k]) for a in atoms}))
    keep = holds & ~bad
    if keep.all():
        return frame
    subset = frame.subset(keep)
    subset.undefined = np.zeros(int(keep.sum()), dtype=bool)
    return subset


def _sizes_at(region: Region, point: Mapping[str, int]) -> dict[str, int]:
    """Every size at ``point`` (atoms not in it at their example value)."""
    values = {**region.example, **point}
    out = {}
    for s, (atom, coeff, offset) in region.forms.items():
        if atom is None or not coeff:
            out[s] = offset
        elif atom in values:
            out[s] = coeff * values[atom] + offset
    return out


# --- the region a spec admits ---------------------------------------------------------------------


def problem_region(problem: Problem) -> Region:
    """The sizes ``problem``'s spec admits, as a ``Region`` (AUTO sizes excluded: they are
    existential, not enumerated)."""
    atoms, forms = size_forms(problem)
    forms = {s: f for s, f in forms.items() if s not in problem.auto}
    example = problem.example()
    at: dict[str, int] = {}
    for s, (atom, coeff, offset) in forms.items():
        if atom is not None and coeff and atom not in at and s in example:
            at[atom] = (example[s] - offset) // coeff
    return Region(atoms, forms, at, lambda sizes: admitted(problem, sizes))


def admitted(problem: Problem, sizes: Mapping[str, Array]) -> Array:
    """``probe.admits`` on arrays: every domain constraint on the sizes given (others are not checked)."""
    ok: Array = np.bool_(True)
    roots: dict[str, Array] = {}
    for name, size in sizes.items():
        for e in problem.entries_of.get(name, []) if not name.startswith(_ATOM) else []:
            d = e.dim
            if d.kind in (DimKind.AUTO, DimKind.DYNAMIC):
                continue
            if d.kind is DimKind.STATIC:
                ok = ok & (size == (d.value if d.value is not None else e.example))
            elif d.root is not None:
                root = (size - d.offset) // d.coeff
                if d.root in roots:
                    ok = ok & (roots[d.root] == root)
                roots.setdefault(d.root, root)
                ok = ok & (size == d.coeff * root + d.offset) & (size >= lowest_size(e))
            else:
                ok = ok & (size >= max(d.min or 0, lowest_size(e)))
                if d.max is not None:
                    ok = ok & (size <= d.max)
    for r, value in roots.items():
        spec_root = problem.spec.roots.get(r)
        if spec_root is not None:
            ok = ok & (value >= spec_root.min)
            if spec_root.max is not None:
                ok = ok & (value <= spec_root.max)
    return ok
