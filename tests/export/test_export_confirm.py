"""An "ok" verdict on a spec with static dims is confirmed with torch.export (export.confirm).

dimsolve traces with every dimension dynamic; with static dims torch may emit guards that trace never
showed, and for a named Dim it raises on any guard it cannot prove (DS503).
"""

from __future__ import annotations

import pytest
import torch
from export_support import CatStrideLinear
from torch.export import Dim

import dimsolve
from dimsolve.export.cache import GuardSetCache, check_cached

pytestmark = pytest.mark.torch


class Pool(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x, 2).flatten(1)


SPEC = {"x": (Dim("dx", min=3), 3, 4)}


def test_unprovable_guard_is_reported_with_a_fix_torch_accepts() -> None:
    model, args = CatStrideLinear(), (torch.randn(5, 3, 4),)
    with pytest.raises(Exception, match="Not all values of dx"):
        torch.export.export(model, args, dynamic_shapes=SPEC)
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=SPEC)
    assert [v.code for v in report.violations] == ["DS503"]
    assert report.violations[0].paths == ('dynamic_shapes["x"][0]',)
    assert report.fix_verified and "Dim.AUTO" in report.fix_code
    ep = torch.export.export(model, args, dynamic_shapes=report.fixed_dynamic_shapes)
    assert ep.module()(torch.randn(6, 3, 4)).shape == (9, 3, 2)


def test_the_cached_check_confirms_too(tmp_path) -> None:
    model, args = CatStrideLinear(), (torch.randn(5, 3, 4),)
    cache = GuardSetCache(tmp_path)
    first = check_cached(model, args, dynamic_shapes=SPEC, cache=cache)
    again = check_cached(model, args, dynamic_shapes=SPEC, cache=cache)
    assert again.source == "cached"
    assert [v.code for v in first.report.violations] == [v.code for v in again.report.violations] == ["DS503"]


def test_static_dims_torch_accepts_stay_ok() -> None:
    model, args = Pool(), (torch.randn(2, 3, 8, 8),)
    spec = {"x": (Dim("batch"), 3, 8, 8)}
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert report.ok, str(report)
    torch.export.export(model, args, dynamic_shapes=spec)


class CatLinear(torch.nn.Module):
    """Linear(15) on cat([x1, x2]): x1 = 15 - x2, and with x2 = 2*d0 torch ties x1 to d0."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(15, 5)

    def forward(self, x0, x1, x2):
        return self.lin(torch.cat([x1, x2]) * 2), x0 * 2


def test_a_fix_leaving_a_size_to_auto_is_exported_before_it_is_shown() -> None:
    model, args = CatLinear(), (torch.randn(4, 3), torch.randn(7), torch.randn(8))
    d0 = Dim("d0", max=5)
    spec = {"x0": (d0, 3), "x1": (Dim("d3", min=5),), "x2": (2 * d0,)}
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert not report.ok and report.fix_verified, str(report)
    # Dim.AUTO for x1 alone is rejected by torch ("must always be related to the values of d0"):
    # d0 goes to Dim.AUTO too, and the fix says why
    assert any("`d0` becomes Dim.AUTO" in n for v in report.diagnostics for n in v.notes), str(report)
    ep = torch.export.export(model, args, dynamic_shapes=report.fixed_dynamic_shapes)
    ep.module()(torch.randn(3, 3), torch.randn(9), torch.randn(6))


class StrideCatLinear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 4)

    def forward(self, x):
        v = x[::2]
        return self.lin(torch.cat([v, v]))


def test_a_fix_torch_cannot_prove_goes_to_auto_before_it_is_shown() -> None:
    # the fix pins x.shape[2] to 3 (Linear); with it static torch emits a guard on d4 it cannot prove
    model, args = StrideCatLinear(), (torch.randn(9, 6, 3),)
    spec = {"x": (Dim("d4"), 6, Dim("d0", min=3))}
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert not report.ok and report.fix_verified, str(report)
    assert any("cannot prove" in n for d in report.diagnostics for n in d.notes), str(report)
    ep = torch.export.export(model, args, dynamic_shapes=report.fixed_dynamic_shapes)
    ep.module()(torch.randn(7, 6, 3))
