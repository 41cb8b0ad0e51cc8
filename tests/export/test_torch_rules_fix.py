"""A fix is written the way torch reads it, so torch exports it in round one (issue #14).

``torch.cat([x, x, x])[2:] + y`` needs ``dy = 3*dx - 2``; with ``dx = Dim("dx")`` (min 0) torch
refuses that derived Dim before tracing ("Expected derived min value of 3*dx - 2 to be >= 0"). The
fix raises dx's min, says why, and torch exports it with the first export of the fix loop.
"""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import dimsolve
from dimsolve.diagnostics.model import Relate, SetRange

pytestmark = pytest.mark.torch


class Cat3(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([x, x, x])[2:] + y


ARGS = (torch.randn(4), torch.randn(10))
SPEC = {"x": (Dim("dx"),), "y": (Dim("dy"),)}


def test_torch_refuses_the_derived_dim_with_the_roots_default_min():
    dx = Dim("dx")
    with pytest.raises(Exception, match="Expected derived min value of 3\\*dx - 2 to be >= 0"):
        torch.export.export(Cat3(), ARGS, dynamic_shapes={"x": (dx,), "y": (3 * dx - 2,)})


def test_the_fix_raises_the_roots_min_and_torch_exports_it_in_one_round():
    report = dimsolve.check_dynamic_shapes(Cat3(), ARGS, dynamic_shapes=SPEC)
    (d,) = [d for d in report.diagnostics if d.is_error]
    assert d.code == "DS202"
    assert d.fixes[0].changes == (Relate("dy", "dx", 3, -2), SetRange("dx", 1, None))
    assert any("never negative" in note for note in d.notes)
    assert 'dx = Dim("dx", min=1)' in report.fix_code
    assert report.fix_verified and [r.exported for r in report.rounds] == [True]
    torch.export.export(Cat3(), ARGS, dynamic_shapes=report.fixed_dynamic_shapes)


def test_a_fix_torch_rejects_is_never_verified(monkeypatch: pytest.MonkeyPatch):
    # without the rule, the fix is the one torch refuses: it must then say so, not "verified"
    import dimsolve.export.rule_repairs as rule_repairs

    monkeypatch.setattr(rule_repairs, "repair", lambda spec: (spec, ()))
    report = dimsolve.check_dynamic_shapes(Cat3(), ARGS, dynamic_shapes=SPEC)
    assert not report.fix_verified
    assert all(f.applicability.value == "unverified" for d in report.diagnostics for f in d.fixes)
    assert "not all verified" in str(report)
