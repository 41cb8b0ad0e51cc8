"""Vision-model shape guards with real torch: window padding (nested floor/mod), float scale factors,
and a relation Dims cannot write (issue #13).

Each model is the smallest that shows its guards: a Swin-like block (patch 4 with padding, window 4
with padding, window partition/reverse views, crop) with a dynamic height traces in about 3 s;
HuggingFace's Swin shows the same guards but its trace takes 40 s and more (bench/vision.py).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.export import Dim

import dimsolve
from dimsolve.diagnostics.model import MakeAuto, NewRoot, Relate, SetRange, Specialize

pytestmark = pytest.mark.torch


class SwinBlock(torch.nn.Module):
    """Patch 4 (the input padded when its height is not a multiple of 4), window 4 over the patch
    grid (padded to a multiple of the window), window partition and reverse views, crop back."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Conv2d(3, 4, kernel_size=4, stride=4)

    def forward(self, x):
        h = x.shape[2]
        if h % 4 != 0:
            x = F.pad(x, (0, 0, 0, 4 - h % 4))
        x = self.proj(x).permute(0, 2, 3, 1)
        b, H, W, c = x.shape
        pad = (4 - H % 4) % 4
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        Hp = x.shape[1]
        windows = x.reshape(b, Hp // 4, 4, W, c).transpose(1, 2) * 2
        x = windows.transpose(1, 2).reshape(b, Hp, W, c)
        if pad > 0:
            x = x[:, :H]
        return x.reshape(b, H * W, c)


class HalfAndBack(torch.nn.Module):
    """``F.interpolate(x, scale_factor=0.5)`` then back to the input's size: float guards."""

    def forward(self, x):
        y = F.interpolate(x, scale_factor=0.5)
        return F.interpolate(y, size=x.shape[-2:]) + x


class CatAgainstStride(torch.nn.Module):
    """``cat([x, y])`` added to ``z[::2]``: ``x + y == (z + 1)//2``, which Dims cannot write."""

    def forward(self, x, y, z):
        return torch.cat([x, y], dim=0) + z[::2]


def _changes(report):
    return [c for d in report.diagnostics for f in d.fixes for c in f.changes]


def test_swin_window_guards_are_decided_and_fixed_by_a_relation():
    model, x = SwinBlock().eval(), torch.randn(2, 3, 32, 16)
    spec = {"x": (2, 3, Dim("height", min=32, max=256), 16)}
    report = dimsolve.check_dynamic_shapes(model, (x,), dynamic_shapes=spec)
    codes = [d.code for d in report.diagnostics]
    assert not report.ok and "DS901" not in codes and "DS902" not in codes, str(report)
    lead = next(d for d in report.diagnostics if d.code == "DS501")
    assert lead.facts["counterexample"] == {"x.shape[2]": 33}
    changes = _changes(report)
    assert NewRoot("_height", 2, 16) in changes and Relate("height", "_height", 16, 0) in changes, str(report)
    assert not any(isinstance(c, Specialize) for c in changes), str(report)
    # torch exports the printed fix as it is, and every height it admits runs
    ep = torch.export.export(model, (x,), dynamic_shapes=report.fixed_dynamic_shapes)
    for height in (32, 48, 256):
        ep.module()(torch.randn(2, 3, height, 16))
    assert report.fix_verified, str(report)


def test_interpolate_round_trip_float_guards_are_decided_with_a_fix():
    model, x = HalfAndBack(), torch.randn(2, 3, 32, 32)
    spec = {"x": (2, 3, Dim("h", max=256), Dim("w", max=256))}
    report = dimsolve.check_dynamic_shapes(model, (x,), dynamic_shapes=spec)
    codes = [d.code for d in report.diagnostics]
    assert not report.ok and "DS902" not in codes and "DS901" not in codes, str(report)
    assert SetRange("h", 4, 256) in _changes(report) and SetRange("w", 4, 256) in _changes(report), str(report)
    torch.export.export(model, (x,), dynamic_shapes=report.fixed_dynamic_shapes)
    assert report.fix_verified, str(report)


def test_an_unwritable_relation_keeps_sizes_dynamic_with_auto():
    model = CatAgainstStride()
    args = (torch.randn(3, 4), torch.randn(5, 4), torch.randn(15, 4))
    spec = {"x": (Dim("dx", max=64), 4), "y": (Dim("dy", max=64), 4), "z": (Dim("dz", max=128), 4)}
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    changes = _changes(report)
    assert MakeAuto("dy") in changes, str(report)
    # no named Dim is narrowed to make room for the AUTO one
    assert not [c for c in changes if isinstance(c, SetRange) and c.max is not None and c.max < 64], str(report)
    torch.export.export(model, args, dynamic_shapes=report.fixed_dynamic_shapes)
    assert report.fix_verified, str(report)
