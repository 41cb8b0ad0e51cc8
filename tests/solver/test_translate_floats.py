"""torch's float and rounding functions in z3, against Python's own evaluation (what torch runs)."""

import inspect
import math

import pytest
import sympy
import z3
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dimsolve.solver import floats
from dimsolve.solver.budget import Outcome, check, make_solver
from dimsolve.solver.pyeval import compiled
from dimsolve.solver.translate import REFUSED_FUNCTIONS, TRANSLATED_FUNCTIONS, Unsupported, to_z3, to_z3_bool, z3_int_vars

F = pytest.importorskip("torch.utils._sympy.functions")

S, T = sympy.symbols("s t", integer=True)
ENV = z3_int_vars(["s", "t"])


def _z3_value(expr, point):
    term = to_z3(expr, ENV)
    ground = z3.simplify(z3.substitute(term, *[(ENV[k], z3.IntVal(v)) for k, v in point.items()]))
    if z3.is_true(ground) or z3.is_false(ground):
        return z3.is_true(ground)
    return ground.as_long()


# --- every function torch defines is translated or refused by name --------------------------------


def _torch_function_classes():
    return sorted(name for name, obj in vars(F).items()
                  if inspect.isclass(obj) and issubclass(obj, sympy.Basic) and obj.__module__ == F.__name__)


def test_every_torch_function_is_translated_or_refused():
    unlisted = [n for n in _torch_function_classes() if n not in TRANSLATED_FUNCTIONS and n not in REFUSED_FUNCTIONS]
    assert not unlisted, f"torch defines sympy functions dimsolve neither translates nor refuses: {unlisted}"


def test_no_name_is_both_translated_and_refused():
    assert not TRANSLATED_FUNCTIONS & set(REFUSED_FUNCTIONS)


def test_every_refusal_has_a_reason():
    assert all(reason.strip() for reason in REFUSED_FUNCTIONS.values())


@pytest.mark.parametrize("expr, name", [
    pytest.param(F.FloatPow(F.ToFloat(S), sympy.Float(0.5)) > 1, "FloatPow", id="float-pow"),
    pytest.param(F.OpaqueUnaryFn_log2(F.ToFloat(S)) > 1, "OpaqueUnaryFn_log2", id="log2"),
    pytest.param(F.RoundDecimal(F.ToFloat(S), 2) > 1, "RoundDecimal", id="round-decimal"),
    pytest.param(sympy.Eq(F.BitwiseFn_bitwise_and(S, T), 0), "BitwiseFn_bitwise_and", id="bitwise"),
])
def test_refused_functions_give_their_reason(expr, name):
    with pytest.raises(Unsupported) as info:
        to_z3_bool(expr, ENV)
    assert info.value.reason == REFUSED_FUNCTIONS[name]
    assert name in info.value.expr_text


# --- the values torch computes -------------------------------------------------------------------

HALF, TENTH, POINT3, POINT7 = (sympy.Float(v) for v in (0.5, 0.1, 0.3, 0.7))
BIG = [2**53 - 1, 2**53 + 1, 2**60 + 3, 2**62 + 12345]

