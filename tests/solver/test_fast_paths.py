"""The solver's fast paths decide exactly what the slow ones did: guards settled without z3, blame by
bisection under one deadline, the per-GuardSet translation cache, counterexample-guided range search.

Speed itself is measured by ``bench/`` (docs/benchmarks.md), never here.
"""

from __future__ import annotations

import itertools
import math

import pytest
import sympy
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dimsolve.solver.check as check_module
from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.guards.model import GuardKind, GuardRecord, GuardSet, SymbolInfo
from dimsolve.service.pool import fresh_z3_context
from dimsolve.solver.budget import Outcome, check as run, make_solver
from dimsolve.solver.check import Status, check
from dimsolve.solver.problem import backed_guards, build_problem, implied, translated_guards
from dimsolve.solver.search import Refuted, widest_bound
from dimsolve.solver.translate import Translator, z3_int_vars

from solver_oracle import FloorDiv, PythonMod, blamed, entry, guardset, holds, path_of, sym

s0, s1, s2 = (sym(f"s{i}") for i in range(3))
Mod = sympy.Function("Mod")  # torch's Mod, recognised by class name like FloorDiv

PROFILE = settings(deadline=None, max_examples=300, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])


def root(name: str, coeff: int = 1, offset: int = 0) -> DimSpec:
    kind = DimKind.ROOT if (coeff, offset) == (1, 0) else DimKind.DERIVED
    return DimSpec(kind, root=name, coeff=coeff, offset=offset)


def spec_of(dims, examples, roots) -> Spec:
    return Spec(tuple(entry(i, d, e) for i, (d, e) in enumerate(zip(dims, examples))), {r.name: r for r in roots})


# --- guards the spec settles alone -------------------------------------------------------------------

# x: d, y: d + 1, z: 2*d, d in [2, 64]
NAMED = ((root("d"), root("d", 1, 1), root("d", 2, 0)), (4, 5, 8), (RootDim("d", 2, 64),))


@pytest.mark.parametrize(("guard", "settled"), [
    pytest.param(sympy.Eq(s1, s0 + 1), True, id="named-relation"),
    pytest.param(sympy.Eq(s2, 2 * s0), True, id="named-scale"),
    pytest.param(sympy.Eq(FloorDiv(s2, 2), s0), True, id="exact-floordiv"),
    pytest.param(sympy.Eq(Mod(s2 * s1, 2), 0), True, id="divisible-product"),
    pytest.param(sympy.Eq(PythonMod(s2 + 4, 2), 0), True, id="divisible-sum"),
    pytest.param(s0 * s1 <= 64 * 65, True, id="product-bound"),
    pytest.param(FloorDiv(s1, 3) <= 21, True, id="floordiv-bound"),
    pytest.param(sympy.And(s0 >= 2, s2 <= 128), True, id="and-of-bounds"),
    pytest.param(sympy.Or(s0 <= 3, s0 >= 2), True, id="or-one-branch-always"),
    pytest.param(sympy.Ne(s1, s0), True, id="ne-offset"),
    pytest.param(s0 * s1 <= 64 * 65 - 1, False, id="product-bound-too-tight"),
    pytest.param(s0 <= 63, False, id="range-too-tight"),
    pytest.param(sympy.Eq(Mod(s0, 2), 0), False, id="parity-of-a-root"),
    pytest.param(sympy.Eq(s0, 4), False, id="specialisation"),
    pytest.param(sympy.Or(s0 <= 3, s0 >= 5), False, id="or-neither-always"),
    pytest.param(sympy.Eq(FloorDiv(s1, 2), s0), False, id="inexact-floordiv"),
])
def test_named_spec_settles_exactly_the_guards_it_implies(guard, settled):
    gs = guardset((4, 5, 8), [guard])
    problem = build_problem(gs, spec_of(*NAMED))
    assert (gs.guards[0] in problem.implied) is settled
    truth = check(problem).status
    assert truth is (Status.VALID if settled else Status.VIOLATED)  # z3 agrees on every row


