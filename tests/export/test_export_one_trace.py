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


def test_without_fix_export_a_violated_spec_is_one_export_and_the_fix_only_proven(export_calls) -> None:
    spec = {"x": (Dim("dx"), 4), "y": (Dim("dy"), 4)}
    report = dimsolve.check_dynamic_shapes(AddLinear(), ARGS, dynamic_shapes=spec, verify_fix=False)
    assert [v.code for v in report.violations] == ["DS201"] and len(export_calls) == 1
    assert report.applicability.value == "proven" and "not exported" in str(report)
    torch.export.export(AddLinear(), ARGS, dynamic_shapes=report.fixed_dynamic_shapes)  # the proven fix holds here


class PinnedHeight(torch.nn.Module):
    """Reads the height as a Python int (as MobileNet's TF padding does): torch pins it to the example."""

    def forward(self, x):
        return torch.nn.functional.pad(x, (0, 0, 0, int(x.shape[2]) % 3))


def test_a_pin_no_static_size_can_explain_costs_no_extra_trace(export_calls) -> None:
    spec = {"x": (Dim("b"), 3, Dim("h", min=8, max=64), Dim("w"))}
    report = dimsolve.check_dynamic_shapes(PinnedHeight(), (torch.randn(2, 3, 32, 32),), dynamic_shapes=spec)
    assert [v.code for v in report.violations] == ["DS401"] and "(32)" in report.violations[0].message
    # the spec as written, then the fix: 32 is no multiple or divisor of the static 3, so no all-dynamic trace
    assert len(export_calls) == 2 and report.fix_verified
    torch.export.export(PinnedHeight(), (torch.randn(2, 3, 32, 32),), dynamic_shapes=report.fixed_dynamic_shapes)


class _Add(torch.nn.Module):
    def forward(self, x, y):
        return x + y


def test_a_pin_to_a_static_sizes_value_is_traced_all_dynamic_to_find_the_relation(export_calls) -> None:
    x, y = torch.randn(4), torch.randn(4)
    report = dimsolve.check_dynamic_shapes(_Add(), (x, y),
                                           dynamic_shapes={"x": (Dim("dx"),), "y": (None,)})
    # the relation to the static size, seen all-dynamic, gives y the Dim instead of making dx static
    assert [v.code for v in report.violations] == ["DS201"]
    assert "x.shape[0] == y.shape[0]" in str(report) and "dx = 4" in str(report)  # the lost alternative named
    assert repr(report.fixed_dynamic_shapes["y"]) == repr(report.fixed_dynamic_shapes["x"]) and report.fix_verified
    assert len(export_calls) == 3  # as written, all-dynamic, the fix
