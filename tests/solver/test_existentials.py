"""``exists`` substitutes away the sizes an equality defines and is equivalent to ``z3.Exists``."""

from __future__ import annotations

import pytest
import z3

from dimsolve.solver.existentials import exists

x, y, z, w = z3.Ints("x y z w")

CASES = [
    pytest.param([x], [x + y == (z + 1) / 2, x >= 2], True, id="cat-against-strided"),
    pytest.param([x, y], [x + y == (z + 1) / 2, x >= 2, y >= 2], None, id="one-defined-one-left"),
    pytest.param([x], [-x + 3 * y == z, x <= 10], True, id="negative-unit-coefficient"),
    pytest.param([x], [2 * x == z, x >= 1], False, id="coefficient-2-stays-quantified"),
    pytest.param([x], [x + x / 2 == z, x >= 0], False, id="also-inside-a-division"),
    pytest.param([x], [x * y == z], False, id="non-linear"),
    pytest.param([x], [z3.And(x - y == 1, x + w >= 3)], True, id="nested-and"),
]


@pytest.mark.parametrize("free, constraints, eliminated", CASES)
def test_exists_is_equivalent_to_the_quantified_formula(free, constraints, eliminated):
    got = exists(free, constraints)
    want = z3.Exists(free, z3.And(*constraints))
    solver = z3.Solver()
    solver.add(z3.Not(got == want))
    assert solver.check() == z3.unsat
    left = got.num_vars() if z3.is_quantifier(got) else 0
    if eliminated is True:
        assert left == 0, got
    elif eliminated is False:
        assert left == len(free), got
    else:
        assert left == 1, got
