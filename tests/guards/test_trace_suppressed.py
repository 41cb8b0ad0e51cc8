"""Guards torch evaluates under ``suppress_guards()`` and then drops are not guards of the program."""

from __future__ import annotations

import pytest
import sympy
import torch

from dimsolve.guards.trace import trace_guards

pytestmark = pytest.mark.torch


class PadToMax(torch.nn.Module):  # pytorch/pytorch#150851
    def forward(self, x, y):
        z = torch.zeros((max(x.shape[0], y.shape[0]), max(x.shape[1], y.shape[1])), dtype=x.dtype)
        z[: x.shape[0], : x.shape[1]] = x
        z[: y.shape[0], : y.shape[1]] += y
        return z


def test_a_view_input_adds_no_guard_over_its_base():
    # x is a view of a 6-element tensor: torch makes a symbol for x._base and checks x against it
    # inside the fake-tensor cache with guards suppressed; the exported program never checks that
    x, y = torch.arange(6).reshape(2, 3), torch.arange(6).reshape(3, 2)
    gs = trace_guards(PadToMax(), (x, y))
    declared = {s.name for s in gs.symbols}
    assert gs.guards
    for g in gs.guards:
        assert {str(s) for s in g.expr.free_symbols} <= declared, g.expr


def test_a_guard_over_a_derived_roots_alone_is_restated_over_its_size():
    # strict export restates x.shape[2] == 2*(x.shape[2] // 2) over the root of `2*_d` once it has
    # seen the derived Dim: the guard reads the same over x.shape[2] (s37), which is declared
    from dimsolve.guards.model import GuardRecord
    from dimsolve.guards.trace import _in_declared_terms

    s37, s30 = sympy.Symbol("s37", integer=True), sympy.Symbol("s30", integer=True)
    definition = GuardRecord(sympy.Eq(s37, 2 * s30))
    over_root = GuardRecord(sympy.Eq(sympy.Max(2 * s30, 16), 2 * s30))
    beyond = GuardRecord(s30 > 4)  # the root alone, in no form a definition gives: left as torch wrote it
    out = _in_declared_terms([definition, over_root, beyond], {"s37"})
    assert out[0] == definition and out[2] == beyond
    assert out[1].expr == sympy.Eq(sympy.Max(s37, 16), s37)