def test_valid_recheck_of_settled_guards_makes_no_solver_call(monkeypatch):
    guards = [sympy.Eq(s1, s0 + 1), sympy.Eq(s2, 2 * s0), s0 * s2 <= 64 * 128]
    problem = build_problem(guardset((4, 5, 8), guards), spec_of(*NAMED))

    def no_solver(*_args, **_kwargs):
        raise AssertionError("the spec settles every guard: no z3 query expected")

    monkeypatch.setattr(check_module, "make_solver", no_solver)
    assert check(problem).status is Status.VALID


def test_auto_and_static_sizes_are_atoms_and_constants():
    # x static 6, y Dim.AUTO (existential, >= 2), z keeps its example (not in the spec)
    gs = guardset((6, 3, 7), [sympy.Eq(s0, 6), s1 >= 2, sympy.Eq(s2, 7), s0 * s1 >= 12, s1 <= 100])
    spec = Spec((entry(0, DimSpec(DimKind.STATIC, value=6), 6), entry(1, DimSpec(DimKind.AUTO), 3)), {})
    problem = build_problem(gs, spec)
    assert {str(r.expr) for r in problem.implied} == {"Eq(s0, 6)", "s1 >= 2", "Eq(s2, 7)", "s0*s1 >= 12"}


def test_settled_guards_still_need_the_auto_sizes_to_exist():
    # y is Dim.AUTO with an empty range: no size satisfies it, so the spec is not valid, although
    # the interval reasoning settles every guard (nothing holds on an empty range)
    gs = guardset((6, 3), [s0 <= 64, s1 >= 2])
    spec = Spec((entry(0, root("d"), 6), entry(1, DimSpec(DimKind.AUTO, min=10, max=5), 3)), {"d": RootDim("d", 2, 64)})
    problem = build_problem(gs, spec)
    assert problem.implied == frozenset(gs.guards)
    assert check(problem).status is not Status.VALID


EXPRS = ("a", "b", "2*a + 1", "a - b", "a*b", "FloorDiv(a + 3, 2)", "Mod(a*b, 2)", "PythonMod(2*a + b, 3)",
         "Min(a, b)", "Max(a, 7)", "a**2")
RELATIONS = (sympy.Eq, sympy.Ne, sympy.Lt, sympy.Le, sympy.Gt, sympy.Ge)


@st.composite
def boxed_guards(draw):
    """Sizes a = c0*d0 + o0, b = c1*d1 + o1 (or constants) with d in small boxes, and a guard on them."""
    boxes, forms = {}, {}
    for name, atom in (("s0", "d0"), ("s1", "d1")):
        lo = draw(st.integers(-3, 8))
        boxes[atom] = (lo, lo + draw(st.integers(0, 6)))
        forms[name] = draw(st.sampled_from([(atom, 1, 0), (atom, 2, 1), (atom, 3, -2), (None, 0, 5)]))
    env = {"a": s0, "b": s1, "FloorDiv": FloorDiv, "Mod": Mod, "PythonMod": PythonMod,
           "Min": sympy.Min, "Max": sympy.Max}
    lhs, rhs = (sympy.sympify(draw(st.sampled_from(EXPRS)), locals=env) for _ in range(2))
    rhs = rhs + draw(st.integers(-20, 20))
    guard = draw(st.sampled_from(RELATIONS))(lhs, rhs, evaluate=False)
    if draw(st.booleans()):
        guard = draw(st.sampled_from([sympy.Not, lambda g: sympy.And(g, s0 >= -100), lambda g: sympy.Or(g, s1 > 50)]))(guard)
    return boxes, forms, guard


