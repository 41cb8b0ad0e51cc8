"""A runtime check of the exported program that narrows the spec at size 1 (DS302).

``y: 5*batch`` with ``Dim("batch", min=1)``: torch exports, keeps batch's range [1, 32], and the
program checks ``y.shape[0] >= 10`` (the model's ``torch._check``), so it rejects batch = 1. The
main check proves guards for sizes >= 2 only; dimsolve also checks the program's guards at the
named sizes of 1 the spec admits.
"""

from __future__ import annotations

import pytest
import torch
from export_support import assert_one_round_fix, torch_export
from torch.export import Dim

import dimsolve
from dimsolve.diagnostics.model import SetRange

pytestmark = pytest.mark.torch


class AtLeastTen(torch.nn.Module):
    def forward(self, x, y):
        torch._check(y.shape[0] >= 10)
        return x.sum() + y.sum()


ARGS = (torch.randn(2, 4), torch.randn(10, 4))


def _spec(low: int):
    batch = Dim("batch", min=low, max=32)
    return {"x": (batch, 4), "y": (5 * batch, 4)}


@pytest.mark.parametrize("low", [0, 1])
def test_program_rejecting_an_admitted_size_one_is_reported_and_fixed(low):
    report = dimsolve.check_dynamic_shapes(AtLeastTen(), ARGS, dynamic_shapes=_spec(low))
    (v,) = report.violations
    assert v.code == "DS302" and v.location.code == "torch._check(y.shape[0] >= 10)", str(report)
    assert v.counterexample["x.shape[0]"] == 1 and v.counterexample["y.shape[0]"] == 5
    assert v.fix == (SetRange("batch", 2, 32),)
    assert report.fix_verified and report.torch_confirmed
    # torch exports the spec as written, and its program rejects the counterexample
    ep, err = torch_export(AtLeastTen(), ARGS, {}, _spec(low))
    assert err is None
    with pytest.raises(AssertionError, match="Guard failed"):
        ep.module()(torch.randn(1, 4), torch.randn(5, 4))
    fixed_ep = assert_one_round_fix(report, AtLeastTen(), ARGS, {})
    fixed_ep.module()(torch.randn(2, 4), torch.randn(10, 4))


def test_min_two_is_valid():
    report = dimsolve.check_dynamic_shapes(AtLeastTen(), ARGS, dynamic_shapes=_spec(2))
    assert report.ok and not report.diagnostics, str(report)


class BranchOnBatchTimesWindows(torch.nn.Module):
    """``4*b != (h//8)**2``: a guard torch records while h's range is wide, and decides itself (so its
    program does not check it) once the fix narrows h to [16, 23], where it reads ``b != 1``."""

    def forward(self, x):
        b, h = x.shape
        y = x * 2 if h // 8 == 2 else x * 3
        return y + 1 if 4 * b != (h // 8) * (h // 8) else y - 1


def test_a_size_one_guard_the_fixs_own_trace_decides_raises_no_min():
    args = (torch.randn(2, 16),)
    spec = {"x": (Dim("b", max=16), Dim("h", min=4, max=64))}
    report = dimsolve.check_dynamic_shapes(BranchOnBatchTimesWindows(), args, dynamic_shapes=spec)
    assert [v.code for v in report.violations] == ["DS301"], str(report)  # no DS302 "rejects b = 1"
    assert report.fixed_spec.roots["b"].min == 0 and report.fix_verified
    assert [r.exported for r in report.rounds] == [True, True]  # the fix with b >= 2, then without
    program = torch.export.export(BranchOnBatchTimesWindows(), args, dynamic_shapes=report.fixed_dynamic_shapes)
    assert program.module()(torch.randn(1, 16)).shape == (1, 16)  # the program runs at b = 1
