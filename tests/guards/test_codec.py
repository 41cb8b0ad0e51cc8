import time

import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dimsolve.guards.codec import FUNCTION_NAMES, CodecError, format_expr, parse_expr
from dimsolve.guards.model import SymbolInfo

F = pytest.importorskip("torch.utils._sympy.functions")

X, Y, Z = sympy.symbols("x y z", integer=True)


def torch_symbols(*names):
    """Symbols the way torch's ShapeEnv makes input sizes."""
    return {n: sympy.Symbol(n, integer=True, positive=True) for n in names}


# str() of guards torch 2.13 logged while exporting small models with Dim.AUTO
TORCH_PRINTED = [
    pytest.param("Eq(s27, s94)", id="eq"),
    pytest.param("s77 > 4", id="gt-const"),
    pytest.param("s0 <= 512", id="le-const"),
    pytest.param("Eq(2*s77, s94)", id="eq-scaled"),
    pytest.param("Eq(Mod(s77, 2), 0)", id="mod"),
    pytest.param("Eq((s0//2), s1)", id="floordiv"),
    pytest.param("8*((s77//2)) <= 4*s77", id="floordiv-scaled"),
    pytest.param("((s77//2)) <= s17", id="floordiv-double-paren"),
    pytest.param("Eq(Mod(s77 + (PythonMod(-s77, 3)), 3), 0)", id="pythonmod-in-mod"),
    pytest.param("Ne(((s77 + (PythonMod(-s77, 3)))//3), 0)", id="pythonmod-in-floordiv"),
    pytest.param("Ne(3*(((s77 + (PythonMod(-s77, 3)))//3)), 0)", id="scaled-floordiv-ne"),
    pytest.param(
        "12*(((s77 + (PythonMod(-s77, 3)))//3)) <= 4*s77 + 4*(PythonMod(-s77, 3))", id="pythonmod-both-sides"
    ),
    pytest.param("s17*s77 > 64", id="product"),
    pytest.param("Eq(s77, 4) | Eq(Mod(s77, 4), 0)", id="or"),
    pytest.param("Eq(s77, 4*((s77//4)))", id="divisible"),
    pytest.param("12*(((s17 + 2)//3)) - 8 <= 4*s17", id="ceil-form"),
    pytest.param("(s0 > 2) & Ne(s0, s1)", id="and"),
    pytest.param("(s0 > 5) | (s0 < 3)", id="or-infix"),
    pytest.param("~((s0 > 2) & Ne(s0, s1))", id="not-and"),
    pytest.param("Max(3, s0) <= Min(64, s1)", id="min-max"),
    pytest.param("s0**2 >= s1 + 1", id="pow"),
]


@pytest.mark.parametrize("text", TORCH_PRINTED)
def test_reads_torch_printed_guards(text):
    symbols = torch_symbols("s0", "s1", "s17", "s27", "s77", "s94")
    expr = parse_expr(text, symbols=symbols)
    assert str(expr) == text  # torch's printer gives the same text back: same tree
    assert parse_expr(format_expr(expr), symbols=symbols) == expr


CANONICAL = [
    pytest.param("Eq((s0//2), s1)", "Eq(FloorDiv(s0, 2), s1)", id="floordiv-as-call"),
    pytest.param("(s0 > 2) & Ne(s0, s1)", "And(s0 > 2, Ne(s0, s1))", id="and-as-call"),
    pytest.param("~(s0 > 2)", "s0 <= 2", id="not-folds"),
    pytest.param("x - 5", "x - 5", id="minus-const"),
    pytest.param("-x*y - 2*z**2 + (x + y)**3", "-x*y - 2*z**2 + (x + y)**3", id="polynomial"),
    pytest.param("x*(-y)", "-x*y", id="neg-factor"),
    pytest.param("x // 2 * 3", "3*FloorDiv(x, 2)", id="left-assoc-term"),
    pytest.param("x * 3 // 2", "FloorDiv(3*x, 2)", id="mul-then-div"),
    pytest.param("2**10", "1024", id="const-pow"),
    pytest.param("-2**2", "-4", id="unary-below-pow"),
    pytest.param("CeilDiv(x, 4)", "FloorDiv(x + 3, 4)", id="ceildiv-evaluates"),
    pytest.param("CleanDiv(x, 4)", "CleanDiv(x, 4)", id="cleandiv-kept"),
    pytest.param("Where(x > 1, 2, y)", "Where(x > 1, 2, y)", id="where"),
    pytest.param("TruncToInt(IntTrueDiv(x, y))", "TruncToInt(IntTrueDiv(x, y))", id="trunc"),
    pytest.param("Abs(x) + floor(x)", "x + Abs(x)", id="floor-of-int"),
    pytest.param("True & (x > 1)", "x > 1", id="true"),
    pytest.param("  x\t+\n1 ", "x + 1", id="whitespace"),
    pytest.param("2 < x", "2 < x", id="const-on-left-kept"),
    pytest.param("x == y", "Eq(x, y)", id="eq-infix"),
    pytest.param("x != y", "Ne(x, y)", id="ne-infix"),
]


