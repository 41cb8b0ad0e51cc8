"""Guards z3 cannot decide (nested floor/mod, floats, no translation) are decided by evaluating them at
every admitted size, with the blame and counterexamples z3's blame would give; fixes found the same
way are relations (``height = 16*_height``), not specialisations."""

from __future__ import annotations


import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dimsolve.solver.exhaustive as exhaustive
from dimsolve.diagnostics.model import NewRoot, Relate, Specialize
from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.solver.check import Status, check, is_hard
from dimsolve.solver.problem import build_problem
from dimsolve.solver.progressions import longest_run
from dimsolve.solver.pyeval import compiled as scalar
from dimsolve.solver.synthesis import synthesize
from dimsolve.solver.vectorised import Frame, checked

from solver_oracle import FloorDiv, PythonMod, blamed, entry, guardset, holds, solver_guards, sym

F = pytest.importorskip("torch.utils._sympy.functions")  # torch's sympy classes (no tracing)

s0, s1 = sym("s0"), sym("s1")
Mod = sympy.Function("Mod")


def named(name: str, lo: int, hi: int, coeff: int = 1) -> tuple[DimSpec, RootDim]:
    kind = DimKind.ROOT if coeff == 1 else DimKind.DERIVED
    return DimSpec(kind, root=name, coeff=coeff), RootDim(name, lo, hi)


def spec_of(dims_examples) -> Spec:
    entries = tuple(entry(i, d, e) for i, ((d, _), e) in enumerate(dims_examples))
    return Spec(entries, {r.name: r for (_, r), _ in dims_examples})


# --- a Swin-like window: pad the patch grid to a multiple of the window, view it back ---------------

GRID = FloorDiv(s0, 4)  # patch 4
PADDED = GRID + Mod(4 - Mod(GRID, 4), 4)  # window 4
SWIN = [
    sympy.Eq(Mod(s0, 4), 0),  # the patch padding branch the example took
    sympy.Ne(FloorDiv(PADDED, 4), PADDED),
    sympy.Eq(Mod(PADDED, FloorDiv(PADDED, 4)), 0),  # window reverse view
    sympy.Eq(FloorDiv(PADDED, FloorDiv(PADDED, 4)), 4),
    Mod(4 - Mod(GRID, 4), 4) <= 0,  # the window padding branch the example took
]


def test_swin_guards_are_hard_for_z3():
    assert [is_hard(g) for g in SWIN] == [False, True, True, True, True]


def test_swin_window_guards_are_decided_with_counterexamples():
    problem = build_problem(guardset((32,), SWIN), spec_of([(named("height", 32, 256), 32)]))
    verdict = check(problem)
    assert verdict.status is Status.VIOLATED and not verdict.undecided
    blamed_now = {str(v.guard.expr): v.counterexample["s0"] for v in verdict.violations}
    assert blamed_now == {str(SWIN[0]): 33, str(SWIN[4]): 36}  # the nearest failures to 32
    assert {i for i, g in enumerate(SWIN) if str(g) in blamed_now} == blamed(problem.spec, problem.guardset)


def test_swin_fix_is_a_relation_that_re_checks_valid():
    problem = build_problem(guardset((32,), SWIN), spec_of([(named("height", 32, 256), 32)]))
    plan = synthesize(problem, check(problem))
    assert plan is not None and plan.verified
    assert set(plan.changes) == {NewRoot("_height", 2, 16), Relate("height", "_height", 16, 0)}
    assert not any(isinstance(c, Specialize) for c in plan.changes)
    assert check(build_problem(problem.guardset, plan.fixed_spec)).status is Status.VALID


def test_a_root_no_guard_pins_stays_dynamic():
    # batch only appears in a view guard that holds for every batch: it keeps its range
    guards = SWIN + [sympy.Eq(Mod(s1 * PADDED * 16, 16), 0)]
    spec = spec_of([(named("height", 32, 256), 32), (named("batch", 2, 32), 2)])
    problem = build_problem(guardset((32, 2), guards), spec)
    plan = synthesize(problem, check(problem))
    assert plan is not None and plan.verified
    assert not [c for c in plan.changes if getattr(c, "target", None) == "batch"]


# --- the same decision as brute force ---------------------------------------------------------------


@st.composite
def nested_guards(draw):
    def term(depth):
        if depth == 0 or draw(st.integers(0, 2)) == 0:
            return draw(st.sampled_from([s0, s1, sympy.Integer(draw(st.integers(1, 5)))]))
        a, b = term(depth - 1), term(depth - 1)
        k = sympy.Integer(draw(st.integers(2, 5)))
        return draw(st.sampled_from([FloorDiv(a, k), Mod(a + k, k), PythonMod(a, k), a + b, a * k]))
    lhs = FloorDiv(term(2) + draw(st.integers(0, 3)), sympy.Integer(draw(st.integers(2, 4))))
    rel = draw(st.sampled_from([sympy.Eq, sympy.Ne, sympy.Le, sympy.Ge]))
    return rel(Mod(lhs, sympy.Integer(draw(st.integers(2, 4)))), draw(st.integers(0, 2)))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.lists(nested_guards(), min_size=1, max_size=4), st.integers(2, 12), st.integers(0, 20))
