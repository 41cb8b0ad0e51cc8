"""Size 1 and data-dependent values: the program checks the range torch derived for a value, and a
range read from the model's own checks with sizes >= 2 can reject a value they accept at size 1.
Solver only: GuardSets built by hand, no torch."""

from __future__ import annotations

import pytest
import sympy

from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.guards.model import GuardKind, GuardRecord, GuardSet, SymbolInfo
from dimsolve.solver.problem import build_problem
from dimsolve.solver.size_one import size_one_violations

from solver_oracle import entry, path_of, sym

s0, u0 = sym("s0"), sym("u0")
ASSERT = GuardKind.RUNTIME_ASSERT


def problem_of(asserts, lower, upper, dim_min):
    symbols = (SymbolInfo("s0", (path_of(0),), 5, True), SymbolInfo("u0", (), 3, False, "p", None, lower, upper))
    gs = GuardSet(symbols, tuple(GuardRecord(a, ASSERT) for a in asserts))
    spec = Spec((entry(0, DimSpec(DimKind.ROOT, root="d"), 5),), {"d": RootDim("d", dim_min, 16)})
    return build_problem(gs, spec)


@pytest.mark.parametrize("asserts, lower, upper, dim_min, found", [
    # torch._check(p + seqlen <= 16): traced with seqlen >= 2, torch keeps p <= 14; seqlen = 1, p = 15 fails it
    pytest.param([u0 + s0 <= 16, u0 >= 0], 0, 14, 0, "u0 <= 14", id="sum-bounded"),
    pytest.param([u0 + s0 <= 16, u0 >= 0], 0, 14, 2, None, id="sum-bounded-min-2"),
    # torch._check(p == seqlen): p >= 2 from the traced range; seqlen = 1, p = 1 fails it
    pytest.param([sympy.Eq(u0, s0)], 2, None, 1, "u0 >= 2", id="equal-to-size"),
    # a bound the checks do not imply is torch's own knowledge (a nonzero count <= a static numel)
    pytest.param([u0 >= 0], 0, 6, 0, None, id="bound-not-from-checks"),
    pytest.param([u0 <= s0, u0 >= 1], 1, 16, 1, None, id="bound-holds-at-1"),
])
def test_unbacked_range_at_size_one(asserts, lower, upper, dim_min, found):
    got = size_one_violations(problem_of(asserts, lower, upper, dim_min), 2000)
    assert [str(v.guard.expr) for v in got] == ([found] if found else [])
    for v in got:
        point = v.counterexample
        assert point["s0"] == 1
        assert all(bool(a.subs({s0: point["s0"], u0: point["u0"]})) for a in asserts)
        assert not bool(v.guard.expr.subs({u0: point["u0"]}))
