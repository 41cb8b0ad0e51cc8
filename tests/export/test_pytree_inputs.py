"""End to end on inputs of every container kind torch flattens: findings name ``p.b`` as torch's
guards do, and the fix comes back in the container form torch takes and exports in one round."""

from __future__ import annotations

import collections
import dataclasses
from typing import NamedTuple

import pytest
import torch
from export_support import assert_one_round_fix
from torch.export import Dim

import dimsolve


class Pair(NamedTuple):
    a: torch.Tensor
    b: torch.Tensor


@dataclasses.dataclass
class Operands:
    x: torch.Tensor
    y: torch.Tensor


torch.export.register_dataclass(Operands)


class AddPair(torch.nn.Module):
    def forward(self, p: Pair) -> torch.Tensor:
        return p.a + p.b


class MatmulOperands(torch.nn.Module):
    def forward(self, ops: Operands) -> torch.Tensor:
        return ops.x @ ops.y


class AddQueue(torch.nn.Module):
    def forward(self, q: collections.deque) -> torch.Tensor:
        return q[0] + q[1]


class AddAll(torch.nn.Module):
    def forward(self, o: dict, n: Pair) -> torch.Tensor:
        return o["a"] + o["b"] + n.a


d, e, f = Dim("d"), Dim("e"), Dim("f")
CASES = {
    "namedtuple": (AddPair(), (Pair(torch.randn(4, 3), torch.randn(4, 3)),), {"p": Pair((d, 3), (e, 3))},
                   "p.b.shape[0] must equal p.a.shape[0]"),
    "dataclass": (MatmulOperands(), (Operands(torch.randn(4, 3), torch.randn(3, 6)),),
                  {"ops": [(d, e), (f, 6)]}, "ops.y.shape[0] must equal ops.x.shape[1]"),
    "deque": (AddQueue(), (collections.deque([torch.randn(4, 3), torch.randn(4, 3)]),),
              {"q": collections.deque([(d, 3), (e, 3)])}, "q[1].shape[0] must equal q[0].shape[0]"),
}


@pytest.mark.torch
@pytest.mark.parametrize("kind", sorted(CASES))
def test_relation_across_a_container_is_found_and_fixed_in_its_form(kind):
    model, args, spec, message = CASES[kind]
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert [d.code for d in report.diagnostics] == ["DS201"]
    assert report.diagnostics[0].message == message
    fixed = report.fixed_dynamic_shapes
    (name,) = spec
    assert type(fixed[name]) is type(spec[name])
    assert_one_round_fix(report, model, args, {}, names={"Pair": Pair})


@pytest.mark.torch
def test_each_relation_leads_with_its_own_guard():
    # e = d and f = d: the guard o['b'] == n.a explains f's finding, o['a'] == o['b'] explains e's
    args = (collections.OrderedDict(a=torch.randn(4, 3), b=torch.randn(4, 3)), Pair(torch.randn(4, 3), torch.randn(2)))
    spec = ({"a": (d, 3), "b": (e, 3)}, Pair((f, 3), None))
    report = dimsolve.check_dynamic_shapes(AddAll(), args, dynamic_shapes=spec)
    lead = {d.fixes[0].changes[-1].target: d.facts["guard"] for d in report.diagnostics}
    assert lead == {"e": "o['a'].shape[0] == o['b'].shape[0]", "f": "o['b'].shape[0] == n.a.shape[0]"}
    assert "Pair(a=(d, 3), b=None)" in report.fix_code
    assert_one_round_fix(report, AddAll(), args, {}, names={"Pair": Pair})


@dataclasses.dataclass
class NotRegistered:
    a: torch.Tensor
    b: torch.Tensor


@pytest.mark.torch
def test_an_unregistered_container_is_named_before_any_trace():
    # torch says the spec's structure does not match; the way out is registering the class
    args = (NotRegistered(torch.randn(4, 3), torch.randn(4, 3)),)
    spec = {"p": [(d, 3), (d, 3)]}
    report = dimsolve.check_dynamic_shapes(AddPair(), args, dynamic_shapes=spec)
    assert [(x.code, x.paths) for x in report.diagnostics] == [("DS110", ('dynamic_shapes["p"]',))]
    assert "register_dataclass" in report.diagnostics[0].help[0]
    with pytest.raises(torch._dynamo.exc.UserError):
        torch.export.export(AddPair(), args, dynamic_shapes=spec)