VALUES = [
    pytest.param(F.TruncToInt(HALF * F.ToFloat(S)), lambda s: math.trunc(0.5 * float(s)), BIG, id="trunc-half"),
    pytest.param(F.TruncToInt(POINT3 * F.ToFloat(S)), lambda s: math.trunc(0.3 * float(s)), BIG, id="trunc-0.3"),
    pytest.param(F.FloorToInt(POINT7 * F.ToFloat(S)), lambda s: math.floor(0.7 * float(s)), BIG, id="floor-0.7"),
    pytest.param(F.CeilToInt(TENTH * F.ToFloat(S)), lambda s: math.ceil(0.1 * float(s)), BIG, id="ceil-0.1"),
    pytest.param(F.RoundToInt(HALF * F.ToFloat(S)), lambda s: round(0.5 * float(s)), BIG, id="round-half-even"),
    pytest.param(F.TruncToInt(F.ToFloat(S) + HALF), lambda s: math.trunc(float(s) + 0.5), BIG, id="add"),
    pytest.param(F.TruncToInt(F.ToFloat(S) * F.ToFloat(T)), lambda s, t=7: math.trunc(float(s) * float(t)), BIG,
                 id="product"),
    pytest.param(F.FloorToInt(F.IntTrueDiv(S, 3)), lambda s: math.floor(s / 3), [], id="floor-int-true-div"),
    pytest.param(F.CeilToInt(F.IntTrueDiv(S, -4)), lambda s: math.ceil(s / -4), BIG, id="ceil-by-power-of-two"),
    pytest.param(F.RoundToInt(F.IntTrueDiv(S, 6)), lambda s: round(s / 6), [], id="round-int-true-div"),
    pytest.param(F.TruncToInt(F.FloatTrueDiv(F.ToFloat(S), sympy.Float(3.0))), lambda s: math.trunc(float(s) / 3.0),
                 [], id="trunc-float-true-div"),
    pytest.param(F.TruncToInt(F.FloatTrueDiv(F.ToFloat(S), sympy.Float(0.25))), lambda s: math.trunc(float(s) / 0.25),
                 BIG, id="divide-by-power-of-two"),
    pytest.param(F.TruncToInt(F.TruncToFloat(POINT7 * F.ToFloat(S)) * HALF),
                 lambda s: math.trunc(float(math.trunc(0.7 * float(s))) * 0.5), BIG, id="trunc-to-float"),
    pytest.param(F.TruncToInt(F.Max(HALF * F.ToFloat(S), sympy.Float(3.0))), lambda s: math.trunc(max(0.5 * s, 3.0)),
                 BIG, id="max-of-floats"),
    pytest.param(F.TruncToInt(F.Where(S > 4, HALF * F.ToFloat(S), TENTH)),
                 lambda s: math.trunc(0.5 * s if s > 4 else 0.1), BIG, id="where-floats"),
    pytest.param(sympy.Eq(F.ToFloat(S), S), lambda s: float(s) == s, BIG, id="int-float-compare-exact"),
    pytest.param(POINT3 * F.ToFloat(S) < 2, lambda s: 0.3 * float(s) < 2, BIG, id="float-lt-int"),
    pytest.param(F.LShift(S, 3), lambda s: s << 3, BIG, id="lshift"),
    pytest.param(F.RShift(S, 2), lambda s: s >> 2, BIG, id="rshift"),
]


@pytest.mark.parametrize("expr, python, far", VALUES)
def test_translation_matches_python(expr, python, far):
    points = list(range(-12, 40)) + far
    fn = compiled(expr)
    assert fn is not None
    for s in points:
        expected = python(s)
        point = {"s": s, "t": 7}
        assert _z3_value(expr, point) == expected, (expr, s)
        assert fn(point) == expected, (expr, s)


def test_float_guard_is_decided_fast():
    guard = F.TruncToInt(HALF * F.ToFloat(S)) >= 2  # F.interpolate(x, scale_factor=0.5)
    solver = make_solver(2000)
    solver.add(ENV["s"] >= 4, z3.Not(to_z3_bool(guard, ENV)))
    assert check(solver) is Outcome.UNSAT
    solver = make_solver(2000)
    solver.add(ENV["s"] >= 2, z3.Not(to_z3_bool(guard, ENV)))
    assert check(solver) is Outcome.SAT and solver.model()[ENV["s"]].as_long() in (2, 3)


# --- property: z3's verdict on a small box is brute force's ------------------------------------

CONSTANTS = [0.5, 0.25, 1.5, 2.0, 0.3, 0.7, 0.1, 1 / 3]


