"""One-symbol bound guards merged per symbol into one interval before z3 sees them.

A model can emit hundreds of guards ``s0 < 10``, ``s0 < 11``, ``s0 <= 512`` on one size. Each is an
interval of that size; together they are one interval, and only the guards that set its two ends
matter: every other one is implied by them over the integers. So for each (symbol, guard kind)
only the tightest lower and the tightest upper bound go on to the solver (the earliest in trace
order among equally tight ones); the rest are ``covered``. A spec is valid against the kept guards
exactly when it is valid against all of them, and a fix that satisfies the kept guards satisfies
the covered ones, so the answer is the same at a cost linear in the number of guards. What changes
is the blame: a covered guard is not reported on its own, its tighter neighbour is.

Exact duplicates (same expression, same kind) are covered the same way: the first one is kept.
Only torch's own guards are merged (``GUARD``, ``RUNTIME_ASSERT``): each ``INDEX_BOUND`` guard is a
finding about its own table. When the two ends cross (``s0 >= 10`` and ``s0 <= 4``) no size
satisfies both: both are kept, and the pair is reported as ``contradictions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy

from dimsolve.guards.model import GuardKind, GuardRecord

Affine = tuple[str | None, int, int]  # coeff*symbol + const as (symbol, coeff, const); symbol None: const


@dataclass(frozen=True, slots=True)
class Bound:
    """``lo <= symbol <= hi`` over the integers (None: unbounded on that side)."""

    symbol: str
    lo: int | None
    hi: int | None


@dataclass(frozen=True)
class Merged:
    kept: tuple[GuardRecord, ...]  # in trace order
    covered: tuple[GuardRecord, ...]  # implied by the kept guards
    contradictions: tuple[tuple[GuardRecord, GuardRecord], ...]  # (lower end, upper end) that cross


def affine(expr: sympy.Basic) -> Affine | None:
    """``expr`` as ``coeff*symbol + const`` with integer coefficients, read off the tree (no sympy
    arithmetic: this runs on every guard)."""
    if isinstance(expr, sympy.Integer):
        return None, 0, int(expr)
    if isinstance(expr, sympy.Symbol):
        return expr.name, 1, 0
    if isinstance(expr, sympy.Mul) and len(expr.args) == 2:
        coeff, sym = expr.args
        if isinstance(coeff, sympy.Integer) and isinstance(sym, sympy.Symbol):
            return sym.name, int(coeff), 0
        return None
    if isinstance(expr, sympy.Add):
        name, coeff, const = None, 0, 0
        for term in expr.args:
            part = affine(term)
            if part is None or (part[0] is not None and name is not None and part[0] != name):
                return None
            name = part[0] or name
            coeff, const = coeff + part[1], const + part[2]
        return name, coeff, const
    return None


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


_MERGED = (GuardKind.GUARD, GuardKind.RUNTIME_ASSERT)
_KINDS = (sympy.StrictLessThan, sympy.LessThan, sympy.StrictGreaterThan, sympy.GreaterThan, sympy.Equality)


def bound_of(expr: sympy.Basic) -> Bound | None:
    """The interval a one-symbol linear guard allows, or None for any other guard.

    >>> s0 = sympy.Symbol("s0", integer=True)
    >>> bound_of(s0 < 10), bound_of(2 * s0 + 1 >= 8), bound_of(sympy.Eq(s0, 4))
    (Bound(symbol='s0', lo=None, hi=9), Bound(symbol='s0', lo=4, hi=None), Bound(symbol='s0', lo=4, hi=4))
    """
    if not isinstance(expr, _KINDS):
        return None
    left, right = affine(expr.args[0]), affine(expr.args[1])
    if left is None or right is None or (left[0] and right[0] and left[0] != right[0]):
        return None
    name = left[0] or right[0]
    a, c = left[1] - right[1], right[2] - left[2]  # a*s <op> c
    if name is None or a == 0:
        return None
    if isinstance(expr, sympy.Equality):
        return Bound(name, c // a, c // a) if c % a == 0 else Bound(name, 1, 0)  # no integer solves it
    if a < 0:  # divide by a negative number: the relation turns around
        a, c = -a, -c
        op = {sympy.StrictLessThan: ">", sympy.LessThan: ">=", sympy.StrictGreaterThan: "<",
              sympy.GreaterThan: "<="}[type(expr)]
    else:
        op = {sympy.StrictLessThan: "<", sympy.LessThan: "<=", sympy.StrictGreaterThan: ">",
              sympy.GreaterThan: ">="}[type(expr)]
    if op == "<":
        return Bound(name, None, _ceil_div(c, a) - 1)
    if op == "<=":
        return Bound(name, None, c // a)
    if op == ">":
        return Bound(name, c // a + 1, None)
    return Bound(name, _ceil_div(c, a), None)


def merge_bounds(guards: Sequence[GuardRecord]) -> Merged:
    """Keep, per (symbol, kind), the tightest lower and upper bound guards; cover the rest.

    >>> s0 = sympy.Symbol("s0", integer=True)
    >>> merged = merge_bounds([GuardRecord(s0 < 12), GuardRecord(s0 < 10), GuardRecord(s0 >= 3)])
    >>> [str(g.expr) for g in merged.kept], [str(g.expr) for g in merged.covered]
    (['s0 < 10', 's0 >= 3'], ['s0 < 12'])
    """
    seen: set[tuple[sympy.Basic, GuardKind]] = set()
    lower: dict[tuple[str, GuardKind], tuple[int, GuardRecord]] = {}
    upper: dict[tuple[str, GuardKind], tuple[int, GuardRecord]] = {}
    covered: set[int] = set()
    bounds: dict[int, Bound] = {}
    for i, g in enumerate(guards):
        if g.kind not in _MERGED:
            continue
        if (g.expr, g.kind) in seen:
            covered.add(i)
            continue
        seen.add((g.expr, g.kind))
        b = bound_of(g.expr)
        if b is None:
            continue
        bounds[i] = b
        key = (b.symbol, g.kind)
        if b.lo is not None and (key not in lower or b.lo > bounds[lower[key][0]].lo):  # type: ignore[operator]
            lower[key] = (i, g)
        if b.hi is not None and (key not in upper or b.hi < bounds[upper[key][0]].hi):  # type: ignore[operator]
            upper[key] = (i, g)
    ends = {i for i, _ in lower.values()} | {i for i, _ in upper.values()}
    covered |= set(bounds) - ends
    contradictions = tuple(
        (g_lo, upper[key][1]) for key, (i_lo, g_lo) in lower.items()
        if key in upper and bounds[i_lo].lo > bounds[upper[key][0]].hi  # type: ignore[operator]
    )
    for i, b in bounds.items():  # one guard alone no integer satisfies (``Eq(2*s0, 5)``)
        if b.lo is not None and b.hi is not None and b.lo > b.hi and (guards[i], guards[i]) not in contradictions:
            contradictions += ((guards[i], guards[i]),)
    return Merged(tuple(g for i, g in enumerate(guards) if i not in covered),
                  tuple(g for i, g in enumerate(guards) if i in covered), contradictions)
