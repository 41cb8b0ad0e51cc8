import itertools
import math
import sys
import time

import pytest
import sympy
import z3
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, Outcome, check, make_solver
from dimsolve.solver.translate import Unsupported, to_z3, to_z3_bool, z3_int_vars

X, Y, Z = sympy.symbols("x y z", integer=True)
ENV = z3_int_vars(["x", "y", "z"])


def z3_value(zexpr, point):
    ground = z3.simplify(z3.substitute(zexpr, *[(ENV[k], z3.IntVal(v)) for k, v in point.items()]))
    if z3.is_true(ground) or z3.is_false(ground):
        return z3.is_true(ground)
    assert z3.is_int_value(ground), ground
    return ground.as_long()


def sympy_value(expr, point):
    value = expr.xreplace({sympy.Symbol(k, integer=True): sympy.Integer(v) for k, v in point.items()})
    if value is sympy.true or value is sympy.false:
        return bool(value)
    assert isinstance(value, sympy.Integer), value
    return int(value)


def test_module_does_not_import_torch():
    import subprocess

    code = "import dimsolve.solver.translate, dimsolve.solver.budget, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_z3_int_vars():
    env = z3_int_vars(["s0", "s1"])
    assert set(env) == {"s0", "s1"}
    assert env["s0"].eq(z3.Int("s0"))


# --- division semantics: Python's, for every sign ------------------------------------------------

# recognised by class *name*: an undefined sympy function called FloorDiv stands in for torch's
FloorDiv, PythonMod, CeilDiv, Mod = (sympy.Function(n) for n in ("FloorDiv", "PythonMod", "CeilDiv", "Mod"))
PAIRS = [(a, b) for a, b in itertools.product(range(-7, 8), [-3, -2, -1, 1, 2, 3]) if b]