@st.composite
def float_terms(draw, depth=2):
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return F.ToFloat(S) if draw(st.booleans()) else sympy.Float(draw(st.sampled_from(CONSTANTS)))
    a, b = draw(float_terms(depth - 1)), draw(float_terms(depth - 1))
    op = draw(st.sampled_from(["add", "mul", "div"]))
    if op == "div":
        assume(b.free_symbols or float(b) != 0)
        return F.FloatTrueDiv(a, b)
    return a + b if op == "add" else a * b


@st.composite
def float_guards(draw):
    rounding = draw(st.sampled_from([F.TruncToInt, F.FloorToInt, F.CeilToInt, F.RoundToInt]))
    inner = draw(float_terms())
    assume(inner.free_symbols)
    value = rounding(inner)
    relation = draw(st.sampled_from([sympy.Eq, sympy.Ne, sympy.Le, sympy.Ge, sympy.Lt, sympy.Gt]))
    other = draw(st.one_of(st.integers(-3, 40).map(sympy.Integer), st.just(S), st.just(F.FloorDiv(S, 2))))
    return relation(value, other)


def _python_holds(fn, s):
    try:
        return bool(fn({"s": s}))
    except ZeroDivisionError:
        return None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(float_guards(), st.integers(2, 60), st.integers(0, 40))
def test_z3_verdict_matches_brute_force(guard, lo, width):
    assume(isinstance(guard, sympy.Basic) and guard not in (sympy.true, sympy.false))
    fn = compiled(guard)
    assume(fn is not None)
    box = range(lo, lo + width + 1)
    truths = [_python_holds(fn, s) for s in box]
    assume(None not in truths)  # a division by zero inside the box: torch would raise, not decide
    try:
        term = to_z3_bool(guard, ENV)
    except Unsupported as exc:  # only a true division used unrounded, or a power, may be refused
        assert "true division" in exc.reason or "pow" in exc.reason
        return
    solver = make_solver(5000)
    solver.add(ENV["s"] >= lo, ENV["s"] <= lo + width, z3.Not(term))
    outcome = check(solver)
    assume(outcome is not Outcome.UNKNOWN)
    assert (outcome is Outcome.UNSAT) == all(truths), guard
    if outcome is Outcome.SAT:
        witness = solver.model()[ENV["s"]].as_long()
        assert not _python_holds(fn, witness), (guard, witness)


def test_a_quotient_just_below_an_integer_rounds_through_its_double():
    # 0.7*7.0 is 4.8999999999999995; divided by 0.7 that is 6.99999999999999968... exactly, whose
    # nearest double is 7.0: torch's TruncToInt gives 7, so the guard holds at s = 7 (not at 6)
    guard = sympy.Eq(F.TruncToInt(F.FloatTrueDiv(sympy.Float(0.7) * F.ToFloat(S), sympy.Float(0.7))), S)
    fn = compiled(guard)
    term = to_z3_bool(guard, ENV)
    for s, holds in ((7, True), (6, False)):
        assert _python_holds(fn, s) is holds
        solver = make_solver(5000)
        solver.add(ENV["s"] == s, z3.Not(term))
        assert check(solver) is (Outcome.UNSAT if holds else Outcome.SAT), s


@pytest.mark.parametrize("rounding, python", [(floats.quotient_floor, math.floor), (floats.quotient_ceil, math.ceil),
                                              (floats.quotient_trunc, math.trunc), (floats.quotient_round, round)])
def test_quotient_roundings_are_those_of_pythons_true_division(rounding, python):
    n, d = z3.Int("n"), z3.Int("d")
    term = rounding(floats.Quotient(n, d, 64))
    pairs = [(k * den + e, den) for den in (3, 7, 10, -7, 2**40 + 1, 3**30) for k in (0, 1, 5, -5, 2**20, 2**45)
             for e in (-1, 0, 1)] + [(2**60 + 1, 3), (-(2**61) - 5, 7), (1, 2), (-1, 2), (3, 2), (5, -2)]
    for num, den in pairs:
        got = z3.simplify(z3.substitute(term, (n, z3.IntVal(num)), (d, z3.IntVal(den)))).as_long()
        assert got == python(num / den), (num, den)
