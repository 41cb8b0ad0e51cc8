"""One-symbol bound guards merged per size (``solver.bounds``): the same answers at linear cost."""

from __future__ import annotations

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from solver_oracle import entry, guardset, sym, violating_point

from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.guards.model import GuardKind, GuardRecord
from dimsolve.solver.bounds import Bound, bound_of, merge_bounds
from dimsolve.solver.check import Status, check
from dimsolve.solver.probe import evaluate
from dimsolve.solver.problem import build_problem

s0, s1 = sym("s0"), sym("s1")


@pytest.mark.parametrize("expr, bound", [
    pytest.param(s0 < 10, Bound("s0", None, 9), id="lt"),
    pytest.param(s0 <= 10, Bound("s0", None, 10), id="le"),
    pytest.param(s0 > 10, Bound("s0", 11, None), id="gt"),
    pytest.param(s0 >= 10, Bound("s0", 10, None), id="ge"),
    pytest.param(sympy.Eq(s0, 4), Bound("s0", 4, 4), id="eq"),
    pytest.param(sympy.Gt(10, s0, evaluate=False), Bound("s0", None, 9), id="constant-on-the-left"),
    pytest.param(2 * s0 + 1 >= 8, Bound("s0", 4, None), id="affine-rounds-up"),
    pytest.param(2 * s0 < 9, Bound("s0", None, 4), id="affine-strict-rounds-down"),
    pytest.param(-3 * s0 > -10, Bound("s0", None, 3), id="negative-coefficient-turns-around"),
    pytest.param(sympy.Eq(2 * s0, 5, evaluate=False), Bound("s0", 1, 0), id="no-integer-solution"),
    pytest.param(s0 * s1 <= 64, None, id="product"),
    pytest.param(s0 + s1 <= 64, None, id="two-symbols"),
    pytest.param(sympy.Ne(s0, 4), None, id="ne"),
    pytest.param(s0 <= sympy.Rational(9, 2), None, id="rational"),
    pytest.param(sympy.Or(s0 < 3, s0 > 9), None, id="or"),
])
def test_bound_of(expr, bound):
    assert bound_of(expr) == bound


def _texts(records):
    return [str(r.expr) for r in records]


def test_only_the_tightest_ends_per_size_and_kind_are_kept():
    guards = [GuardRecord(s0 < 12), GuardRecord(s0 >= 3), GuardRecord(s0 < 10), GuardRecord(s0 >= 3),
              GuardRecord(s0 <= 9), GuardRecord(s0 * s1 <= 64), GuardRecord(s1 > 2),
              GuardRecord(s0 <= 20, GuardKind.RUNTIME_ASSERT)]
    merged = merge_bounds(guards)
    # s0 < 10 and s0 <= 9 are equally tight: the first in trace order is kept
    assert _texts(merged.kept) == ["s0 >= 3", "s0 < 10", "s0*s1 <= 64", "s1 > 2", "s0 <= 20"]
    assert _texts(merged.covered) == ["s0 < 12", "s0 >= 3", "s0 <= 9"]
    assert merged.contradictions == ()


def test_index_bound_guards_are_never_merged():
    guards = [GuardRecord(s0 < 12, GuardKind.INDEX_BOUND), GuardRecord(s0 < 10, GuardKind.INDEX_BOUND),
              GuardRecord(s0 < 10, GuardKind.INDEX_BOUND)]
    assert merge_bounds(guards).kept == tuple(guards)


@pytest.mark.parametrize("exprs, pairs", [
    pytest.param([s0 >= 8, s0 <= 4], [("s0 >= 8", "s0 <= 4")], id="crossing-ends"),
    pytest.param([sympy.Eq(s0, 4), sympy.Eq(s0, 5)], [("Eq(s0, 5)", "Eq(s0, 4)")], id="two-equalities"),
    pytest.param([sympy.Eq(2 * s0, 5, evaluate=False)], [("Eq(2*s0, 5)", "Eq(2*s0, 5)")], id="no-integer-solves-one"),
    pytest.param([s0 >= 4, s0 <= 4], [], id="touching-ends"),
])
def test_contradictions(exprs, pairs):
    merged = merge_bounds([GuardRecord(e) for e in exprs])
    assert [(str(a.expr), str(b.expr)) for a, b in merged.contradictions] == pairs


# --- properties: merging never changes which sizes pass ----------------------------------------

coefficient = st.sampled_from([1, 1, 1, 2, 3, -1, -2])
bound_guard = st.builds(
    lambda op, a, b, c: op(a * s0 + b, c),
    st.sampled_from([sympy.Lt, sympy.Le, sympy.Gt, sympy.Ge, sympy.Eq]), coefficient,
    st.integers(-5, 5), st.integers(-30, 30),
)
other_guard = st.sampled_from([s0 * s1 <= 40, sympy.Eq(sympy.Mod(s0, 2), 0), s1 >= 3])
guard_lists = st.lists(st.one_of(bound_guard, bound_guard, other_guard), min_size=1, max_size=12).filter(
    lambda gs: all(g not in (sympy.true, sympy.false) for g in gs))


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(guard_lists)
def test_kept_guards_pass_exactly_the_sizes_all_guards_pass(exprs):
    merged = merge_bounds([GuardRecord(e) for e in exprs])
    kept = [r.expr for r in merged.kept]
    crossing = False
    for a in range(-40, 41):  # every bound's end is within [-35, 35]
        for b in (2, 5):
            point = {"s0": a, "s1": b}
            everything = all(evaluate(e, point) for e in exprs)
            assert everything == all(evaluate(e, point) for e in kept), (exprs, point)
            crossing = crossing or everything
    # a contradiction is reported only where no size passes the bounds on s0
    if merged.contradictions:
        assert not crossing


def _spec(top: int | None) -> Spec:
    return Spec((entry(0, DimSpec(DimKind.ROOT, root="d"), 6), entry(1, DimSpec(DimKind.STATIC, value=4), 4)),
                {"d": RootDim("d", 2, top)})


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(bounds=st.lists(st.integers(3, 40), min_size=1, max_size=30), top=st.sampled_from([8, 20, 64]))
def test_verdict_on_many_bounds_matches_enumeration_and_blames_the_tightest(bounds, top):
    exprs = [s0 < b + 4 for b in bounds]  # every bound admits the example (6)
    gs = guardset((6, 4), exprs)
    spec = _spec(top)
    verdict = check(build_problem(gs, spec))
    assert (verdict.status is Status.VALID) == (violating_point(spec, gs, cap=100) is None)
    if verdict.status is Status.VIOLATED:
        assert [str(v.guard.expr) for v in verdict.violations] == [f"s0 < {min(bounds) + 4}"]
        assert verdict.violations[0].counterexample["s0"] >= min(bounds) + 4
