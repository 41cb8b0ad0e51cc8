"""dimsolve's verdicts and fixes against brute-force enumeration, on random small problems.

Each scenario: an example point (sizes 2..12, one symbol per input ``x.shape[0]``, ``y.shape[0]``, ...),
guards that hold at the example (torch's guards always hold at the example inputs), and a spec over
bounded root ranges (max <= 20) that admits the example. The oracle (``solver_oracle``) enumerates every
admitted assignment exhaustively.
"""

from __future__ import annotations

import time
from collections import Counter

import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dimsolve.dims.apply import apply_changes
from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.solver.check import Status, check
from dimsolve.solver.problem import build_problem
from dimsolve.solver.synthesis import synthesize

from solver_oracle import (
    CeilDiv, FloorDiv, PythonMod, admits_point, blamed, entry, guardset, holds, point_text, solver_guards, sym,
    violating_point,
)

MAX_EXAMPLES = 250

PROFILE = settings(
    deadline=None,
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies --------------------------------------------------------------------------------------


@st.composite
def example_points(draw, n: int) -> list[int]:
    """Sizes in 2..12, often coupled (equal, shifted, doubled, a product) so equality guards can hold."""
    ex: list[int] = []
    for i in range(n):
        how = draw(st.sampled_from(["free", "free", "copy", "shift", "double", "product"] if i else ["free"]))
        value = None
        j = draw(st.integers(0, max(i - 1, 0)))
        if how == "copy":
            value = ex[j]
        elif how == "shift":
            value = ex[j] + draw(st.sampled_from([-2, -1, 1, 2, 3]))
        elif how == "double":
            value = 2 * ex[j]
        elif how == "product" and i >= 2:
            k = draw(st.integers(0, i - 1))
            value = ex[j] * ex[k]
        if value is None or not 2 <= value <= 12:
            value = draw(st.integers(2, 12))
        ex.append(value)
    return ex


def _pair(draw, n):
    i = draw(st.integers(0, n - 1))
    j = draw(st.integers(0, n - 2))
    return i, j + (j >= i)


@st.composite
def one_guard(draw, ex: list[int]) -> sympy.Basic:
    """A guard from the templates; some are made to hold at the example, the rest are filtered later."""
    n = len(ex)
    s = [sym(f"s{i}") for i in range(n)]
    i, j = _pair(draw, n)
    a, b = ex[i], ex[j]
    kind = draw(st.sampled_from([
        "eq", "eq_shift", "eq_scale", "le", "ge", "lt", "gt", "eq_const", "ne_const",
        "prod_le", "prod_gt", "prod_eq", "floordiv_ge", "floordiv_even", "floordiv_le", "floor_le",
        "mod0", "mod_sum", "ne_mod", "broadcast", "eq_affine", "sum_eq", "sum_le", "floordiv_eq",
        "ceildiv_ge", "pythonmod", "mod_shift", "max_le", "min_ge", "prod_prod", "square_le",
    ]))
    if kind == "eq":
        return sympy.Eq(s[i], s[j])
    if kind == "eq_shift":
        c = b - a if 0 < abs(b - a) <= 3 else draw(st.sampled_from([-2, -1, 1, 2]))
        return sympy.Eq(s[j], s[i] + c)
    if kind == "eq_scale":
        k = draw(st.sampled_from([2, 3]))
        return sympy.Eq(k * s[i], s[j])
    if kind == "le":
        return s[i] <= draw(st.integers(a, a + 8))
    if kind == "lt":
        return s[i] < draw(st.integers(a + 1, a + 8))
    if kind == "ge":
        return s[i] >= draw(st.integers(2, a))
    if kind == "gt":
        return s[i] > draw(st.integers(1, a - 1))
    if kind == "eq_const":
        return sympy.Eq(s[i], a)
    if kind == "ne_const":
        return sympy.Ne(s[i], draw(st.integers(2, 14)))
    if kind == "prod_le":
        return s[i] * s[j] <= draw(st.integers(a * b, a * b + 40))
    if kind == "prod_gt":
        return s[i] * s[j] > draw(st.integers(max(a * b - 40, 3), a * b - 1)) if a * b > 4 else s[i] * s[j] > 3
    if kind == "prod_eq":
        if n < 3:
            return sympy.Eq(s[i] * s[j], draw(st.integers(4, 40)))
        k = next(k for k in range(n) if k not in (i, j))
        return sympy.Eq(s[i] * s[j], s[k])
    if kind == "floordiv_ge":
        k = draw(st.integers(2, 4))
        return FloorDiv(s[i], k) >= draw(st.integers(0, a // k))
    if kind == "floordiv_even":
        k = draw(st.integers(2, 3))
        return sympy.Eq(k * FloorDiv(s[i], k), s[i])
    if kind == "floordiv_le":
        return FloorDiv(s[i], 2) <= s[j]
    if kind == "floor_le":
        k = draw(st.integers(2, 4))
        # alone against a constant, sympy rewrites floor(s/k) <= c to s/k < c + 1: keep a second term
        return sympy.floor(s[i] / k) + s[j] <= draw(st.integers(a // k + b, a // k + b + 4))
    if kind == "mod0":
        return sympy.Eq(sympy.Mod(s[i], draw(st.integers(2, 4))), 0)
    if kind == "mod_sum":
        k = draw(st.integers(2, 3))
        return sympy.Eq(sympy.Mod(s[i] + s[j], k), (a + b) % k)
    if kind == "ne_mod":
        return sympy.Ne(sympy.Mod(s[i], draw(st.integers(2, 5))), 0)
    if kind == "eq_affine":
        k = draw(st.sampled_from([2, 3]))
        c = b - k * a if abs(b - k * a) <= 3 else draw(st.integers(-3, 3))
        return sympy.Eq(s[j], k * s[i] + c)
    if kind == "sum_eq" and n >= 3:
        k = next(k for k in range(n) if k not in (i, j))
        return sympy.Eq(s[i] + s[j], s[k])
    if kind in ("sum_le", "sum_eq"):
        return s[i] + s[j] <= draw(st.integers(a + b, a + b + 10))
    if kind == "floordiv_eq":
        return sympy.Eq(FloorDiv(s[i], 2), s[j])
    if kind == "ceildiv_ge":
        k = draw(st.integers(2, 4))
        return CeilDiv(s[i], k) >= draw(st.integers(1, -(-a // k)))
    if kind == "pythonmod":
        k = draw(st.integers(2, 4))
        return sympy.Eq(PythonMod(s[i], k), a % k)
    if kind == "mod_shift":
        k = draw(st.integers(2, 3))
        return sympy.Eq(sympy.Mod(s[i] - 1, k), 0)
    if kind == "max_le":
        return sympy.Max(s[i], s[j]) <= draw(st.integers(max(a, b), max(a, b) + 6))
    if kind == "min_ge":
        return sympy.Min(s[i], s[j]) >= draw(st.integers(2, min(a, b)))
    if kind == "prod_prod" and n >= 4:
        k, m = (k for k in range(n) if k not in (i, j))
        return sympy.Eq(s[i] * s[j], s[k] * s[m])
    if kind in ("square_le", "prod_prod"):
        return s[i] ** 2 <= draw(st.integers(a * a, a * a + 30))
    # torch's broadcasting check: the sizes are equal or one of them is 1
    return sympy.Or(sympy.Eq(s[i], s[j]), sympy.Eq(s[j], 1))


@st.composite
def guard_lists(draw, ex: list[int]) -> list[sympy.Basic]:
    point = {f"s{i}": v for i, v in enumerate(ex)}
    out = []
    for _ in range(draw(st.integers(1, 5))):
        g = draw(one_guard(ex))
        if isinstance(g, sympy.Basic) and g.free_symbols and g not in out and holds(g, point):
            out.append(g)
    return out


@st.composite
def specs(draw, ex: list[int]) -> Spec:
    """Each dim: a new root, a root shared with earlier dims (possibly derived), a derived dim, or static."""
    roots_ex: dict[str, int] = {}
    entries = []
    for i, e in enumerate(ex):
        how = draw(st.sampled_from(["root", "root", "reuse", "reuse", "derived", "static"]))
        dim = None
        if how == "static":
            dim = DimSpec(DimKind.STATIC, value=e)
        if how == "reuse" and roots_ex:
            r = draw(st.sampled_from(sorted(roots_ex)))
            c = draw(st.integers(1, 3))
            off = e - c * roots_ex[r]
            if (c, off) == (1, 0):
                dim = DimSpec(DimKind.ROOT, root=r)
            elif -3 <= off <= 3:
                dim = DimSpec(DimKind.DERIVED, root=r, coeff=c, offset=off)
        if how == "derived":
            c = draw(st.integers(1, 3))
            off = draw(st.integers(-3, 3))
            if (e - off) % c == 0 and (e - off) // c >= 1 and (c, off) != (1, 0):
                r = f"d{i}"
                roots_ex[r] = (e - off) // c
                dim = DimSpec(DimKind.DERIVED, root=r, coeff=c, offset=off)
        if dim is None:
            r = f"d{i}"
            roots_ex[r] = e
            dim = DimSpec(DimKind.ROOT, root=r)
        entries.append(entry(i, dim, e))
    roots = {}
    for r, v in roots_ex.items():
        lo = draw(st.integers(0, v))
        hi = draw(st.integers(v, 20))
        roots[r] = RootDim(r, lo, hi)
    return Spec(tuple(entries), roots)


@st.composite
def scenarios(draw):
    n = draw(st.integers(2, 4))
    ex = draw(example_points(n))
    guards = draw(guard_lists(ex))
    spec = draw(specs(ex))
    return ex, guards, spec


# --- the property ------------------------------------------------------------------------------------


def describe(ex, guards, spec) -> str:
    dims = ", ".join(f"{e.spec_path}={e.dim.expr_text()}" for e in spec.entries)
    roots = ", ".join(f"{r.name}:[{r.min},{r.max}]" for r in spec.roots.values())
    return f"example={ex} guards={[str(g) for g in guards]} spec: {dims}; roots {roots}"


def check_scenario(ex, guards, spec, stats: Counter) -> None:
    gs = guardset(ex, guards)
    example = {f"s{i}": v for i, v in enumerate(ex)}
    what = describe(ex, guards, spec)
    assert admits_point(spec, gs, example), what  # the generator's own invariant

    problem = build_problem(gs, spec)
    assert not problem.unsupported, what
    verdict = check(problem)
    stats[verdict.status.value] += 1

    # (1) valid iff enumeration finds no counterexample; never unknown on these small problems
    assert verdict.status is not Status.UNKNOWN, what
    witness = violating_point(spec, gs)
    assert (verdict.status is Status.VALID) == (witness is None), f"{what}: dimsolve {verdict.status.value}, enumeration {witness}"
    # under a tiny budget: unknown is allowed, a wrong valid is not
    hurried = check(problem, timeout_ms=1)
    stats[f"1ms:{hurried.status.value}"] += 1
    assert hurried.status is not Status.VALID or witness is None, f"{what}: valid at 1 ms, enumeration {witness}"
    for v in hurried.violations:
        assert not holds(v.guard.expr, v.counterexample), f"{what}: 1 ms counterexample {point_text(v.counterexample)}"
    if verdict.status is Status.VALID:
        return
    # blame in trace order, earlier guards assumed (check.py)
    assert {v.index for v in verdict.violations} == blamed(spec, gs), what

    # (2) each counterexample is admitted and violates its guard (and satisfies the earlier ones)
    backed = solver_guards(gs)
    for v in verdict.violations:
        cex = v.counterexample
        assert admits_point(spec, gs, cex), f"{what}: counterexample {point_text(cex)} not admitted"
        assert not holds(v.guard.expr, cex), f"{what}: counterexample {point_text(cex)} satisfies {v.guard.expr}"
        assert all(holds(g, cex) for g in backed[: v.index]), f"{what}: {point_text(cex)} fails an earlier guard"

    # (3) a verified fix is valid by enumeration and admits the example, and so do its changes applied;
    #     a fixed root with no max is enumerated up to solver_oracle.DEFAULT_CAP (40): checked on that range
    plan = synthesize(problem, verdict)
    if plan is None:
        stats["plan_none"] += 1
        return
    if not plan.verified:
        stats["plan_unverified"] += 1
        return
    stats["plan_verified"] += 1
    stats.update(f"change:{type(c).__name__}" for c in plan.changes)
    fixed = plan.fixed_spec
    bad = violating_point(fixed, gs)
    assert bad is None, f"{what}: verified fix {describe(ex, guards, fixed)} admits {point_text(bad)}"
    assert admits_point(fixed, gs, example), f"{what}: fix {describe(ex, guards, fixed)} rejects the example"
    applied = apply_changes(spec, plan.changes)
    bad = violating_point(applied, gs)
    assert bad is None, f"{what}: changes {plan.changes} applied admit {point_text(bad)}"
    assert admits_point(applied, gs, example), f"{what}: changes {plan.changes} applied reject the example"


def test_verdicts_and_fixes_match_enumeration():
    stats: Counter = Counter()
    started = time.perf_counter()

    @PROFILE
    @given(scenarios())
    def run(scenario):
        check_scenario(*scenario, stats)

    run()
    elapsed = time.perf_counter() - started
    violated = stats["violated"]
    verified = stats["plan_verified"]
    print(f"\nsolver properties: {dict(stats)} in {elapsed:.1f}s; "
          f"verified fixes {verified}/{violated} violated = {verified / max(violated, 1):.0%}")
    assert stats["valid"] >= MAX_EXAMPLES // 20 and violated >= MAX_EXAMPLES // 4, stats  # the generator is not degenerate
    assert verified >= 0.9 * violated, stats