def test_blame_matches_brute_force(guards, lo, width):
    examples = (lo + width // 2, lo)
    guards = [g for g in guards if g not in (sympy.true, sympy.false) and holds(g, {"s0": examples[0], "s1": examples[1]})]
    if not guards:
        return
    spec = spec_of([(named("d0", lo, lo + width), examples[0]), (named("d1", lo, lo + 3), examples[1])])
    problem = build_problem(guardset(examples, guards), spec)
    verdict = check(problem)
    assert not verdict.undecided
    expected = blamed(spec, problem.guardset, cap=lo + width)
    kept = solver_guards(problem.guardset)
    assert {kept.index(v.guard.expr) for v in verdict.violations} == expected
    assert (verdict.status is Status.VALID) == (not expected)
    for v in verdict.violations:
        assert not holds(v.guard.expr, v.counterexample)


# --- guards without a z3 translation ----------------------------------------------------------------


def test_libm_guard_is_decided_by_evaluation():
    guard = sympy.Ne(F.TruncToInt(F.OpaqueUnaryFn_sqrt(F.ToFloat(s0))), 3)
    problem = build_problem(guardset((4,), [guard]), spec_of([(named("d", 2, 20), 4)]))
    assert problem.unsupported  # z3 has no sqrt
    verdict = check(problem)
    assert verdict.status is Status.VIOLATED and problem.unsupported[0][0] in verdict.enumerated
    assert [v.counterexample["s0"] for v in verdict.violations] == [9]  # isqrt(9) == 3, nearest to 4


def test_too_many_points_stay_undecided(monkeypatch):
    monkeypatch.setattr(exhaustive, "EVALUATION_BUDGET", 10)
    guard = sympy.Ne(F.TruncToInt(F.OpaqueUnaryFn_sqrt(F.ToFloat(s0))), 3)
    problem = build_problem(guardset((4,), [guard]), spec_of([(named("d", 2, 200), 4)]))
    verdict = check(problem)
    assert not verdict.enumerated and not verdict.violations  # left to DS902 (findings.solver_limit_diagnostics)


# --- numpy evaluation is Python's --------------------------------------------------------------------

FLOAT_EXPRS = [
    F.TruncToInt(sympy.Float(0.3) * F.ToFloat(s0)),
    F.RoundToInt(F.IntTrueDiv(s0, 6)),
    F.CeilToInt(F.FloatTrueDiv(F.ToFloat(s0), sympy.Float(0.7))),
    F.TruncToInt(F.OpaqueUnaryFn_log2(F.ToFloat(s0 + 1))),
    PythonMod(s0 - 17, -5) + FloorDiv(s0 * s0, 7),
    F.Max(F.ToFloat(s0) * sympy.Float(0.1), sympy.Float(2.5)) > 3,
]


@pytest.mark.parametrize("expr", FLOAT_EXPRS, ids=str)
def test_vectorised_matches_python(expr):
    values = np.arange(0, 400, dtype=np.int64)
    node = checked(expr, {"s0": (0.0, 399.0)})
    assert node is not None
    out = np.broadcast_to(node(Frame({"s0": values}, np.zeros(values.shape, dtype=bool))), values.shape)
    fn = scalar(expr)
    assert [fn({"s0": int(v)}) for v in values] == out.tolist()


def test_division_by_zero_is_undefined_not_false():
    node = checked(sympy.Eq(Mod(sym("s0"), FloorDiv(sym("s0"), 4)), 0), {"s0": (0.0, 9.0)})
    frame = Frame({"s0": np.arange(10, dtype=np.int64)}, np.zeros(10, dtype=bool))
    node(frame)
    assert frame.undefined.tolist() == [True] * 4 + [False] * 6


def test_int64_overflow_is_refused():
    assert checked(s0 * s0 * s0 * s0 > 1, {"s0": (0.0, 2.0**20)}) is None
    assert checked(s0 * s0 > 1, {"s0": (0.0, 2.0**20)}) is not None


# --- the longest progression through the example -----------------------------------------------------


@pytest.mark.parametrize(("passing", "at", "expected"), [
    pytest.param([v % 16 == 0 for v in range(32, 257)], 0, (16, 0, 14), id="multiples-of-16"),
    pytest.param([True] * 10, 3, (1, -3, 6), id="all-pass"),
    pytest.param([v in (4, 5, 6, 8, 10, 12, 14) for v in range(16)], 6, (2, -1, 4), id="step-beats-range"),
    pytest.param([v == 5 for v in range(9)], 5, (1, 0, 0), id="pinned"),
])
def test_longest_run(passing, at, expected):
    assert longest_run(np.array(passing), at) == expected