@PROFILE
@given(boxed_guards())
def test_implied_guards_hold_at_every_point_of_the_box(case):
    boxes, forms, guard = case
    if guard in (sympy.true, sympy.false):
        return
    record = GuardRecord(guard)
    if record not in implied([record], boxes, forms):
        return
    for d0, d1 in itertools.product(range(boxes["d0"][0], boxes["d0"][1] + 1), range(boxes["d1"][0], boxes["d1"][1] + 1)):
        point = {}
        for name, (atom, c, o) in forms.items():
            point[name] = o if atom is None else c * {"d0": d0, "d1": d1}[atom] + o
        try:
            truth = holds(guard, point)
        except ZeroDivisionError:
            continue
        assert truth, f"{guard} settled but fails at {point} (forms {forms}, boxes {boxes})"


def test_unbounded_boxes_settle_only_what_holds_to_infinity():
    forms = {"s0": ("d", 1, 0), "s1": ("d", 1, 1)}
    lower_only = {"d": (2, math.inf)}
    records = [GuardRecord(g) for g in (s0 >= 2, s1 > s0, s0 <= 10**9, s0 * s1 >= 6, FloorDiv(s0, 2) >= 1)]
    assert {str(r.expr) for r in implied(records, lower_only, forms)} == {"s0 >= 2", "s1 > s0", "s0*s1 >= 6",
                                                                          "FloorDiv(s0, 2) >= 1"}


# --- blame: bisection, one deadline ------------------------------------------------------------------


def _many_guards(n: int, violated: set[int], top: int | None = 100):
    """x: dx in [2, top], y: dy in [2, top]; guard i holds on the whole range but takes z3 to see it
    (neither branch of the ``Or`` always holds), or, for i in ``violated``, fails (``s0*s1 <= 50 + i``)."""
    # the never-true ``s1 >= 1000 + i`` keeps the guards distinct: repeated ones are sent to z3 once
    guards = [sympy.Or(s0 <= 50 + i % 7, s0 >= 40 - i % 5, s1 >= 1000 + i) if i not in violated else s0 * s1 <= 50 + i
              for i in range(n)]
    dims = (root("dx"), root("dy"))
    return guardset((4, 4), guards), spec_of(dims, (4, 4), (RootDim("dx", 2, top), RootDim("dy", 2, top)))


@pytest.mark.parametrize("violated", [set(), {0}, {7}, {3, 40}, {0, 1, 2, 63}])
def test_blame_by_bisection_finds_exactly_the_first_failures(violated):
    gs, spec = _many_guards(64, violated)
    verdict = check(build_problem(gs, spec))
    assert {v.index for v in verdict.violations} == blamed(spec, gs, cap=100)


def test_blame_needs_far_fewer_queries_than_guards(check_queries):
    gs, spec = _many_guards(256, {100})
    problem = build_problem(gs, spec)
    assert not problem.implied  # every guard goes to z3
    verdict = check(problem)
    assert [v.index for v in verdict.violations] == [100]
    assert len(check_queries) <= 4 * math.ceil(math.log2(256)) + 4, len(check_queries)


def test_blame_past_its_budget_is_unknown_never_valid(monkeypatch):
    monkeypatch.setattr(check_module, "BLAME_BUDGET_TIMEOUTS", 0)
    gs, spec = _many_guards(16, {5}, top=None)  # unbounded: too many sizes to decide by evaluation
    verdict = check(build_problem(gs, spec))
    assert verdict.status is Status.UNKNOWN
    assert not verdict.violations and len(verdict.undecided) == len(build_problem(gs, spec).guards)


# --- translation: one translator, cached per GuardSet ------------------------------------------------


def test_translation_is_shared_by_every_spec_checked_against_one_guardset():
    gs = guardset((4, 5), [sympy.Eq(s1, s0 + 1), s0 * s1 <= 4096])
    first = build_problem(gs, spec_of((root("d"), root("d", 1, 1)), (4, 5), (RootDim("d", 2, 63),)))
    second = build_problem(gs, spec_of((root("a"), root("b")), (4, 5), (RootDim("a", 2, 9), RootDim("b", 2, 9))))
    assert translated_guards(gs) is translated_guards(gs)
    assert all(a is b for (_, a), (_, b) in zip(first.guards, second.guards))
    assert first.guards is not second.guards  # each problem owns its list (synthesis swaps it)


