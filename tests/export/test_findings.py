"""How solver plans become findings: one finding per reason, never a second one for a side effect."""

from __future__ import annotations

import pytest
import torch
from export_support import assert_one_round_fix
from torch.export import Dim
from torch.utils._sympy.numbers import int_oo

import dimsolve
from dimsolve.diagnostics.model import MakeAuto, Relate, SetRange, Severity, Specialize


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


class CatThenAdd(torch.nn.Module):
    """``cat([a, b]) + m``: m's length is the sum of a's and b's, which no Dim can write."""

    def forward(self, m: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b]) + m


class BoundedBothWays(torch.nn.Module):
    """The same relation as two checks, as HuggingFace's mask code states a mask length."""

    def forward(self, m: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        torch._check(m.shape[0] >= a.shape[0] + b.shape[0])
        torch._check(m.shape[0] <= a.shape[0] + b.shape[0])
        return m.sum() + a.sum() + b.sum()


@pytest.mark.torch
@pytest.mark.parametrize("model", [CatThenAdd(), BoundedBothWays()], ids=["equality", "two-bounds"])
def test_a_sum_of_dims_leaves_only_the_sum_to_auto(model):
    # m = a + b: Dim.AUTO on m keeps a and b named and whole; solving for b (b = m - a) would
    # narrow m and a, and then send them to AUTO as well
    args = (torch.randn(8), torch.randn(3), torch.randn(5))
    spec = {"m": (Dim("kv"),), "a": (Dim("q"),), "b": (Dim("past"),)}
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert [(d.code, d.fixes[0].changes) for d in report.diagnostics] == [("DS203", (MakeAuto("kv"),))]
    assert report.diagnostics[0].message.startswith("m.shape[0] (`kv`) must equal a.shape[0] + b.shape[0]")
    fixed = report.fixed_dynamic_shapes
    assert fixed["a"][0].__name__ == "q" and fixed["b"][0].__name__ == "past"
    assert fixed["a"][0].max == fixed["b"][0].max == int_oo
    assert_one_round_fix(report, model, args, {})


class ViewLikeIds(torch.nn.Module):
    """GPT-2's ``token_type_ids.view(-1, input_ids.shape[-1])``: divisibility guards over three sizes."""

    def forward(self, ids: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        return tt.view(-1, ids.shape[-1]) + ids


@pytest.mark.torch
def test_a_relation_torch_objects_to_is_an_error_torch_raises_not_a_silent_one():
    # the guards are modular, which torch usually only checks at run time; here its solver ties
    # tt_seq to seq and export raises: torch's own objection decides the code (DS201, not DS302)
    model, args = ViewLikeIds(), (torch.randn(2, 8), torch.randn(2, 8))
    spec = {"ids": (Dim("batch", max=16), Dim("seq", max=64)), "tt": (Dim("batch", max=16), Dim("tt_seq", max=64))}
    with pytest.raises(torch._dynamo.exc.UserError, match="tt_seq"):
        torch.export.export(model, args, dynamic_shapes=spec)
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert [(d.code, d.fixes[0].changes) for d in report.diagnostics] == [("DS201", (Relate("tt_seq", "seq"),))]
    assert_one_round_fix(report, model, args, {})


class Project(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@pytest.mark.torch
def test_a_dim_that_stops_below_two_is_made_static_not_grown():
    # max=1 forbids the example of 2 that would keep batch dynamic: the only fix is batch = 1
    model, args = Project(), (torch.randn(1, 8, 4),)
    spec = {"x": (Dim("batch", max=1), Dim("seq", max=64), 4)}
    with pytest.raises(torch._dynamo.exc.UserError, match="batch"):
        torch.export.export(model, args, dynamic_shapes=spec)
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    (finding,) = report.diagnostics
    assert finding.code == "DS403" and "can only be 0 or 1" in finding.message
    assert finding.fixes[0].changes == (Specialize("batch", 1),)
    assert report.fixed_example is None
    assert report.fixed_dynamic_shapes["x"][0] == 1
    assert_one_round_fix(report, model, args, {})


class TokensPlusTypes(torch.nn.Module):
    """BERT's embeddings: token and token-type embeddings added, so the two inputs share their shape."""

    def __init__(self) -> None:
        super().__init__()
        self.words, self.types = torch.nn.Embedding(10, 4), torch.nn.Embedding(2, 4)

    def forward(self, ids: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        return self.words(ids) + self.types(types)


@pytest.mark.torch
@pytest.mark.parametrize("types_spec, why", [(None, "its input has no spec"), ((2, 8), "the spec makes it static")])
def test_a_static_size_tied_to_a_dim_gets_the_dim_not_the_dim_made_static(types_spec, why):
    # torch suggests batch = 2, seq = 8: every dynamic size lost; giving types the same Dims keeps them
    model, args = TokensPlusTypes(), (torch.randint(0, 10, (2, 8)), torch.zeros(2, 8, dtype=torch.long))
    batch, seq = Dim("batch", max=16), Dim("seq", max=64)
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes={"ids": (batch, seq), "types": types_spec})
    assert [d.code for d in report.diagnostics] == ["DS201", "DS201"]
    assert [d.fixes[0].changes for d in report.diagnostics] == [
        (Relate("types.shape[0]", "batch"),), (Relate("types.shape[1]", "seq"),)]
    assert all(why in d.message and "batch = 2" not in d.message for d in report.diagnostics)
    fixed = report.fixed_dynamic_shapes
    assert [d.__name__ for d in fixed["types"]] == ["batch", "seq"]
    assert_one_round_fix(report, model, args, {})


class RowsPlusTable(torch.nn.Module):
    """A decoder-like input: its rows follow the batch, its width is its own and indexes 8 positions
    (a bound that only matters if the width were dynamic)."""

    def __init__(self) -> None:
        super().__init__()
        self.positions = torch.nn.Embedding(8, 1)

    def forward(self, x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return x.sum(1) + table.sum(1) + self.positions(torch.arange(table.shape[1])).sum()


@pytest.mark.torch
def test_only_the_static_size_tied_to_a_dim_is_freed_the_others_stay_static():
    model, args = RowsPlusTable(), (torch.randn(2, 4), torch.randn(2, 5))
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes={"x": (Dim("batch", max=16), 4), "table": None})
    # nothing said of table's width (no DS405, no DS701 on it): it pinned nothing and stays static
    assert [d.code for d in report.diagnostics] == ["DS201"], str(report)
    assert report.diagnostics[0].fixes[0].changes == (Relate("table.shape[0]", "batch"),)
    cex = report.violations[0].counterexample  # an input the spec admits and the model rejects
    assert cex["table.shape[0]"] == 2 and cex["x.shape[0]"] != 2
    fixed = report.fixed_dynamic_shapes
    assert fixed["table"][0].__name__ == "batch" and fixed["table"][1] == 5
    assert_one_round_fix(report, model, args, {})


class RowsOfMask(torch.nn.Module):
    """``mask[arange(ids.shape[0])]``: an index bound dimsolve checks and torch does not."""

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return mask[torch.arange(ids.shape[0])].sum(1) + ids.sum(1)


@pytest.mark.torch
def test_an_auto_size_a_finding_constrains_is_not_also_called_unconstrained():
    spec = {"ids": (Dim.AUTO, Dim.AUTO), "mask": (Dim.AUTO, Dim.AUTO)}
    report = dimsolve.check_dynamic_shapes(RowsOfMask(), (torch.randn(2, 3), torch.randn(2, 4)), dynamic_shapes=spec)
    assert [d.code for d in report.diagnostics if d.severity is not Severity.INFO] == ["DS701"]
    unconstrained = sorted(d.paths[0] for d in report.diagnostics if d.code == "DS405")
    # ids.shape[0] is what the DS701 is about: only the two widths are free
    assert unconstrained == ['dynamic_shapes["ids"][1]', 'dynamic_shapes["mask"][1]'], str(report)
