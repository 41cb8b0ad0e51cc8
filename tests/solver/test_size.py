"""Guards too large to expand are refused by an estimate, before sympy or z3 multiplies them out."""

from __future__ import annotations

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from solver_oracle import FloorDiv, guardset, sym

from dimsolve.guards.codec import parse_expr
from dimsolve.solver.problem import translated_guards
from dimsolve.solver.size import MAX_EXPANDED_TERMS, expanded_terms

a, b, c, d = (sym(n) for n in "abcd")
PATHOLOGICAL = "Eq((s77+s17+s27+s94+1)**32*(s77-s17+3)**32, 10)"


@pytest.mark.parametrize("expr, terms", [
    pytest.param(a * b * c <= 64, 2, id="product-is-one-term"),
    pytest.param(sympy.Eq(a * b, c * d), 2, id="equal-products"),
    pytest.param((a + b + 1) ** 2 <= 9, 7, id="square-of-a-sum"),
    pytest.param(a ** 64 > b, 2, id="high-power-of-one-symbol"),
    pytest.param(sympy.Eq(FloorDiv((a + b + 1) ** 2, 2), c), 6, id="inside-a-function"),
])
def test_small_guards(expr, terms):
    assert expanded_terms(expr) == terms


@pytest.mark.parametrize("text", [
    PATHOLOGICAL.replace("s77", "a").replace("s17", "b").replace("s27", "c").replace("s94", "d"),
    "(a + b + 1)**16 <= 4",
    "PowByNatural(a + b + 1, 16) <= 4",
    "Eq(FloorDiv((a + b + c + d)**8, 2), 3)",
])
def test_exploding_guards_are_over_the_limit(text):
    assert expanded_terms(parse_expr(text)) > MAX_EXPANDED_TERMS


polynomial = st.recursive(
    st.sampled_from([a, b, c, sympy.Integer(1), sympy.Integer(3)]),
    lambda inner: st.one_of(
        st.builds(lambda x, y: x + y, inner, inner),
        st.builds(lambda x, y: x * y, inner, inner),
        st.builds(lambda x, k: x ** k, inner, st.integers(2, 4)),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(polynomial)
def test_the_estimate_bounds_the_real_expansion(expr):
    estimate = expanded_terms(expr, cap=10**9)
    assert len(sympy.Add.make_args(sympy.expand(expr))) <= estimate


def test_an_exploding_guard_is_unsupported_and_never_translated():
    gs = guardset((6, 6, 6, 6), [parse_expr(PATHOLOGICAL.replace("s77", "s0").replace("s17", "s1")
                                            .replace("s27", "s2").replace("s94", "s3"))])
    translated = translated_guards(gs)
    assert not translated.guards
    [(record, reason)] = translated.unsupported
    assert record.expr == gs.guards[0].expr and "max_expr_terms" in reason
