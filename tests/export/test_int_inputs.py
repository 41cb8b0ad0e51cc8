"""Int inputs torch can make dynamic are dimensions dimsolve checks (issue #14), with real torch.

``x[:n]`` with ``n: Dim.DYNAMIC``: torch makes ``n`` a symbol and its program checks ``2 <= n <= x.shape[0]``.
dimsolve traces ``n`` as a symbol too (never as the constant 3, which gave a false "x.shape[0] >= 3"),
decides the spec against those guards, and its fix for a range on ``n`` is exported by torch.
"""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import dimsolve
from dimsolve.dims.model import SCALAR_AXIS, DimPath, InputPath

pytestmark = pytest.mark.torch


class Slice(torch.nn.Module):
    def forward(self, x, n):
        return x[:n] * 2


class Branch(torch.nn.Module):
    def forward(self, x, n):
        if n == 3:
            return x * 2
        return x


class Config(torch.nn.Module):
    def forward(self, x, cfg):
        return x + torch.zeros(cfg["k"])


N = DimPath(InputPath(("n",)), SCALAR_AXIS)


def test_the_all_dynamic_trace_makes_an_int_a_symbol():
    gs = dimsolve.trace_guards(Slice(), (torch.randn(8), 3))
    info = gs.symbol_for(N)
    assert info is not None and info.example == 3 and info.backed
    # the slice's guards speak of n itself, not of x alone
    assert any(info.name in g.symbols for g in gs.guards)


def test_a_range_on_the_int_is_the_fix_torch_exports():
    report = dimsolve.check_dynamic_shapes(Slice(), (torch.randn(8), 3),
                                           dynamic_shapes={"x": None, "n": Dim.DYNAMIC(min=0, max=16)})
    assert not report.ok
    (d,) = [d for d in report.violations]
    assert d.paths[0] == 'dynamic_shapes["n"]' and "n (Dim.DYNAMIC)" in d.message
    assert "Dim(" not in report.fix_code  # torch takes no named Dim for an int
    assert '"n": Dim.DYNAMIC(min=2, max=8)' in report.fix_code
    assert report.fix_verified and len(report.rounds) == 1
    # what the report promises: torch exports the fix and the program runs every n it admits
    ep = torch.export.export(Slice(), (torch.randn(8), 3), dynamic_shapes=report.fixed_dynamic_shapes)
    for n in range(2, 9):
        assert ep.module()(torch.randn(8), n).shape == (n,)


def test_a_dynamic_int_no_longer_gives_a_false_range_on_the_tensor():
    report = dimsolve.check_dynamic_shapes(Slice(), (torch.randn(8), 3),
                                           dynamic_shapes={"x": (Dim("s", min=2),), "n": Dim.DYNAMIC(min=2)})
    assert not any("x.shape[0] (`s`) >= 3" in d.message for d in report.diagnostics), str(report)
    assert not any(d.code == "DS301" and d.paths and d.paths[0].startswith('dynamic_shapes["x"]')
                   for d in report.violations), str(report)


def test_a_static_int_gets_the_same_answer_as_before():
    # n static (3): the program needs x.shape[0] >= 3, and torch raises on the named Dim s
    spec = {"x": (Dim("s"),), "n": None}
    with pytest.raises(Exception, match="satisfy the generated guard"):
        torch.export.export(Slice(), (torch.randn(8), 3), dynamic_shapes=spec)
    report = dimsolve.check_dynamic_shapes(Slice(), (torch.randn(8), 3), dynamic_shapes=spec)
    assert [d.code for d in report.violations] == ["DS301"]
    assert 's = Dim("s", min=3)' in report.fix_code and report.fix_verified


def test_a_dynamic_int_the_model_pins_is_ds404_made_static():
    report = dimsolve.check_dynamic_shapes(Branch(), (torch.randn(8), 3), dynamic_shapes={"x": None, "n": Dim.DYNAMIC})
    (d,) = report.violations
    assert d.code == "DS404" and d.paths[0] == 'dynamic_shapes["n"]'
    assert report.fixed_dynamic_shapes == {"x": None, "n": None}
    assert report.fix_verified


def test_an_int_in_a_dict_input_is_named_by_its_path():
    report = dimsolve.check_dynamic_shapes(Config(), (torch.randn(8), {"k": 8}),
                                           dynamic_shapes={"x": (Dim.AUTO,), "cfg": {"k": Dim.DYNAMIC}})
    assert report.ok, str(report)
    (d,) = [d for d in report.diagnostics if "cfg['k']" in d.message]
    assert "equals x.shape[0]" in d.message


def test_check_spec_rechecks_a_dynamic_int_without_tracing():
    gs = dimsolve.trace_guards(Slice(), (torch.randn(8), 3))
    report = dimsolve.check_spec(gs, {"x": None, "n": Dim.DYNAMIC(min=0, max=16)})
    assert '"n": Dim.DYNAMIC(min=2, max=8)' in report.fix_code
