"""The re-check fast paths (issue 5, part b) decide exactly what z3 alone did: guards evaluated in
Python (``pyeval``), guards settled by substituting related sizes (``symbolic``), blame answered by
points next to the example (``probe``), and the batched "which guards does this box not imply".

Speed itself is measured by ``bench/`` (docs/benchmarks.md), never here.
"""

from __future__ import annotations

import itertools

import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dimsolve.solver.probe as probe_module
from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.solver.boxes import Candidate, _domain, _failing_one_by_one, failing_guards, initial_boxes
from dimsolve.solver.check import Status, check
from dimsolve.solver.params import parametrise
from dimsolve.solver.problem import build_problem
from dimsolve.solver.pyeval import compiled
from dimsolve.solver.symbolic import identically_true

from solver_oracle import FloorDiv, PythonMod, admits_point, blamed, entry, guardset, holds, solver_guards, sym

s0, s1, s2, s3 = (sym(f"s{i}") for i in range(4))
Mod = sympy.Function("Mod")

PROFILE = settings(deadline=None, max_examples=300, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])

EXPRS = ("a", "b", "c", "2*a + 1", "a - b", "a*b", "a*c", "FloorDiv(a*b, c)", "Mod(a*b, c)", "Mod(a*b, 2)",
         "PythonMod(2*a + b, 3)", "FloorDiv(a*c, c)", "Min(a, b)", "Max(a, 7)", "a**2", "c*FloorDiv(a*c, c)")
RELATIONS = (sympy.Eq, sympy.Ne, sympy.Lt, sympy.Le, sympy.Gt, sympy.Ge)
ENV = {"a": s0, "b": s1, "c": s2, "FloorDiv": FloorDiv, "Mod": Mod, "PythonMod": PythonMod,
       "Min": sympy.Min, "Max": sympy.Max}


def root(name: str, coeff: int = 1, offset: int = 0) -> DimSpec:
    kind = DimKind.ROOT if (coeff, offset) == (1, 0) else DimKind.DERIVED
    return DimSpec(kind, root=name, coeff=coeff, offset=offset)


@st.composite
def guards(draw):
    lhs, rhs = (sympy.sympify(draw(st.sampled_from(EXPRS)), locals=ENV) for _ in range(2))
    guard = draw(st.sampled_from(RELATIONS))(lhs, rhs + draw(st.integers(-6, 6)), evaluate=False)
    if draw(st.booleans()):
        guard = draw(st.sampled_from([sympy.Not, lambda g: sympy.And(g, s0 >= 3), lambda g: sympy.Or(g, s1 > 5)]))(guard)
    return guard


# --- pyeval: the same truth as the oracle's Python evaluation ----------------------------------------


@PROFILE
@given(guards(), st.lists(st.integers(2, 40), min_size=3, max_size=3))
def test_compiled_guards_agree_with_python_evaluation(guard, sizes):
    if guard in (sympy.true, sympy.false):
        return
    point = {"s0": sizes[0], "s1": sizes[1], "s2": sizes[2]}
    fn = compiled(guard)
    assert fn is not None, guard  # every node above is supported
    try:
        expected = holds(guard, point)
    except ZeroDivisionError:
        return
    assert fn(point) is expected, f"{guard} at {point}"


def test_unsupported_nodes_compile_to_none():
    assert compiled(sympy.Eq(sympy.Function("Frobnicate")(s0), 1)) is None
    assert compiled(sympy.Eq(s0 / 3, 1)) is None  # a rational coefficient


# --- symbolic: settled only where it holds everywhere -------------------------------------------------


@PROFILE
@given(guards(), st.sampled_from([("d", 1, 0), ("d", 2, 0), ("e", 1, 0), ("e", 1, 1), (None, 0, 4)]),
       st.integers(2, 6), st.integers(0, 5))
def test_identically_true_guards_hold_at_every_point(guard, third, lo, width):
    if guard in (sympy.true, sympy.false):
        return
    forms = {"s0": ("d", 1, 0), "s1": ("e", 1, 0), "s2": third}
    boxes = {"d": (lo, lo + width), "e": (2, 9)}
    if not identically_true(guard, boxes, forms):
        return
    for d, e in itertools.product(range(lo, lo + width + 1), range(2, 10)):
        point = {n: o if a is None else c * {"d": d, "e": e}[a] + o for n, (a, c, o) in forms.items()}
        try:
            assert holds(guard, point), f"{guard} settled but fails at {point} (forms {forms})"
        except ZeroDivisionError:
            continue