def test_caches_follow_the_default_z3_context():
    gs, spec = _many_guards(8, {3})
    expected = [v.index for v in check(build_problem(gs, spec)).violations]
    for _ in range(2):
        with fresh_z3_context():
            problem = build_problem(gs, spec)
            assert all(g.ctx is z3.main_ctx() for _, g in problem.guards)
            assert [v.index for v in check(problem).violations] == expected
    assert [v.index for v in check(build_problem(gs, spec)).violations] == expected


def test_shared_subterms_are_translated_once():
    translator = Translator(z3_int_vars(["s0", "s1"]))
    product = s0 * s1
    a = translator.condition(product <= 64)
    b = translator.condition(sympy.Eq(FloorDiv(product, 2), s1))
    assert a.arg(0).eq(b.arg(0).arg(0))
    assert translator.term(product) is translator.term(s1 * s0)


def test_backed_guards_match_the_guardset_method():
    u = sympy.Symbol("u0", integer=True)
    symbols = (SymbolInfo("s0", (path_of(0),), 4), SymbolInfo("s1", (path_of(1),), 5), SymbolInfo("u0", (), None, False))
    guards = tuple(GuardRecord(g, kind) for g, kind in [
        (s0 <= 8, GuardKind.GUARD), (u >= 0, GuardKind.GUARD), (s0 + u <= 9, GuardKind.RUNTIME_ASSERT),
        (sympy.Eq(s0, s1), GuardKind.DATA_DEPENDENT), (sympy.Eq(s1, s0 + 1), GuardKind.RUNTIME_ASSERT),
        (sympy.true, GuardKind.GUARD),
    ])
    gs = GuardSet(symbols, guards)
    assert tuple(backed_guards(gs)) == gs.backed_guards()


# --- the solver: tactic pipeline, complete models ----------------------------------------------------


def test_models_assign_every_variable_even_those_the_preprocessing_eliminates():
    x, y, z = z3.Ints("x y z")
    solver = make_solver(1000)
    solver.add(y == x + 1, z == 2 * y, x >= 3, z * x > 40)
    assert run(solver) is Outcome.SAT
    model = solver.model()
    values = {v: model.eval(v, model_completion=True).as_long() for v in (x, y, z)}
    assert values[y] == values[x] + 1 and values[z] == 2 * values[y] and values[z] * values[x] > 40


def test_push_pop_queries_are_independent():
    x = z3.Int("x")
    solver = make_solver(1000)
    solver.add(x >= 2)
    solver.push()
    solver.add(x < 2)
    assert run(solver) is Outcome.UNSAT
    solver.pop()
    assert run(solver) is Outcome.SAT


# --- the range search: counterexample-guided ---------------------------------------------------------


@given(st.integers(-50, 50), st.integers(0, 300), st.booleans(), st.one_of(st.none(), st.integers(0, 400)),
       st.integers(0, 5))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_refuted_probes_give_the_same_bound_as_plain_ones(start, reach, up, limit_off, witness_off):
    edge = start + reach if up else start - reach  # the last bound that holds
    limit = None if limit_off is None else (start + limit_off if up else start - limit_off)

    def holds_at(b):
        if b is None:
            return False
        return b <= edge if up else b >= edge

    def plain(b):
        return holds_at(b)

    def refuting(b):
        if holds_at(b):
            return True
        first_bad = edge + 1 if up else edge - 1
        at = first_bad + witness_off if up else first_bad - witness_off  # some failing value in the range
        inside = b is None or (at <= b if up else at >= b)
        return Refuted(at) if inside else False

    assert widest_bound(start, limit, up, refuting) == widest_bound(start, limit, up, plain)


def test_an_exact_counterexample_ends_the_search_in_two_probes():
    probes = []

    def ok(bound):
        probes.append(bound)
        return True if bound is not None and bound <= 512 else Refuted(513)

    assert widest_bound(6, None, True, ok) == 512
    assert probes == [None, 512]
