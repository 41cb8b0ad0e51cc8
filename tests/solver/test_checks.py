"""Unit tests of ``solver/checks.py``: the ``torch._check`` facts suggested for a data-dependent guard.

No torch here. torch's shape functions are recognised by class *name* (see ``solver/translate.py``),
so ``FloorDiv``/``PythonMod`` below are plain sympy functions with those names. (sympy's own
``floor(u0/2) >= 5`` is rewritten by sympy to ``u0/2 >= 5`` on construction, which is not an
integer expression; the unevaluated form is tested separately.)
"""

from __future__ import annotations

import functools

import pytest
import sympy

from dimsolve.solver.checks import CheckSuggestion, UnbackedFacts, suggest_checks


class FloorDiv(sympy.Function):
    """Stand-in for torch's ``FloorDiv``: Python's ``a // b``; recognised by name."""

    nargs = 2


class PythonMod(sympy.Function):
    """Stand-in for torch's ``PythonMod``: Python's ``a % b``; recognised by name."""

    nargs = 2


class Mystery(sympy.Function):
    """A function solver/translate.py has no translation for."""

    nargs = 1


u0, u1, s0 = sympy.symbols("u0 u1 s0", integer=True)


def _facts(**examples: int | None) -> dict[str, UnbackedFacts]:
    return {name: UnbackedFacts(example=value) for name, value in examples.items()}