def test_a_divisibility_of_a_related_product_is_settled_without_z3():
    # GPT-2's view of the mask: Mod(batch*seq, batch) == 0 once the mask's batch is the input's
    # (torch's own Mod and FloorDiv: sympy's stand-ins do not simplify)
    from torch.utils._sympy.functions import FloorDiv as TorchFloorDiv, Mod as TorchMod

    guard = sympy.Eq(TorchMod(s0 * s1, s2), 0)
    gs = guardset((2, 8, 2), [guard, sympy.Eq(s0 * s1, s2 * TorchFloorDiv(s0 * s1, s2))])
    spec = Spec((entry(0, root("b"), 2), entry(1, root("q"), 8), entry(2, root("b"), 2)),
                {"b": RootDim("b", 0), "q": RootDim("q", 0, 64)})
    problem = build_problem(gs, spec)
    assert problem.implied == frozenset(gs.guards)
    assert check(problem).status is Status.VALID


# --- probe: points answer blame queries, z3 the rest ---------------------------------------------------


def _unrelated_mask():
    """x: (b,), y: (q,), mask: (mb,): GPT-2's guards with the mask's batch left unrelated."""
    guards = [sympy.Eq(Mod(s0 * s1, s2), 0), sympy.Eq(s0 * s1, s2 * FloorDiv(s0 * s1, s2)), sympy.Eq(s2, s0)]
    gs = guardset((2, 8, 2), guards)
    spec = Spec((entry(0, root("b"), 2), entry(1, root("q"), 8), entry(2, root("mb"), 2)),
                {"b": RootDim("b", 0), "q": RootDim("q", 0, 64), "mb": RootDim("mb", 0)})
    return gs, spec


def _many(violated: set[int]):
    guards = [sympy.Or(s0 <= 50 + i % 7, s0 >= 40 - i % 5) if i not in violated else s0 * s1 <= 50 + i
              for i in range(24)]
    spec = Spec((entry(0, root("dx"), 4), entry(1, root("dy"), 4)), {"dx": RootDim("dx", 2, 100), "dy": RootDim("dy", 2, 100)})
    return guardset((4, 4), guards), spec


def _without_points(monkeypatch, problem):
    monkeypatch.setattr(probe_module, "EVALUATION_BUDGET", 0)
    try:
        return check(problem)
    finally:
        monkeypatch.undo()


def test_points_blame_the_same_guards_as_z3(monkeypatch):
    for gs, spec in (_unrelated_mask(), _many({0, 5, 17}), _many({23}), _many(set())):
        problem = build_problem(gs, spec)
        fast, slow = check(problem), _without_points(monkeypatch, problem)
        assert fast.status is slow.status
        assert [v.index for v in fast.violations] == [v.index for v in slow.violations]
        assert {v.index for v in fast.violations} == (blamed(spec, gs, cap=100) if fast.violations else set())
        backed = solver_guards(gs)
        for v in fast.violations:
            assert admits_point(spec, gs, v.counterexample, cap=100)
            assert not holds(v.guard.expr, v.counterexample)
            assert all(holds(g, v.counterexample) for g in backed[: v.index])


def test_points_spare_z3_only_the_queries_they_answer(check_queries):
    gs, spec = _unrelated_mask()
    problem = build_problem(gs, spec)
    verdict = check(problem)
    # guard 0 fails at mb = 3; guard 1 never fails first (it needs guard 0 to fail): z3 proves that
    assert [v.index for v in verdict.violations] == [0, 2]
    assert len(check_queries) == 1


# --- the batched "guards the candidate box does not imply" ---------------------------------------------


def test_batched_failing_guards_match_one_query_per_guard():
    for violated in ({0, 5, 17}, {23}, set()):
        gs, spec = _many(violated)
        problem = build_problem(gs, spec)
        par = parametrise(problem, violated)
        cand = Candidate(par, initial_boxes(problem, par))
        cand.boxes = {p: (v, v + 3) for p, v in par.params.items()}  # a small box around the example
        indices = list(range(len(problem.guards)))
        outer, inner, free = _domain(problem, cand)
        one_by_one = _failing_one_by_one(outer, inner, free, {i: problem.guards[i][1] for i in indices}, 2000)
        assert failing_guards(problem, cand, indices) == one_by_one
        cand.boxes = {p: (2, 100) for p in par.params}
        outer, inner, free = _domain(problem, cand)
        one_by_one = _failing_one_by_one(outer, inner, free, {i: problem.guards[i][1] for i in indices}, 2000)
        assert failing_guards(problem, cand, indices) == one_by_one == violated
