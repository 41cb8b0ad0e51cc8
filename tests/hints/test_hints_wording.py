"""A hinted size tied to others by a relation a Dim cannot express is called what it is (issue #14):
``y.shape[1] == 32 - x.shape[1]`` is linear (a derived Dim only increases with its root), a
product of sizes is non-linear."""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import dimsolve

pytestmark = pytest.mark.torch


class CatToWidth(torch.nn.Module):
    def forward(self, x, y, w):
        return torch.cat([x, y], dim=1) + w


class Product(torch.nn.Module):
    def forward(self, x, y, z):
        return x.reshape(-1) + torch.zeros(y.shape[0] * z.shape[0])


@pytest.mark.parametrize("model, args, spec, path, word", [
    pytest.param(CatToWidth(), (torch.randn(2, 12), torch.randn(2, 20), torch.randn(2, 32)),
                 {"x": (Dim.AUTO, Dim.AUTO), "y": (Dim.AUTO, Dim.AUTO), "w": None}, "y.shape[1]", "a linear function",
                 id="decreasing-linear"),
    pytest.param(Product(), (torch.randn(12), torch.randn(3), torch.randn(4)),
                 {"x": (Dim.AUTO,), "y": (Dim.AUTO,), "z": (Dim.AUTO,)}, "x.shape[0]", "a non-linear function",
                 id="product"),
])
def test_an_inexpressible_relation_is_named_linear_or_not(model, args, spec, path, word):
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    (d,) = [d for d in report.diagnostics if d.code == "DS405" and d.message.startswith(path)]
    assert word in d.message, d.message
    if word == "a linear function":
        assert "non-linear" not in d.message