_PYTHON = {"FloorDiv": lambda a, b: a // b, "PythonMod": lambda a, b: a % b, "Abs": abs}


@functools.lru_cache(maxsize=None)
def _compiled(expr: sympy.Basic, names: tuple[str, ...]):
    return sympy.lambdify([sympy.Symbol(n, integer=True) for n in names], expr, modules=[_PYTHON, "math"])


def _holds(expr: sympy.Basic, **values: int) -> bool:
    """Evaluate a guard with Python's integer semantics for FloorDiv/PythonMod (independent of z3)."""
    names = tuple(sorted(values))
    return bool(_compiled(expr, names)(*(values[n] for n in names)))


# ----------------------------------------------------------------------------------------------
# one data-dependent value: the widest range around the example on which the guard keeps its value
# ----------------------------------------------------------------------------------------------

RANGE_CASES = [
    # the tutorial's model: a = x.item() with a = 32; `if a // 2 >= 5` -> torch._check(a >= 10)
    pytest.param(FloorDiv(u0, 2) >= 5, sympy.true, 32, (sympy.Ge(u0, 10),), id="tutorial-floordiv-true"),
    # the other branch (the tutorial's `torch._check(a == 4)` also works; the range is wider)
    pytest.param(FloorDiv(u0, 2) >= 5, sympy.false, 4, (sympy.Le(u0, 9),), id="tutorial-floordiv-false"),
    pytest.param(FloorDiv(u0, 2) >= 5, True, 32, (sympy.Ge(u0, 10),), id="python-bool-value"),
    # ExportDB constrain_as_value_example: `if a < 6` with a = 4
    pytest.param(sympy.Lt(u0, 6), sympy.true, 4, (sympy.Le(u0, 5),), id="exportdb-lt-6"),
    pytest.param(sympy.Gt(u0, 2), sympy.false, -7, (sympy.Le(u0, 2),), id="negative-example"),
    pytest.param(sympy.And(u0 > 2, u0 < 10), sympy.true, 3, (sympy.Ge(u0, 3), sympy.Le(u0, 9)), id="two-sided"),
    pytest.param(sympy.Eq(u0, 7), sympy.true, 7, (sympy.Ge(u0, 7), sympy.Le(u0, 7)), id="equality-pins"),
    # not an interval (u0 <= -4 or u0 >= 4): the guard itself, so u0 = 9 is not rejected
    pytest.param(sympy.Abs(u0) > 3, sympy.true, -9, (sympy.Abs(u0) > 3,), id="abs-not-an-interval"),
    pytest.param(3 * u0 + 1 >= 40, sympy.true, 20, (sympy.Ge(u0, 13),), id="linear"),
]


@pytest.mark.parametrize(("guard", "value", "example", "expected"), RANGE_CASES)
def test_single_value_guard_gives_the_widest_range_around_the_example(guard, value, example, expected):
    suggestion = suggest_checks(guard, value, _facts(u0=example))
    assert isinstance(suggestion, CheckSuggestion)
    assert suggestion.facts == expected
    assert suggestion.verified is True


def test_unevaluated_sympy_floor_is_translated_like_floordiv():
    guard = sympy.Ge(sympy.floor(u0 / 2, evaluate=False), 5, evaluate=False)
    assert isinstance(guard.lhs, sympy.floor)
    suggestion = suggest_checks(guard, sympy.true, _facts(u0=32))
    assert suggestion == CheckSuggestion((sympy.Ge(u0, 10),), True)


@pytest.mark.parametrize(("guard", "value", "example"), [pytest.param(*p.values[:3], id=p.id) for p in RANGE_CASES])
def test_range_facts_are_sound_and_hold_for_the_example(guard, value, example):
    """Brute force, independent of z3: every value the facts admit decides the guard like the example."""
    facts = suggest_checks(guard, value, _facts(u0=example)).facts
    decided = bool(value)
    assert _holds(guard, u0=example) is decided  # the case itself is consistent
    assert all(_holds(f, u0=example) for f in facts)
    for v in range(example - 200, example + 201):
        if all(_holds(f, u0=v) for f in facts):
            assert _holds(guard, u0=v) is decided, v


@pytest.mark.parametrize(("guard", "example"), [
    pytest.param(FloorDiv(u0, 2) >= 5, 32, id="floordiv"),
    pytest.param(sympy.Lt(u0, 6), 4, id="lt"),
    pytest.param(3 * u0 + 1 >= 40, 20, id="linear"),
])
def test_monotone_guard_range_is_exactly_the_guard(guard, example):
    """For a monotone guard the range loses nothing: it admits every value the guard admits."""
    facts = suggest_checks(guard, sympy.true, _facts(u0=example)).facts
    for v in range(example - 200, example + 201):
        assert all(_holds(f, u0=v) for f in facts) is _holds(guard, u0=v), v


@pytest.mark.parametrize(("guard", "example", "other"), [
    pytest.param(sympy.Eq(PythonMod(u0, 4), 1), 9, 13, id="python-mod"),
    pytest.param(sympy.Ne(u0, 7), 3, 8, id="not-equal"),
])
def test_suggested_checks_do_not_reject_values_taking_the_same_branch(guard, example, other):
    suggestion = suggest_checks(guard, sympy.true, _facts(u0=example))
    assert suggestion is not None and suggestion.verified
    assert _holds(guard, u0=other)  # `other` takes the same branch as the example ...
    assert all(_holds(f, u0=other) for f in suggestion.facts)  # ... so the checks must admit it


# ----------------------------------------------------------------------------------------------
# several values, or a data-dependent value against an input size: the guard as the example decides it
# ----------------------------------------------------------------------------------------------

GUARD_ITSELF = [
    pytest.param(u0 < u1, sympy.true, _facts(u0=5, u1=7), u0 < u1, id="two-unbacked-true"),
    pytest.param(u0 < u1, sympy.false, _facts(u0=7, u1=5), u0 >= u1, id="two-unbacked-false"),
    pytest.param(sympy.Eq(u0 + u1, 8), True, _facts(u0=5, u1=3), sympy.Eq(u0 + u1, 8), id="tolist-sum-eq"),
    pytest.param(u0 + u1 > 3, False, _facts(u0=1, u1=2), u0 + u1 <= 3, id="sum-false"),
    # `b < y.shape[0]`: s0 is a backed input size
    pytest.param(u0 < s0, sympy.true, _facts(u0=3), u0 < s0, id="unbacked-vs-size-true"),
    pytest.param(u0 > s0, sympy.false, _facts(u0=4), u0 <= s0, id="nonzero-len-vs-size-false"),
    pytest.param(2 * u0 > s0, sympy.true, _facts(u0=5), 2 * u0 > s0, id="scaled-vs-size"),
    pytest.param(sympy.Eq(u0, s0), sympy.true, _facts(u0=12), sympy.Eq(u0, s0), id="equal-to-size"),
    # no example (no real-tensor trace): nothing to widen around
    pytest.param(u0 > 3, sympy.true, _facts(u0=None), u0 > 3, id="no-example"),
]


@pytest.mark.parametrize(("guard", "value", "facts", "expected"), GUARD_ITSELF)
def test_guard_itself_when_no_single_value_range_applies(guard, value, facts, expected):
    suggestion = suggest_checks(guard, value, facts)
    assert suggestion is not None
    assert suggestion.facts == (expected,)
    assert suggestion.verified is True


@pytest.mark.parametrize(("guard", "facts"), [
    pytest.param(u0 < u1, _facts(u0=5, u1=7), id="two-unbacked"),
    pytest.param(u0 > s0, _facts(u0=4), id="unbacked-vs-size"),
    pytest.param(FloorDiv(u0, 2) >= 5, _facts(u0=4), id="single"),
])
def test_false_value_gives_the_negation(guard, facts):
    suggestion = suggest_checks(guard, sympy.false, facts)
    assert suggestion is not None and suggestion.verified
    negation = sympy.Not(guard)
    if len(guard.free_symbols) == 1:  # a range: each fact implies the negation
        sym = next(iter(guard.free_symbols))
        for v in range(-100, 101):
            if all(_holds(f, **{str(sym): v}) for f in suggestion.facts):
                assert not _holds(guard, **{str(sym): v})
    else:
        assert suggestion.facts == (negation,)


# ----------------------------------------------------------------------------------------------
# nothing dimsolve can translate exactly: no suggestion rather than a wrong one
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("guard", "facts"), [
    pytest.param(Mystery(u0) > 1, _facts(u0=32), id="unknown-function"),
    pytest.param(sympy.sin(u0) > 0, _facts(u0=9), id="sin"),
    pytest.param(u0 > sympy.Rational(1, 3) * u1, _facts(u0=1, u1=2), id="rational-coefficient"),
    pytest.param(u0 ** u1 > 3, _facts(u0=2, u1=3), id="symbolic-exponent"),
    # sympy's own floor(u0/2) >= 5 collapses to u0/2 >= 5: a rational expression, not translatable
    pytest.param(sympy.floor(u0 / 2) >= 5, _facts(u0=32), id="collapsed-sympy-floor"),
])
def test_untranslatable_guard_returns_none(guard, facts):
    assert suggest_checks(guard, sympy.true, facts) is None
