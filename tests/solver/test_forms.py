"""A derived form is required, or one safe choice: solver only, no torch."""

from __future__ import annotations

import pytest
import sympy

from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.solver.forms import accepted_off_form
from dimsolve.solver.problem import build_problem

from solver_oracle import entry, guardset, sym

s0 = sym("s0")


@pytest.mark.parametrize("guard, coeff, offset, off_form", [
    pytest.param(sympy.Eq(sympy.Mod(s0, 4), 0), 4, 0, False, id="divisible-required"),
    pytest.param(sympy.Ne(sympy.Mod(s0, 32), 0), 8, 4, True, id="not-a-multiple-is-a-choice"),
    pytest.param(sympy.Ne(sympy.Mod(s0, 32), 0), 1, 0, False, id="plain-range"),
])
def test_accepted_off_form(guard, coeff, offset, off_form):
    spec = Spec((entry(0, DimSpec(DimKind.ROOT, root="h"), 100),), {"h": RootDim("h", 32, 512)})
    problem = build_problem(guardset((100,), [guard]), spec)
    value = accepted_off_form(problem, "h", coeff, offset)
    assert (value is not None) is off_form
    if value is not None:
        assert 32 <= value <= 512 and (value - offset) % coeff != 0 and bool(guard.subs(s0, value))
