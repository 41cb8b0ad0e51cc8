"""Counterexamples without z3: sizes next to the example, checked in Python.

The blame (``check._Blame``) asks z3, range by range, for admitted sizes that satisfy the guards
before a range and fail one inside it. Such sizes are often one step from the example (``dy =
dx + 1`` fails ``Eq(dy, dx)``): this module tries a few points (one root moved from its
example value to one more, one less, its min or its max), keeps those the spec admits (the same
constraints as ``Problem.domain``) and evaluates the guards on them. A point that fails guard
``j`` and satisfies every guard before it answers every query whose range holds ``j``. z3 is
still asked whenever no point answers (in particular to prove a range has no blamed guard), so
the blamed guards are the same; only where a point answers is the counterexample the point.
Guards are evaluated by ``pyeval`` (sympy where it cannot), within a fixed budget of evaluations,
so a large GuardSet costs at most that.
"""

from __future__ import annotations

from collections.abc import Iterator

import sympy

from dimsolve.dims.model import DimKind
from dimsolve.guards.model import GuardRecord
from dimsolve.solver.linear import INF, Interval
from dimsolve.solver.problem import Form, Problem, lowest_size, size_forms
from dimsolve.solver.pyeval import compiled

EVALUATION_BUDGET = 400  # guard evaluations per check (microseconds each; sympy's fallback 10 to 250 us)
# before the validity query: a valid spec pays this much at most for looking (its points all pass)
VALIDITY_PROBE_BUDGET = 32

UNUSABLE = -1  # a point on which some guard does not evaluate to true or false


def evaluate(expr: sympy.Basic, sizes: dict[str, int]) -> bool | None:
    """The guard at these sizes (True/False), or None when it does not evaluate to a truth value
    (a division by zero, a node neither ``pyeval`` nor sympy reduces)."""
    fn = compiled(expr)
    try:
        if fn is not None:
            value = fn(sizes)
            return value if isinstance(value, bool) else None
        reduced = expr.xreplace({s: sympy.Integer(sizes[s.name]) for s in expr.free_symbols})  # type: ignore[attr-defined]
    except (ArithmeticError, KeyError, TypeError, ValueError):
        return None
    if reduced is sympy.true:
        return True
    return False if reduced is sympy.false else None


def _atom_values(atoms: dict[str, Interval], forms: dict[str, Form], example: dict[str, int]) -> Iterator[dict[str, int]]:
    """Atom assignments next to the example's: each atom moved alone (+1, -1, its min, its max).
    (The example itself satisfies every guard: torch recorded them on it.)"""
    base: dict[str, int] = {}
    for name, (atom, coeff, offset) in forms.items():
        if atom is not None and coeff and atom not in base and name in example:
            base[atom] = (example[name] - offset) // coeff
    if set(base) != set(atoms):
        return
    for atom, (lo, hi) in atoms.items():
        for value in (base[atom] + 1, base[atom] - 1, lo, hi):
            if value != base[atom] and lo <= value <= hi and value not in (INF, -INF):
                yield {**base, atom: int(value)}


def admits(problem: Problem, sizes: dict[str, int]) -> bool:
    """The spec admits these sizes: every constraint of ``Problem.domain``, checked in Python."""
    example = problem.example()
    roots: dict[str, int] = {}
    for name in problem.vars:
        size = sizes.get(name)
        if size is None or (name not in problem.entries_of and size != example.get(name)):
            return False
        for e in problem.entries_of.get(name, []):
            d = e.dim
            if d.kind in (DimKind.AUTO, DimKind.DYNAMIC):
                continue  # constraints of the existential sizes, not of the domain
            if d.kind is DimKind.STATIC:
                ok = size == (d.value if d.value is not None else e.example)
            elif d.root is not None:
                root = roots.setdefault(d.root, (size - d.offset) // d.coeff)
                ok = size == d.coeff * root + d.offset and size >= lowest_size(e)
            else:
                ok = size >= max(d.min or 0, lowest_size(e)) and (d.max is None or size <= d.max)
            if not ok:
                return False
    return all(problem.spec.roots[r].admits(v) for r, v in roots.items() if r in problem.spec.roots)


class Points:
    """Admitted points near the example and, for each, the first of ``guards`` it fails."""

    def __init__(self, problem: Problem, guards: list[GuardRecord]) -> None:
        self.problem = problem
        self.guards = guards
        self.budget = EVALUATION_BUDGET if not problem.auto and guards else 0  # AUTO sizes: no plain point
        self.forms: dict[str, Form] = {}
        self.pending: Iterator[dict[str, int]] | None = None  # made on the first witness asked for
        self.seen: list[tuple[int | None, dict[str, int]]] = []  # (first failing guard or None, sizes)

    def witness(self, lo: int, hi: int, spend: int | None = None) -> tuple[int, dict[str, int]] | None:
        """A point that satisfies the guards before ``lo`` and fails one in ``[lo, hi)``: (that guard,
        sizes). ``spend``: at most that many guard evaluations in this call."""
        for first, sizes in self.seen:
            if first is not None and lo <= first < hi:
                return first, sizes
        floor = max(self.budget - spend, 0) if spend is not None else 0
        if self.pending is None and self.budget > floor:
            atoms, self.forms = size_forms(self.problem)
            self.pending = _atom_values(atoms, self.forms, self.problem.example())
        while self.budget > floor and self.pending is not None:
            values = next(self.pending, None)
            if values is None:
                return None
            sizes = {name: coeff * values[atom] + offset if atom is not None else offset
                     for name, (atom, coeff, offset) in self.forms.items()}
            if not admits(self.problem, sizes):
                continue
            first = self._first_failing(sizes, floor)
            if first == UNUSABLE:
                continue
            self.seen.append((first, sizes))
            if first is not None and lo <= first < hi:
                return first, sizes
        return None

    def _first_failing(self, sizes: dict[str, int], floor: int) -> int | None:
        for i, record in enumerate(self.guards):
            if self.budget <= floor:
                return UNUSABLE
            self.budget -= 1
            holds = evaluate(record.expr, sizes)
            if holds is None:
                return UNUSABLE
            if not holds:
                return i
        return None