DIVISION = [
    pytest.param(FloorDiv, lambda a, b: a // b, id="floordiv"),
    pytest.param(PythonMod, lambda a, b: a % b, id="pythonmod"),
    pytest.param(Mod, lambda a, b: a % b, id="mod"),
    pytest.param(CeilDiv, lambda a, b: -(-a // b), id="ceildiv"),
]


@pytest.mark.parametrize("constant_divisor", [True, False], ids=["const-divisor", "symbolic-divisor"])
@pytest.mark.parametrize("fn, python", DIVISION)
def test_division_matches_python(fn, python, constant_divisor):
    for a, b in PAIRS:
        expr = fn(X, b) if constant_divisor else fn(X, Y)
        assert z3_value(to_z3(expr, ENV), {"x": a, "y": b}) == python(a, b), (a, b)


def test_trunc_of_true_division_rounds_to_zero():
    expr = sympy.Function("TruncToInt")(sympy.Function("IntTrueDiv")(X, Y))
    for a, b in PAIRS:
        assert z3_value(to_z3(expr, ENV), {"x": a, "y": b}) == math.trunc(a / b), (a, b)


# --- a table of translations ---------------------------------------------------------------------

F = pytest.importorskip("torch.utils._sympy.functions")

CASES = [
    pytest.param(sympy.Eq(2 * X, Y), {"x": 3, "y": 6}, True, id="eq"),
    pytest.param(sympy.Ne(X, Y), {"x": 3, "y": 3}, False, id="ne"),
    pytest.param(X < Y, {"x": 3, "y": 3}, False, id="lt"),
    pytest.param(X <= Y, {"x": 3, "y": 3}, True, id="le"),
    pytest.param(X > Y, {"x": 4, "y": 3}, True, id="gt"),
    pytest.param(X >= Y, {"x": 2, "y": 3}, False, id="ge"),
    pytest.param(sympy.And(X > 1, Y > 1), {"x": 2, "y": 1}, False, id="and"),
    pytest.param(sympy.Or(X > 1, Y > 1), {"x": 2, "y": 1}, True, id="or"),
    pytest.param(sympy.Not(sympy.Eq(F.Mod(X, 3), 0) & (Y > 0)), {"x": 6, "y": 1}, False, id="not"),
    pytest.param(sympy.Implies(X > 1, Y > 1), {"x": 0, "y": 0}, True, id="implies"),
    pytest.param(sympy.true, {}, True, id="true"),
    pytest.param(sympy.false, {}, False, id="false"),
    pytest.param((X + 1) ** 3, {"x": 2}, 27, id="pow"),
    pytest.param(F.PowByNatural(X, 2), {"x": -3}, 9, id="pow-by-natural"),
    pytest.param(F.FloorDiv(X, -3), {"x": 7}, -3, id="floordiv-neg-const"),
    pytest.param(F.FloorDiv(X + 1, Y), {"x": -8, "y": 3}, -3, id="floordiv-sym"),
    pytest.param(F.CleanDiv(X, 4), {"x": 12}, 3, id="cleandiv"),
    pytest.param(F.CeilDiv(X, 4), {"x": 13}, 4, id="ceildiv"),
    pytest.param(F.PythonMod(X, -3), {"x": 7}, -2, id="pythonmod-neg"),
    pytest.param(F.Mod(X, 5), {"x": 13}, 3, id="mod"),
    pytest.param(F.Min(X, Y, 5), {"x": 7, "y": 6}, 5, id="min"),
    pytest.param(F.Max(X, Y, -5), {"x": -7, "y": -6}, -5, id="max"),
    pytest.param(sympy.Abs(X), {"x": -4}, 4, id="abs"),
    pytest.param(sympy.floor(X / 3), {"x": -7}, -3, id="floor"),
    pytest.param(sympy.ceiling((X + 1) / 2), {"x": 4}, 3, id="ceiling"),
    pytest.param(F.FloorToInt(F.IntTrueDiv(X, Y)), {"x": -7, "y": 2}, -4, id="floor-to-int"),
    pytest.param(F.CeilToInt(F.IntTrueDiv(X, Y)), {"x": -7, "y": 2}, -3, id="ceil-to-int"),
    pytest.param(F.TruncToInt(F.IntTrueDiv(X, Y)), {"x": -7, "y": 2}, -3, id="trunc-to-int"),
    pytest.param(F.ModularIndexing(X, 2, 4), {"x": 13}, 2, id="modular-indexing"),
    pytest.param(F.Where(X > 0, X, -X), {"x": -3}, 3, id="where"),
    pytest.param(F.Identity(X + 1), {"x": 1}, 2, id="identity"),
]


@pytest.mark.parametrize("expr, point, expected", CASES)
def test_translation(expr, point, expected):
    assert z3_value(to_z3(expr, ENV), point) == expected


UNSUPPORTED = [
    pytest.param(X / 2, "1/2", "integer constants", id="rational"),
    pytest.param(sympy.Rational(3, 2) * X + 1, "3/2", "integer constants", id="rational-coefficient"),
    pytest.param(sympy.Symbol("q", integer=True) + 1, "q", "unknown symbol", id="unknown-symbol"),
    pytest.param(sympy.sin(X) + 1, "sin(x)", "no translation for sin", id="sin"),
    pytest.param(2**X, "2**x", "exponent", id="symbolic-exponent"),
    pytest.param(X**-2 + 1, "x**(-2)", "exponent", id="negative-exponent"),
    pytest.param(X**65, "x**65", "exponent", id="huge-exponent"),
    pytest.param(F.IntTrueDiv(X, Y) > 1, "IntTrueDiv(x, y)", "true division", id="bare-true-division"),
    pytest.param(sympy.floor(X / Y), "floor(x/y)", "integer constant", id="floor-symbolic-denominator"),
    pytest.param(sympy.Function("FloorDiv")(X, 0), "FloorDiv(x, 0)", "division by zero", id="div-by-zero"),
    pytest.param(sympy.Piecewise((1, X > 0), (2, True)), "Piecewise", "no translation", id="piecewise"),
    pytest.param(F.ToFloat(X) ** 3 > 1, "ToFloat(x)**3", "C library's pow", id="float-power"),
    pytest.param(F.TruncToInt(F.OpaqueUnaryFn_sqrt(F.ToFloat(X))), "OpaqueUnaryFn_sqrt", "C library", id="libm"),
    pytest.param(F.IntTrueDiv(X, 3) + 1 > 1, "IntTrueDiv(x, 3)", "under a rounding", id="unrounded-division"),
    pytest.param(sympy.oo + X, "oo", "integer constants", id="infinity"),
    pytest.param(sympy.And(X > 1, X), "x", "condition", id="int-in-and"),
]


@pytest.mark.parametrize("expr, offending, reason", UNSUPPORTED)
def test_unsupported_is_explicit(expr, offending, reason):
    with pytest.raises(Unsupported) as info:
        to_z3(expr, ENV)
    assert offending in info.value.expr_text
    assert reason in info.value.reason


def test_to_z3_bool_refuses_a_number():
    with pytest.raises(Unsupported, match="expected a condition"):
        to_z3_bool(X + 1, ENV)
    assert z3.is_bool(to_z3_bool(X > 1, ENV))


# --- property: z3 agrees with sympy on random expressions and points -----------------------------


def _apply(fn, *args):
    try:
        return fn(*args)
    except (ZeroDivisionError, AssertionError):
        assume(False)


@st.composite
def numeric_exprs(draw, depth=3):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(st.sampled_from([X, Y, Z]), st.integers(-6, 6).map(sympy.Integer)))
    a, b = draw(numeric_exprs(depth - 1)), draw(numeric_exprs(depth - 1))
    c = sympy.Integer(draw(st.sampled_from([-4, -3, -2, 2, 3, 4, 5])))
    op = draw(st.sampled_from(["add", "mul", "neg", "floordiv", "floordiv_sym", "mod", "pymod", "pymod_sym", "min"]))
    return {
        "add": lambda: a + b,
        "mul": lambda: a * b,
        "neg": lambda: c - a,
        "floordiv": lambda: _apply(F.FloorDiv, a, c),
        "floordiv_sym": lambda: _apply(F.FloorDiv, a, b),
        "mod": lambda: _apply(F.Mod, a, abs(c)),
        "pymod": lambda: _apply(F.PythonMod, a, c),
        "pymod_sym": lambda: _apply(F.PythonMod, a, b),
        "min": lambda: (F.Min if draw(st.booleans()) else F.Max)(a, b),
    }[op]()


@st.composite
def conditions(draw, depth=2):
    if depth == 0 or draw(st.booleans()):
        rel = draw(st.sampled_from([sympy.Eq, sympy.Ne, sympy.Lt, sympy.Le, sympy.Gt, sympy.Ge]))
        return rel(draw(numeric_exprs(2)), draw(numeric_exprs(2)))
    a, b = draw(conditions(depth - 1)), draw(conditions(depth - 1))
    return draw(st.sampled_from([sympy.And(a, b), sympy.Or(a, b), sympy.Not(a)]))


points = st.fixed_dictionaries({n: st.integers(-8, 12) for n in "xyz"})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.one_of(numeric_exprs(), conditions()), points)
def test_z3_agrees_with_sympy_at_random_points(expr, point):
    try:
        expected = sympy_value(expr, point)
    except (ZeroDivisionError, AssertionError):  # x // 0, or torch's Mod on a negative value
        assume(False)
    assert z3_value(to_z3(expr, ENV), point) == expected, (expr, point)


@settings(max_examples=200, deadline=None)
@given(st.integers(-50, 50), st.integers(-9, 9).filter(bool), st.booleans())
def test_floordiv_and_mod_match_python(a, b, symbolic):
    divisor = Y if symbolic else sympy.Integer(b)
    point = {"x": a, "y": b}
    assert z3_value(to_z3(F.FloorDiv(X, divisor), ENV), point) == a // b
    assert z3_value(to_z3(F.PythonMod(X, divisor), ENV), point) == a % b


# --- budget --------------------------------------------------------------------------------------


def test_make_solver_and_check():
    solver = make_solver()
    x = ENV["x"]
    solver.add(x > 2, x < 4)
    assert check(solver) is Outcome.SAT
    assert check(solver, x > 3) is Outcome.UNSAT
    assert DEFAULT_TIMEOUT_MS == 2000


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "100"])
def test_make_solver_rejects_bad_timeouts(bad):
    with pytest.raises(ValueError):
        make_solver(bad)


class _StubSolver:
    def __init__(self, result):
        self.result = result

    def check(self, *assumptions):
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.mark.parametrize(
    "result", [pytest.param(z3.unknown, id="unknown"), pytest.param(z3.Z3Exception("canceled"), id="z3-error")]
)
def test_check_never_raises_on_unknown(result):
    assert check(_StubSolver(result)) is Outcome.UNKNOWN


def test_timeout_bounds_a_hard_query():
    a, b, c = z3.Ints("a b c")
    solver = make_solver(10)
    solver.add(a > 1, b > 1, c > 1, a * a * a + b * b * b == c * c * c + 3 * a * b * c + 12345)
    start = time.perf_counter()
    outcome = check(solver)
    assert time.perf_counter() - start < 2.0
    assert isinstance(outcome, Outcome)