@pytest.mark.parametrize("text, canonical", CANONICAL)
def test_canonical_text(text, canonical):
    expr = parse_expr(text)
    assert format_expr(expr) == canonical
    assert parse_expr(canonical) == expr


def test_default_symbols_match_the_guard_model():
    assert parse_expr("s0") == SymbolInfo("s0", (), 4).sympy()


def test_callers_symbols_are_used():
    s0 = sympy.Symbol("s0", integer=True, positive=True)
    expr = parse_expr("s0 + u0", symbols={"s0": s0})
    assert s0 in expr.free_symbols
    assert sympy.Symbol("u0", integer=True) in expr.free_symbols


def test_function_names_are_the_documented_set():
    assert {"Eq", "FloorDiv", "CeilDiv", "Mod", "PythonMod", "CleanDiv", "Min", "Max", "And", "Not"} <= FUNCTION_NAMES


HOSTILE = [
    pytest.param("__import__('os')", "strings are not supported", id="dunder-import"),
    pytest.param("__import__(os)", "unknown function '__import__'", id="dunder-call"),
    pytest.param("__import__", "'__'", id="dunder-name"),
    pytest.param("a.b", "attribute", id="attribute"),
    pytest.param("x[0]", "subscript", id="subscript"),
    pytest.param("'x'", "string", id="string"),
    pytest.param("lambda: 1", "not supported", id="lambda"),
    pytest.param("x if y else z", "after a complete expression", id="ternary"),
    pytest.param("x and y", "after a complete expression", id="and-keyword"),
    pytest.param("not x", "use '&', '|' and '~'", id="not-keyword"),
    pytest.param("(" * 10_000 + "x" + ")" * 10_000, "nested more than 64", id="deep-parens"),
    pytest.param("-" * 10_000 + "x", "nested more than 64", id="deep-unary"),
    pytest.param("Max(" * 1_000 + "x" + ")" * 1_000, "nested more than 64", id="deep-calls"),
    pytest.param("10**400", "exponent", id="huge-power"),
    pytest.param("1" + "0" * 400, "too large", id="huge-literal"),
    pytest.param("10**30 * 10**30", "too large", id="huge-product"),
    pytest.param("2**x", "exponent", id="symbolic-exponent"),
    pytest.param("x**-1", "exponent", id="negative-exponent"),
    pytest.param("", "empty", id="empty"),
    pytest.param("   ", "empty", id="blank"),
    pytest.param("s₀ + 1", "ASCII", id="unicode-subscript"),
    pytest.param("ｘ", "ASCII", id="fullwidth"),
    pytest.param("x / 2", "true division", id="true-division"),
    pytest.param("x % 2", "Mod", id="percent"),
    pytest.param("1.5", "decimal", id="float"),
    pytest.param("x = 1", "assignment", id="assign"),
    pytest.param("foo(x)", "unknown function 'foo'", id="unknown-function"),
    pytest.param("Eq(x)", "takes 2", id="arity"),
    pytest.param("Eq", "is a function", id="bare-function-name"),
    pytest.param("x + (y > 1)", "needs a number", id="bool-in-arith"),
    pytest.param("x & y", "needs a condition", id="bitand-on-ints"),
    pytest.param("And(x, y > 1)", "must be a condition", id="int-in-and"),
    pytest.param("x < y < z", "chained", id="chained"),
    pytest.param("FloorDiv(x, 0)", "ZeroDivisionError", id="div-by-zero"),
    pytest.param("Mod(-1, 3)", "cannot evaluate Mod", id="torch-assertion"),
    pytest.param("x y", "after a complete expression", id="juxtaposition"),
    pytest.param("(x", "expected ')'", id="unclosed"),
    pytest.param("Max(x,)", "unexpected ')'", id="trailing-comma"),
    pytest.param("int_oo", "not supported", id="int-oo"),
    pytest.param("None", "not supported", id="none"),
]


@pytest.mark.parametrize("text, message", HOSTILE)
def test_rejects_hostile_input_quickly(text, message):
    start = time.perf_counter()
    with pytest.raises(CodecError) as info:
        parse_expr(text)
    assert time.perf_counter() - start < 1.0
    assert message in str(info.value)


def test_error_carries_position():
    with pytest.raises(CodecError) as info:
        parse_expr("x + y.z")
    assert info.value.position == 5
    assert info.value.message.startswith("unexpected '.'")


def test_length_limit():
    with pytest.raises(CodecError, match="limit is 10"):
        parse_expr("x + 1 + 2 + 3", max_len=10)


def test_non_string_input():
    with pytest.raises(CodecError, match="expected a string"):
        parse_expr(b"x")  # type: ignore[arg-type]


