"""``nearest_admitted``: the sizes closest to the example that pass every guard (grown 0/1 examples)."""

from __future__ import annotations

import sympy

from dimsolve.dims.model import DimKind, DimSpec, Spec
from dimsolve.solver.nearest import nearest_admitted
from dimsolve.solver.problem import build_problem

from solver_oracle import entry, guardset, holds, sym

s0, s1, s2 = (sym(f"s{i}") for i in range(3))
AUTO = DimSpec(DimKind.AUTO)


def _auto_problem(examples, guards):
    gs = guardset(examples, guards)
    spec = Spec(tuple(entry(i, AUTO, e) for i, e in enumerate(examples)), {})
    return build_problem(gs, spec)


def _changed(point, examples):
    return sum(point[f"s{i}"] != e for i, e in enumerate(examples))


def _distance(point, examples):
    return sum(abs(point[f"s{i}"] - e) for i, e in enumerate(examples))


def test_a_size_one_dim_grows_with_the_product_it_feeds():
    # z = x*y with y = 1 at the example: y must reach 2, and z must follow; x stays
    guards = [sympy.Eq(s0 * s1, s2)]
    point = nearest_admitted(_auto_problem((4, 1, 4), guards))
    assert point is not None and all(holds(g, point) for g in guards) and point["s1"] >= 2
    # two sizes must change (y, and x or z); of those points the total change is smallest
    assert _changed(point, (4, 1, 4)) == 2 and _distance(point, (4, 1, 4)) == 3  # (2, 2, 4)


def test_fewest_sizes_change_before_the_smallest_total_change():
    # y = 1 must grow; x + y == z with x >= 5: z grows with it
    guards = [sympy.Eq(s0 + s1, s2), s0 >= 5]
    point = nearest_admitted(_auto_problem((5, 1, 6), guards))
    assert point == {"s0": 5, "s1": 2, "s2": 7}


def test_no_admitted_point_is_none():
    assert nearest_admitted(_auto_problem((1, 3, 3), [sympy.Eq(s0, 1)])) is None
