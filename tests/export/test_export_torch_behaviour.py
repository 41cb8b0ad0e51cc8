"""The codes tell the truth about torch.export (docs/codes): for each row, real ``torch.export.export``
on the spec either raises a constraint violation, and then some finding has a code documented as
"torch.export raises", or exports, and then none has (``dimsolve.export.torch_behaviour``)."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pytest
import torch
from torch.export import Dim

import dimsolve

RAISING_CODES = frozenset({"DS201", "DS202", "DS301", "DS401", "DS402", "DS501"})
CONSTRAINT_ERRORS = (torch._dynamo.exc.UserError, torch.fx.experimental.symbolic_shapes.ConstraintViolationError)


class Branch(torch.nn.Module):
    def forward(self, x, y):
        return (x * 2, y) if x.shape[0] <= 5 else (x - 1, y)


class CatBranch(torch.nn.Module):
    def forward(self, x, y):
        t = torch.cat([x, y])
        return t * 2 if t.shape[0] <= 7 else t - 1


class Add(torch.nn.Module):
    def forward(self, x, y):
        return x + y


class Shift(torch.nn.Module):
    def forward(self, x, y):
        return x[1:] + y


class FlatLinear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(12, 2)

    def forward(self, x):
        return self.lin(x.reshape(-1))


class Pairs(torch.nn.Module):
    def forward(self, x):
        return x.reshape(-1, 2).sum(1)


class CatPairs(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([x, y]).reshape(-1, 2).sum(1)


def _t(*sizes: int) -> torch.Tensor:
    return torch.randn(*sizes)


d, e = Dim("d"), Dim("e")
B2 = (_t(4), _t(3))  # Branch, x.shape[0] = 4
C2 = (_t(3), _t(4))  # CatBranch
A2 = (_t(3), _t(3))  # Add
S2 = (_t(4), _t(3))  # Shift
ROWS: dict[str, tuple[Any, tuple, dict, bool]] = {
    # name: (model, args, spec, torch raises)
    "range-on-a-dim": (Branch(), B2, {"x": (d,), "y": (e,)}, True),
    "range-on-a-derived-dim": (Branch(), B2, {"x": (d + 1,), "y": (e,)}, False),
    "range-on-a-derived-dim-root-used-directly": (Branch(), B2, {"x": (d + 1,), "y": (d,)}, True),
    "range-on-a-derived-dim-below-its-root": (Branch(), B2, {"x": (Dim("d", min=4) - 2,), "y": (e,)}, True),
    "sum-bounds-each-dim": (CatBranch(), C2, {"x": (Dim("dx"),), "y": (Dim("dy"),)}, True),
    "sum-bounds-one-dim": (CatBranch(), C2, {"x": (Dim("dx", max=3),), "y": (Dim("dy"),)}, True),
    "sum-within-each-range": (CatBranch(), C2, {"x": (Dim("dx", max=5),), "y": (Dim("dy", max=5),)}, False),
    "sum-of-derived-dims": (CatBranch(), C2, {"x": (d + 1,), "y": (e + 2,)}, False),
    "sum-with-a-static-dim": (CatBranch(), C2, {"x": (3,), "y": (Dim("dy"),)}, True),
    "equal-dims": (Add(), A2, {"x": (Dim("d0"),), "y": (Dim("d3"),)}, True),
    "dim-equals-a-derived-dim": (Add(), A2, {"x": (Dim("d0"),), "y": (Dim("d3") + 1,)}, False),
    "dim-equals-a-derived-dim-above-its-root": (Add(), A2, {"x": (Dim("d0"),), "y": (Dim("d3", min=4) - 2,)}, True),
    "related-dims": (Shift(), S2, {"x": (Dim("dx"),), "y": (Dim("dy"),)}, True),
    "related-to-a-derived-dim": (Shift(), S2, {"x": (Dim("dx"),), "y": (d + 1,)}, False),
    "product-equals-a-constant": (FlatLinear(), (_t(3, 4),), {"x": (Dim("a"), Dim("b"))}, False),
    "product-with-a-static-factor": (FlatLinear(), (_t(3, 4),), {"x": (Dim("a"), 4)}, True),
    "product-of-a-derived-dim-and-its-root": (FlatLinear(), (_t(3, 4),), {"x": (Dim("a"), Dim("a") + 1)}, True),
    "divisible-dim": (Pairs(), (_t(6),), {"x": (Dim("n"),)}, True),
    "divisible-derived-dim": (Pairs(), (_t(6),), {"x": (Dim("n") + 1,)}, False),
    "divisible-sum": (CatPairs(), (_t(3), _t(3)), {"x": (Dim("a"),), "y": (Dim("b"),)}, False),
}


def _torch_raises(model: Any, args: tuple, spec: dict) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            torch.export.export(model, args, dynamic_shapes=spec)
        except CONSTRAINT_ERRORS:
            return True
        finally:
            logging.disable(logging.NOTSET)
    return False


@pytest.mark.torch
@pytest.mark.parametrize("name", list(ROWS))
def test_codes_say_whether_torch_raises(name: str) -> None:
    model, args, spec, raises = ROWS[name]
    assert _torch_raises(model, args, spec) is raises, "torch's behaviour changed: re-check torch_behaviour"
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert not report.ok
    codes = {v.code for v in report.violations}
    assert bool(codes & RAISING_CODES) is raises, str(report)
    if not raises:
        assert all(c in ("DS302", "DS502") for c in codes), str(report)


@pytest.mark.torch
@pytest.mark.parametrize(("spec", "wanted"), [
    ({"x": (d + 1,), "y": (e,)}, "the model only supports `d` <= 4 (x.shape[0] is d + 1)"),
    ({"x": (d,), "y": (e,)}, "the model only supports x.shape[0] (`d`) <= 5"),
])
def test_range_messages_keep_paths_and_roots_apart(spec: dict, wanted: str) -> None:
    report = dimsolve.check_dynamic_shapes(Branch(), B2, dynamic_shapes=spec)
    assert [v.message.split(":")[0] for v in report.violations] == [wanted]


@pytest.mark.torch
def test_relation_message_names_the_root_of_a_derived_dim() -> None:
    report = dimsolve.check_dynamic_shapes(Add(), A2, dynamic_shapes={"x": (Dim("d0"),), "y": (Dim("d3") + 1,)})
    assert [v.message.split(":")[0] for v in report.violations] == ["x.shape[0] must equal d3 + 1 (y.shape[0] is d3 + 1)"]
