"""How solver plans become findings: one finding per reason, never a second one for a side effect."""

from __future__ import annotations

import pytest
import torch
from export_support import assert_one_round_fix
from torch.export import Dim

import dimsolve
from dimsolve.diagnostics.model import Relate, SetRange


class TokensPlusMask(torch.nn.Module):
    """Two sequences added elementwise: their lengths must be equal."""

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return tokens + mask


@pytest.mark.torch
def test_range_shared_by_an_equality_is_part_of_that_finding():
    # seq admits 33..64 but mask_seq stops at 32: making them equal narrows seq, which is not a model limit
    model, args = TokensPlusMask(), (torch.randn(2, 8), torch.randn(2, 8))
    spec = {"tokens": (Dim("batch"), Dim("seq", max=64)), "mask": (Dim("batch"), Dim("mask_seq", max=32))}
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert [d.code for d in report.diagnostics] == ["DS201"]
    (finding,) = report.diagnostics
    changes = finding.fixes[0].changes
    narrowing = next(c for c in changes if isinstance(c, SetRange))
    relation = next(c for c in changes if isinstance(c, Relate))
    assert {narrowing.target, relation.root} == {"seq"} and narrowing.max == 32
    assert any("can only be <= 32" in note and "mask_seq" in note for note in finding.notes)
    assert_one_round_fix(report, model, args, {})


@pytest.mark.torch
def test_range_the_model_needs_stays_its_own_finding():
    # the same equality, and a branch that really limits seq to 16: that limit is a DS301 of its own
    class Limited(TokensPlusMask):
        def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            torch._check(tokens.shape[1] <= 16)
            return tokens + mask

    model, args = Limited(), (torch.randn(2, 8), torch.randn(2, 8))
    spec = {"tokens": (Dim("batch"), Dim("seq", max=64)), "mask": (Dim("batch"), Dim("mask_seq", max=32))}
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    codes = sorted(d.code for d in report.diagnostics)
    assert codes == ["DS201", "DS301"]
    assert_one_round_fix(report, model, args, {})
