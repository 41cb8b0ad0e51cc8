"""Hand-written solver cases: verdict, the structured fix, and the fix checked by enumeration.

Symbol ``s<i>`` is ``<input>.shape[0]`` of input ``x``, ``y``, ``z``, ``w`` in turn (see ``solver_oracle``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sympy

from dimsolve.diagnostics.model import MakeAuto, NewRoot, Relate, SetRange, Specialize
from dimsolve.dims.apply import apply_changes
from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.solver.check import Status, check
from dimsolve.solver.problem import build_problem
from dimsolve.solver.synthesis import synthesize

from solver_oracle import FloorDiv, admits_point, entry, guardset, holds, point_text, sym, violating_point

s0, s1, s2, s3 = (sym(f"s{i}") for i in range(4))
VALID, VIOLATED, UNKNOWN = Status.VALID, Status.VIOLATED, Status.UNKNOWN


def root(name: str) -> DimSpec:
    return DimSpec(DimKind.ROOT, root=name)


def derived(name: str, coeff: int, offset: int) -> DimSpec:
    return DimSpec(DimKind.DERIVED, root=name, coeff=coeff, offset=offset)


def static(value: int) -> DimSpec:
    return DimSpec(DimKind.STATIC, value=value)


@dataclass(frozen=True)
class Case:
    examples: tuple[int, ...]
    dims: tuple[DimSpec, ...]
    roots: tuple[RootDim, ...]
    guards: tuple[sympy.Basic, ...]

    def build(self):
        gs = guardset(self.examples, self.guards)
        spec = Spec(tuple(entry(i, d, e) for i, (d, e) in enumerate(zip(self.dims, self.examples))),
                    {r.name: r for r in self.roots})
        return gs, spec

    def example(self) -> dict[str, int]:
        return {f"s{i}": v for i, v in enumerate(self.examples)}


def two(ex0, ex1, guards, r0=(2, 20), r1=(2, 20)) -> Case:
    """``x.shape[0]`` is ``dx``, ``y.shape[0]`` is ``dy``, with the given ranges."""
    return Case((ex0, ex1), (root("dx"), root("dy")), (RootDim("dx", *r0), RootDim("dy", *r1)), tuple(guards))


def one(ex, guards, rng=(2, 20), dim=None) -> Case:
    return Case((ex,), (dim or root("dx"),), (RootDim("dx", *rng),), tuple(guards))


CASES = [
    # --- violated: the expected weakest fix ---------------------------------------------------------
    pytest.param(two(5, 5, [sympy.Eq(s0, s1)]), VIOLATED, (Relate("dy", "dx", 1, 0),), id="equal-dims-relate"),
    # an index bound (``mask[arange(x)]``) at the example's lowest size: a relation keeps both dynamic
    pytest.param(two(2, 2, [s0 <= s1], (2, None), (2, None)), VIOLATED, (Relate("dy", "dx", 1, 0),),
                 id="inequality-at-lowest-size-relates"),
    pytest.param(two(2, 3, [s0 + 1 <= s1], (2, None), (2, None)), VIOLATED, (Relate("dy", "dx", 1, 1),),
                 id="shifted-inequality-at-lowest-size-relates"),
    pytest.param(two(5, 6, [sympy.Eq(s1, s0 + 1)]), VIOLATED,
                 (SetRange("dx", 2, 19), Relate("dy", "dx", 1, 1)), id="shifted-dims-relate-and-range"),
    pytest.param(two(5, 10, [sympy.Eq(2 * s0, s1)]), VIOLATED,
                 (SetRange("dx", 2, 10), Relate("dy", "dx", 2, 0)), id="double-dim-relate"),
    pytest.param(one(5, [s0 <= 6], rng=(3, None)), VIOLATED, (SetRange("dx", 3, 6),), id="upper-bound-set-range"),
    pytest.param(one(8, [s0 >= 4]), VIOLATED, (SetRange("dx", 4, 20),), id="lower-bound-set-range"),
    pytest.param(one(4, [sympy.Eq(s0, 4)]), VIOLATED, (Specialize("dx", 4),), id="eq-const-specialize"),
    pytest.param(one(6, [sympy.Eq(sympy.Mod(s0, 3), 0)], rng=(2, 30)), VIOLATED,
                 (NewRoot("_dx", 1, 10), Relate("dx", "_dx", 3, 0)), id="mod3-new-root"),
    pytest.param(one(7, [sympy.Eq(sympy.Mod(s0, 2), 1)]), VIOLATED,
                 (NewRoot("_dx", 1, 9), Relate("dx", "_dx", 2, 1)), id="odd-new-root-with-offset"),
    # at x = 3 the plain form 2*_dx + 1 has _dx = 1, which torch specialises: the new root is shifted
    pytest.param(one(3, [sympy.Eq(sympy.Mod(s0, 2), 1)]), VIOLATED,
                 (NewRoot("_dx", 2, 10), Relate("dx", "_dx", 2, -1)), id="odd-new-root-at-least-two"),
    pytest.param(two(10, 10, [s0 * s1 > 64], (2, 100), (2, 100)), VIOLATED,
                 (SetRange("dx", 7, 100), SetRange("dy", 10, 100)), id="product-two-set-ranges"),
    pytest.param(two(8, 9, [s0 <= 12, sympy.Eq(s1, s0 + 1)], (2, 16), (2, 16)), VIOLATED,
                 (SetRange("dx", 2, 12), Relate("dy", "dx", 1, 1)), id="range-and-relation"),
    pytest.param(Case((3, 4, 12), (root("dx"), root("dy"), root("dz")),
                      (RootDim("dx", 2, 20), RootDim("dy", 2, 20), RootDim("dz", 2, 400)), (sympy.Eq(s0 * s1, s2),)),
                 VIOLATED, (MakeAuto("dz"),), id="product-defines-dim-auto"),
    # --- valid as written ---------------------------------------------------------------------------
    pytest.param(two(10, 10, [s0 >= 2]), VALID, None, id="trivial-lower-bound-valid"),
    pytest.param(Case((5, 10), (root("dx"), derived("dx", 2, 0)), (RootDim("dx", 2, 20),), (sympy.Eq(2 * s0, s1),)),
                 VALID, None, id="derived-dim-valid"),
    pytest.param(one(4, [sympy.Eq(s0, 4)], dim=static(4)), VALID, None, id="static-dim-valid"),
    pytest.param(Case((7,), (derived("dx", 2, 1),), (RootDim("dx", 0, 10),), (sympy.Eq(sympy.Mod(s0, 2), 1),)),
                 VALID, None, id="odd-derived-dim-valid"),
    # the root's range admits 0 and 1, but the dimension dx - 3 is a size >= 2 only from dx = 5
    pytest.param(Case((4,), (derived("dx", 1, -3),), (RootDim("dx", 0, 10),), (s0 >= 2,)),
                 VALID, None, id="negative-offset-sizes-below-2-not-admitted"),
    pytest.param(one(6, [s0 * s0 <= 100], rng=(2, 10)), VALID, None, id="square-valid-on-range"),
]


@pytest.mark.parametrize(("case", "status", "changes"), CASES)
def test_case(case: Case, status: Status, changes):
    gs, spec = case.build()
    assert admits_point(spec, gs, case.example())
    problem = build_problem(gs, spec)
    assert not problem.unsupported
    verdict = check(problem)
    assert verdict.status is status
    witness = violating_point(spec, gs)
    assert (witness is None) == (status is VALID)
    for v in verdict.violations:
        assert admits_point(spec, gs, v.counterexample) and not holds(v.guard.expr, v.counterexample)
    if status is not VIOLATED:
        return
    plan = synthesize(problem, verdict)
    assert plan is not None and plan.verified
    assert plan.changes == changes
    for fixed in (plan.fixed_spec, apply_changes(spec, plan.changes)):
        bad = violating_point(fixed, gs)
        assert bad is None, point_text(bad)
        assert admits_point(fixed, gs, case.example())


# --- the oracle itself ----------------------------------------------------------------------------


def test_oracle_admits_only_dynamic_sizes_of_at_least_two():
    gs, spec = Case((4, 5), (derived("dx", 1, -3), static(5)), (RootDim("dx", 0, 10),), ()).build()
    admitted = {x for x in range(-5, 20) if admits_point(spec, gs, {"s0": x, "s1": 5})}
    assert admitted == set(range(2, 8))
    assert not admits_point(spec, gs, {"s0": 4, "s1": 6})


def test_oracle_uses_python_division():
    point = {"s0": -7, "s1": 2}
    assert holds(sympy.Eq(FloorDiv(s0, s1), -4), point) and holds(sympy.Eq(sympy.Mod(s0, 3), 2), point)
    assert holds(sympy.Eq(sympy.floor(s0 / 2) + s1, -2), point)


def test_oracle_treats_auto_as_existential():
    def auto_z(examples, guard):
        dims = (root("dx"), root("dy"), DimSpec(DimKind.AUTO))
        return Case(examples, dims, (RootDim("dx", 2, 20), RootDim("dy", 2, 20)), (guard,)).build()

    gs, spec = auto_z((3, 4, 12), sympy.Eq(s0 * s1, s2))
    assert violating_point(spec, gs) is None  # z = x*y up to 400, beyond the first AUTO grid
    gs, spec = auto_z((5, 3, 2), sympy.Eq(s0 - s1, s2))
    assert violating_point(spec, gs) == {"s0": 2, "s1": 2}  # z = x - y < 2 is no size


# --- regressions: the weakest fix (DESIGN.md: "prefer an equality ... to a specialisation") ---------
# Each was found by test_solver_properties (or its exploration) and first written as a strict xfail.


def test_broadcast_guard_relates_instead_of_specialising():
    # Or(Eq(x, y), Eq(y, 1)) with sizes >= 2 means x == y; dimsolve used to specialise both dims to 5
    case = two(5, 5, [sympy.Or(sympy.Eq(s0, s1), sympy.Eq(s1, 1))])
    gs, spec = case.build()
    problem = build_problem(gs, spec)
    verdict = check(problem)
    assert verdict.status is VIOLATED
    plan = synthesize(problem, verdict)
    assert plan is not None and plan.verified
    assert plan.changes == (Relate("dy", "dx", 1, 0),)


def test_floordiv_divisibility_gets_a_new_root():
    # Eq(2*FloorDiv(x, 2), x) says x is even, as Eq(Mod(x, 2), 0) does; dimsolve used to give Specialize("dx", 6)
    case = one(6, [sympy.Eq(2 * FloorDiv(s0, 2), s0)])
    gs, spec = case.build()
    problem = build_problem(gs, spec)
    verdict = check(problem)
    assert verdict.status is VIOLATED
    plan = synthesize(problem, verdict)
    assert plan is not None and plan.verified
    assert plan.changes == (NewRoot("_dx", 1, 10), Relate("dx", "_dx", 2, 0))


def test_sum_guard_defining_an_auto_dim_gets_a_verified_fix():
    # e.g. ``x + torch.cat([y, z])``: Eq(y + z, x) makes dz Dim.AUTO, which needs x - y >= 2; dimsolve used
    # to skip the (linear, so "consumed") guard in the range search and return (MakeAuto("dz"),) unverified
    case = Case((5, 3, 2), (root("dx"), root("dy"), root("dz")),
                (RootDim("dx", 2, 10), RootDim("dy", 2, 10), RootDim("dz", 2, 10)), (sympy.Eq(s1 + s2, s0),))
    gs, spec = case.build()
    problem = build_problem(gs, spec)
    verdict = check(problem)
    assert verdict.status is VIOLATED
    # a verified fix exists: z left to Dim.AUTO, x and y narrowed around the example
    manual = apply_changes(spec, [MakeAuto("dz"), SetRange("dx", 5, 10), SetRange("dy", 2, 3)])
    assert violating_point(manual, gs) is None and admits_point(manual, gs, case.example())
    plan = synthesize(problem, verdict)
    assert plan is not None
    assert violating_point(plan.fixed_spec, gs) is None
    assert admits_point(plan.fixed_spec, gs, case.example())
    assert plan.verified


def _square(bound, hi_y):
    """``y = x*x`` (a non-linear equality: dy becomes Dim.AUTO) and a bound on y."""
    return Case((3, 9), (root("dx"), root("dy")), (RootDim("dx", 2, 20), RootDim("dy", 2, hi_y)),
                (sympy.Eq(s0 * s0, s1), bound))


AUTO_COUPLED = [
    pytest.param(_square(s1 <= 100, 400), (MakeAuto("dy"), SetRange("dx", 2, 10)), id="square-upper-bound"),
    pytest.param(_square(s1 >= 9, 100), (MakeAuto("dy"), SetRange("dx", 3, 20)), id="square-lower-bound"),
    pytest.param(Case((12, 24, 2), (root("d0"), root("d1"), root("d2")),
                      (RootDim("d0", 2, 28), RootDim("d1", 6, 33), RootDim("d2", 1, 8)),
                      (sympy.Eq(s0 * s2, s1), s0 * s1 > 276)),
                 (MakeAuto("d1"), SetRange("d0", 12, 28), SetRange("d2", 2, 8)), id="product-then-product-bound"),
]


@pytest.mark.parametrize(("case", "manual"), AUTO_COUPLED)
def test_guard_on_auto_symbol_narrows_the_defining_roots(case: Case, manual):
    gs, spec = case.build()
    problem = build_problem(gs, spec)
    verdict = check(problem)
    assert verdict.status is VIOLATED
    # a verified fix exists: the defined dim left to Dim.AUTO, the others' ranges narrowed around the example
    weaker = apply_changes(spec, manual)
    assert violating_point(weaker, gs) is None and admits_point(weaker, gs, case.example())
    plan = synthesize(problem, verdict)
    assert plan is not None
    assert violating_point(plan.fixed_spec, gs) is None  # dimsolve: (MakeAuto(...),) alone, e.g. x = 11 (y = 121)
    assert admits_point(plan.fixed_spec, gs, case.example())
    assert plan.verified  # dimsolve: verified=False


def test_non_divisibility_guard_keeps_the_dim_dynamic():
    # ``if z.shape[0] % 5 != 0`` and a bound; z = 3*dz + 3 with the example z = 12 (dz = 3)
    case = Case((12,), (derived("dz", 3, 3),), (RootDim("dz", 2, 10),), (sympy.Ne(sympy.Mod(s0, 5), 0), s0 <= 14))
    gs, spec = case.build()
    problem = build_problem(gs, spec)
    verdict = check(problem)
    assert verdict.status is VIOLATED
    dynamic = apply_changes(spec, [SetRange("dz", 2, 3)])
    assert violating_point(dynamic, gs) is None and admits_point(dynamic, gs, case.example())
    plan = synthesize(problem, verdict)
    assert plan is not None and plan.verified
    assert not any(isinstance(c, Specialize) for c in plan.changes)  # dimsolve: (Specialize("dz", 3),)
    assert plan.fixed_spec.entries[0].dim.is_dynamic


# --- the time budget: unknown, never a wrong valid -------------------------------------------------

PELL_X, PELL_Y = 1766319049, 226153980  # the least solution of x**2 - 61*y**2 == 1
BIG = 2 * 10**9


def _roots(examples, hi):
    return Case(tuple(examples), tuple(root(f"d{i}") for i in range(len(examples))),
                tuple(RootDim(f"d{i}", 2, hi) for i in range(len(examples))), ())


def _with(case: Case, guards) -> Case:
    return Case(case.examples, case.dims, case.roots, tuple(guards))


HARD = [
    # truly violated, at (PELL_X, PELL_Y) only (up to 2e9): a "valid" here would be wrong
    pytest.param(_with(_roots((3, 2), BIG), [sympy.Ne(s0**2 - 61 * s1**2, 1)]), VIOLATED, id="pell"),
    # truly valid (Fermat, n = 3), but no solver proves it
    pytest.param(_with(_roots((3, 4, 5), 10**6), [sympy.Ne(s0 * s0 * s0 + s1 * s1 * s1, s2 * s2 * s2)]), VALID,
                 id="fermat-3"),
    # truly violated (3**3 + 4**3 + 5**3 == 6**3, and 10**6 ** 4 > 10**12), at the example (3, 4, 5, 7) it holds
    pytest.param(_with(_roots((3, 4, 5, 7), 10**6), [
        s0 * s1 <= 10**12, s1 * s2 <= 10**12, s0 * s1 * s2 * s3 <= 10**12,
        sympy.Ne(s0**3 + s1**3 + s2**3, s3**3),
    ]), VIOLATED, id="products-and-cubes"),
]


def test_pell_witness():
    assert PELL_X**2 - 61 * PELL_Y**2 == 1 and PELL_X <= BIG
    assert not holds(sympy.Ne(s0**2 - 61 * s1**2, 1), {"s0": PELL_X, "s1": PELL_Y})


@pytest.mark.parametrize(("case", "truth"), HARD)
def test_tiny_budget_never_says_valid_wrongly(case: Case, truth: Status):
    gs, spec = case.build()
    verdict = check(build_problem(gs, spec), timeout_ms=1)
    assert verdict.status is UNKNOWN or verdict.status is truth
    if verdict.status is UNKNOWN:
        assert verdict.undecided and not verdict.violations
    for v in verdict.violations:
        cex = v.counterexample
        assert not holds(v.guard.expr, cex)
        assert all(2 <= cex[f"s{i}"] <= r.max for i, r in enumerate(case.roots))


def test_tiny_budget_gives_unknown_on_hard_problems():
    statuses = {}
    for param in HARD:
        case, _ = param.values
        gs, spec = case.build()
        statuses[param.id] = check(build_problem(gs, spec), timeout_ms=1).status
    assert UNKNOWN in statuses.values(), statuses
    assert statuses["pell"] is UNKNOWN and statuses["fermat-3"] is UNKNOWN, statuses


def test_default_budget_on_pell_is_unknown_or_a_real_counterexample():
    case, _ = HARD[0].values
    gs, spec = case.build()
    verdict = check(build_problem(gs, spec), timeout_ms=200)
    assert verdict.status in (UNKNOWN, VIOLATED)
    for v in verdict.violations:
        assert (v.counterexample["s0"], v.counterexample["s1"]) == (PELL_X, PELL_Y)


@pytest.mark.parametrize("timeout_ms", [1, 5, 50])
@pytest.mark.parametrize("case", [p.values[0] for p in CASES], ids=[p.id for p in CASES])
def test_small_budget_answers_are_correct_when_decided(case: Case, timeout_ms: int):
    gs, spec = case.build()
    verdict = check(build_problem(gs, spec), timeout_ms=timeout_ms)
    truly_valid = violating_point(spec, gs) is None
    if verdict.status is VALID:
        assert truly_valid
    elif verdict.status is VIOLATED:
        assert not truly_valid
        for v in verdict.violations:
            assert admits_point(spec, gs, v.counterexample) and not holds(v.guard.expr, v.counterexample)
