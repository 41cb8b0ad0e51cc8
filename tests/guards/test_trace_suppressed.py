"""Guards torch evaluates under ``suppress_guards()`` and then drops are not guards of the program."""

from __future__ import annotations

import pytest
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