UNWRITABLE = [
    pytest.param(X / 2, id="rational"),
    pytest.param(sympy.Float(1.5) * X, id="float"),
    pytest.param(2**X, id="symbolic-power"),
    pytest.param(1 / X, id="negative-power"),
    pytest.param(sympy.sin(X), id="unknown-function"),
    pytest.param(sympy.Symbol("a.b", integer=True), id="bad-name"),
    pytest.param(sympy.Symbol("Eq", integer=True), id="function-name"),
    pytest.param(sympy.Eq(sympy.Symbol("b") > 1, True, evaluate=False), id="eq-of-conditions"),
    pytest.param(sympy.Integer(10**31), id="huge-integer"),
]


@pytest.mark.parametrize("expr", UNWRITABLE)
def test_format_refuses_what_parse_cannot_read(expr):
    with pytest.raises(CodecError):
        format_expr(expr)


# --- real guards from torch.export -------------------------------------------------------------


def _collect_torch_guards():
    import torch
    from torch.export import Dim, export
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    class Add(torch.nn.Module):
        def forward(self, x, y):
            return x + y

    class Branch(torch.nn.Module):
        def forward(self, x, y):
            z = x.reshape(-1, 2) if x.shape[0] > 4 else x.reshape(-1, 2) * 2
            return z.sum() + y[: x.shape[0] // 2].sum()

    class Pad(torch.nn.Module):
        def forward(self, x, y):
            a = torch.nn.functional.pad(x, (0, (-x.shape[-1]) % 3))
            return a.view(-1, 3).sum() + torch.cat([x, y]).sum()

    class Product(torch.nn.Module):
        def forward(self, x, y):
            if x.shape[0] * y.shape[0] > 64:
                return x.unflatten(0, (-1, 4)).sum() + y[::3].sum()
            return x.sum()

    cases = [
        (Add(), (torch.randn(3, 4), torch.randn(3, 4))),
        (Branch(), (torch.randn(8), torch.randn(6))),
        (Pad(), (torch.randn(7), torch.randn(5))),
        (Product(), (torch.randn(12), torch.randn(9))),
    ]
    seen = []
    original = ShapeEnv._log_guard

    def hook(self, prefix, g, forcing_spec):
        seen.append(g)
        return original(self, prefix, g, forcing_spec)

    ShapeEnv._log_guard = hook
    try:
        for model, args in cases:
            export(model, args, dynamic_shapes=tuple({i: Dim.AUTO for i in range(a.dim())} for a in args))
    finally:
        ShapeEnv._log_guard = original
    return seen


@pytest.fixture(scope="module")
def torch_guards():
    return _collect_torch_guards()


@pytest.mark.torch
def test_round_trips_guards_torch_emits(torch_guards):
    assert len(torch_guards) >= 10
    for guard in torch_guards:
        symbols = {s.name: s for s in guard.free_symbols}
        assert parse_expr(format_expr(guard), symbols=symbols) == guard
        if not guard.atoms(F.CleanDiv):  # CleanDiv prints as '//' like FloorDiv
            assert parse_expr(str(guard), symbols=symbols) == guard


# --- properties --------------------------------------------------------------------------------

SYMBOLS = (X, Y, Z)


def _apply(fn, *args):
    try:
        return fn(*args)
    except (ZeroDivisionError, AssertionError):
        assume(False)


@st.composite
def numeric_exprs(draw, depth=3):
    leaf = st.one_of(st.sampled_from(SYMBOLS), st.integers(-6, 6).map(sympy.Integer))
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(leaf)
    a = draw(numeric_exprs(depth - 1))
    b = draw(numeric_exprs(depth - 1))
    divisor = draw(st.one_of(st.integers(1, 5), st.integers(-5, -1)).map(sympy.Integer))
    op = draw(st.sampled_from(["add", "sub", "mul", "floordiv", "floordiv_sym", "mod", "pymod", "min", "max", "pow"]))
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "floordiv":
        return _apply(F.FloorDiv, a, divisor)
    if op == "floordiv_sym":
        return _apply(F.FloorDiv, a, b)
    if op == "mod":
        return _apply(F.Mod, a, abs(divisor))
    if op == "pymod":
        return _apply(F.PythonMod, a, divisor)
    if op == "pow":
        return a ** draw(st.integers(0, 3))
    return (F.Min if op == "min" else F.Max)(a, b)


@st.composite
def bool_exprs(draw, depth=2):
    if depth == 0 or draw(st.booleans()):
        rel = draw(st.sampled_from([sympy.Eq, sympy.Ne, sympy.Lt, sympy.Le, sympy.Gt, sympy.Ge]))
        return rel(draw(numeric_exprs(2)), draw(numeric_exprs(2)))
    a, b = draw(bool_exprs(depth - 1)), draw(bool_exprs(depth - 1))
    return draw(st.sampled_from([sympy.And(a, b), sympy.Or(a, b), sympy.Not(a)]))


any_exprs = st.one_of(numeric_exprs(), bool_exprs())


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(any_exprs)
def test_format_parse_round_trip(expr):
    text = format_expr(expr)
    assert parse_expr(text) == expr, text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("xy01 ()+-*/<=>&|~,.EqMdFlorDiv_")), max_size=40))
def test_parse_only_ever_raises_codec_error(text):
    try:
        parse_expr(text)
    except CodecError:
        pass
