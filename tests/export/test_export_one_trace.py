"""A valid spec costs one torch.export: dimsolve decides inside it and returns its ExportedProgram."""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import dimsolve

pytestmark = pytest.mark.torch


class AddLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, y):
        return self.lin(x + y)


ARGS = (torch.randn(6, 4), torch.randn(6, 4))


@pytest.fixture
def export_calls(monkeypatch):
    """Every torch.export.export call dimsolve makes, with its keyword arguments."""
    calls: list[dict] = []
    real = torch.export.export

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.export, "export", counting)
    return calls


def test_a_valid_spec_is_one_export_and_dimsolve_returns_that_program(export_calls) -> None:
    dx = Dim("dx")
    spec = {"x": (dx, 4), "y": (dx, 4)}
    ep = dimsolve.export(AddLinear(), ARGS, dynamic_shapes=spec)
    assert len(export_calls) == 1
    assert ep.module()(torch.randn(9, 4), torch.randn(9, 4)).shape == (9, 4)
    report = dimsolve.check_dynamic_shapes(AddLinear(), ARGS, dynamic_shapes=spec)
    assert report.ok and len(export_calls) == 2


def test_torch_export_options_reach_that_one_export(export_calls) -> None:
    dx = Dim("dx")
    ep = dimsolve.export(AddLinear(), ARGS, dynamic_shapes={"x": (dx, 4), "y": (dx, 4)},
                         prefer_deferred_runtime_asserts_over_guards=True)
    assert [c.get("prefer_deferred_runtime_asserts_over_guards") for c in export_calls] == [True]
    assert ep is not None


def test_an_invalid_spec_raises_with_a_fix_torch_exported(export_calls) -> None:
    spec = {"x": (Dim("dx"), 4), "y": (Dim("dy"), 4)}
    with pytest.raises(dimsolve.ConstraintViolation) as raised:
        dimsolve.export(AddLinear(), ARGS, dynamic_shapes=spec)
    report = raised.value.report
    assert [v.code for v in report.violations] == ["DS201"]
    assert report.fix_verified and [r.exported for r in report.rounds] == [True]
    # the user's spec, then the fix: torch's trace of the spec was complete, no all-dynamic re-trace
    assert len(export_calls) == 2
    torch.export.export(AddLinear(), ARGS, dynamic_shapes=report.fixed_dynamic_shapes)
