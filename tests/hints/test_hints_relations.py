"""Hinted and derived dims where torch.export 2.13's own rules decide, checked against real torch.

- a Dim.AUTO/DYNAMIC size that is ``d + k`` (k > 0) for a Dim ``d`` an input uses directly: torch
  raises "must always be related" unless the spec writes ``d + k`` (DS202, fixed by writing it);
- a root that is 0/1 at the example though every size derived from it is >= 2 (``x: d + 2`` with
  x = 3): torch specialises it (DS403, fixed by re-spelling the same sizes around a root >= 2);
- a Dim.AUTO size that absorbs a relation (``y = x - 1`` with y AUTO) leaves x's Dim named.
"""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import dimsolve

pytestmark = pytest.mark.torch

A, D = Dim.AUTO, Dim.DYNAMIC


class DropFirst(torch.nn.Module):
    def forward(self, x, y):
        return x[1:] + y


class DropFirstOfY(torch.nn.Module):
    def forward(self, x, y):
        return x + y[1:]


class Scale(torch.nn.Module):
    def forward(self, x):
        return x * 2


def _exports(model, args, spec):
    try:
        return torch.export.export(model, args, dynamic_shapes=spec), None
    except Exception as exc:  # noqa: BLE001 - the caller asserts on it
        return None, exc


@pytest.mark.parametrize("hint", [A, D], ids=["auto", "dynamic"])
def test_a_hinted_size_above_a_named_dim_must_be_written_out(hint) -> None:
    model, args = DropFirst(), (torch.randn(5), torch.randn(4))
    spec = {"x": (hint,), "y": (Dim("dy"),)}
    assert _exports(model, args, spec)[1] is not None  # "must always be related"
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    # the relation torch asks for, and the size 1 of dy that the related program's slice check rejects
    assert sorted(v.code for v in report.violations) == ["DS202", "DS302"], str(report)
    (relation,) = [v for v in report.violations if v.code == "DS202"]
    assert "dy + 1" in relation.message
    assert report.fix_verified and "dy + 1" in report.fix_code and "min=2" in report.fix_code
    ep, err = _exports(model, args, report.fixed_dynamic_shapes)
    assert err is None, err
    ep.module()(torch.randn(7), torch.randn(6))
    ep.module()(torch.randn(3), torch.randn(2))  # the smallest sizes the fixed spec admits run


def test_a_hinted_size_below_a_named_dim_is_fine() -> None:
    model, args = DropFirstOfY(), (torch.randn(4), torch.randn(5))
    spec = {"x": (A,), "y": (Dim("dy"),)}
    assert _exports(model, args, spec)[1] is None
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert not [v for v in report.violations if v.code == "DS202"], str(report)


@pytest.mark.parametrize("size", [2, 3])
def test_a_root_that_is_zero_or_one_at_the_example_is_respelled(size: int) -> None:
    model, args = Scale(), (torch.randn(size),)
    spec = {"x": (Dim("d") + 2,)}
    assert _exports(model, args, spec)[1] is not None  # "specialized it to be a constant"
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert [v.code for v in report.violations] == ["DS403"], str(report)
    assert report.violations[0].message.startswith(f"`d` is {size - 2} at the example")
    assert report.fix_verified
    ep, err = _exports(model, args, report.fixed_dynamic_shapes)
    assert err is None, err
    ep.module()(torch.randn(2))  # d = 0 was admitted by the spec: still is
    ep.module()(torch.randn(9))


def test_an_auto_size_absorbs_a_relation_and_the_named_dim_keeps_its_name() -> None:
    model, args = DropFirst(), (torch.randn(5), torch.randn(4))
    spec = {"x": (Dim("dx"),), "y": (A,)}
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    # x = 2 would need y = 1: torch exports and narrows dx to >= 3 (silently), the fix says so
    assert [v.code for v in report.violations] == ["DS302"], str(report)
    assert report.fix_verified and 'Dim("dx", min=3)' in report.fix_code, report.fix_code
    ep, err = _exports(model, args, report.fixed_dynamic_shapes)
    assert err is None, err


class CatPlus(torch.nn.Module):
    def forward(self, x, y, z):
        return torch.cat([x, y]) + z


def test_a_named_dim_that_auto_sizes_sum_to_gets_the_range_they_can_reach() -> None:
    # z = x + y with x, y Dim.AUTO (>= 2 each): z >= 4, decided with the AUTO sizes existential
    model, args = CatPlus(), (torch.randn(2), torch.randn(3), torch.randn(5))
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes={"x": (A,), "y": (A,), "z": (Dim("dz"),)})
    assert [v.code for v in report.violations] == ["DS302"], str(report)
    assert report.fix_verified and 'Dim("dz", min=4)' in report.fix_code, report.fix_code
    _, err = _exports(model, args, report.fixed_dynamic_shapes)
    assert err is None, err


class DoubleMatmul(torch.nn.Module):
    def forward(self, x0, x1):
        return x1 @ torch.cat([x0, x0])


def test_a_hinted_size_twice_a_named_dim_must_be_written_out() -> None:
    model, args = DoubleMatmul(), (torch.randn(3, 8), torch.randn(5, 6))
    spec = {"x0": (Dim("d0"), 8), "x1": (Dim("d2"), A)}
    assert _exports(model, args, spec)[1] is not None  # "must always be related ... by 2*d0"
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert [v.code for v in report.violations] == ["DS202"], str(report)
    assert report.fix_verified and "2*d0" in report.fix_code
    _, err = _exports(model, args, report.fixed_dynamic_shapes)
    assert err is None, err
