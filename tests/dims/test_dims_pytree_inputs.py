"""Inputs of every container kind torch flattens: namedtuples, deques, dict subclasses and classes
registered with torch's pytree (dataclasses). Each takes the spec form torch takes for it, its paths
read as the user writes them (``p.a``), and a fixed spec is rebuilt in that same form."""

from __future__ import annotations

import collections
import dataclasses
import enum
from typing import NamedTuple

import pytest
import torch
from dims_helpers import dims_of, t
from torch.export import Dim

from dimsolve.dims import parse_spec
from dimsolve.dims.render import render_python, to_torch


class Pair(NamedTuple):
    a: torch.Tensor
    b: torch.Tensor


class Other(NamedTuple):
    a: object
    b: object


@dataclasses.dataclass
class Batch:
    x: torch.Tensor
    y: torch.Tensor


torch.export.register_dataclass(Batch)


class Takes(torch.nn.Module):
    def forward(self, p, extra=None):
        return p


class TakesTwo(torch.nn.Module):
    def forward(self, p, extra):
        return p + 1


d, e = Dim("d"), Dim("e")
PAIR = Pair(t(4, 3), t(4, 3))
BATCH = Batch(t(4, 3), t(3, 6))
QUEUE = collections.deque([t(4, 3), t(4, 3)])


@pytest.mark.parametrize("value, spec, dims", [
    (PAIR, Pair((d, 3), (e, 3)), {"p.a.shape[0]": "d", "p.b.shape[0]": "e"}),
    (BATCH, [(d, 3), (3, e)], {"p.x.shape[0]": "d", "p.y.shape[1]": "e"}),
    (QUEUE, collections.deque([(d, 3), (e, 3)]), {"p[0].shape[0]": "d", "p[1].shape[0]": "e"}),
    (collections.OrderedDict(k=t(4, 3)), {"k": (d, 3)}, {"p['k'].shape[0]": "d"}),
])
def test_each_kind_parses_in_the_form_torch_takes(value, spec, dims):
    parsed = parse_spec(Takes(), (value,), None, {"p": spec})
    assert parsed.ok, parsed.diagnostics
    assert dims.items() <= dims_of(parsed.spec).items()


@pytest.mark.parametrize("value, spec, wanted", [
    (PAIR, ((d, 3), (e, 3)), "give Pair(...)"),
    (PAIR, [(d, 3), (e, 3)], "give Pair(...)"),
    (PAIR, Other((d, 3), (e, 3)), "give Pair(...)"),
    (PAIR, None, "give Pair(...)"),
    (BATCH, Batch((d, 3), (3, e)), "give a list [x, y]"),
    (BATCH, {"x": (d, 3), "y": (3, e)}, "give a list [x, y]"),
    (BATCH, ((d, 3), (3, e)), "give a list [x, y]"),
    (QUEUE, [(d, 3), (e, 3)], "give a deque"),
])
def test_a_form_torch_refuses_is_a_ds109_naming_the_input(value, spec, wanted):
    parsed = parse_spec(Takes(), (value,), None, {"p": spec})
    (finding,) = [f for f in parsed.diagnostics if f.code == "DS109"]
    assert finding.paths == ('dynamic_shapes["p"]',)
    assert any(h.startswith(wanted) for h in finding.help)
    with pytest.raises(Exception):  # noqa: B017 - torch's own error types differ per kind
        torch.export.export(Takes(), (value,), dynamic_shapes={"p": spec})


@pytest.mark.parametrize("value, spec", [
    (Pair(t(4, 3), t(8, 3)), Pair((d, 3), (2 * d, 3))),
    (BATCH, [(d, 3), (3, e)]),
    (QUEUE, collections.deque([(d, 3), (d, 3)])),
])
def test_torch_objects_rebuild_the_users_form_and_torch_takes_them(value, spec):
    parsed = parse_spec(Takes(), (value,), None, {"p": spec})
    rebuilt = to_torch(parsed.spec)["p"]
    assert type(rebuilt) is type(spec)
    torch.export.export(Takes(), (value,), dynamic_shapes={"p": rebuilt})


def test_python_source_names_the_users_class():
    parsed = parse_spec(Takes(), (PAIR,), None, {"p": Pair((d, 3), (e, 3))})
    assert "Pair(a=(d, 3), b=(e, 3))" in render_python(parsed.spec)
    queue = parse_spec(Takes(), (QUEUE,), None, {"p": collections.deque([(d, 3), (d, 3)])})
    source = render_python(queue.spec)
    assert source.startswith("import collections\n") and "collections.deque([(d, 3), (d, 3)])" in source


@dataclasses.dataclass
class Unregistered:
    x: torch.Tensor


class Mode(enum.Enum):
    FAST = 1


@pytest.mark.parametrize("value", [Unregistered(t(4, 3)), torch.device("cpu"), object()],
                         ids=["dataclass", "device", "object"])
def test_an_input_torch_cannot_flatten_is_a_ds110_at_its_path(value):
    parsed = parse_spec(Takes(), (t(2), {"state": value}), None, {"p": None, "extra": {"state": None}})
    (finding,) = parsed.diagnostics
    assert finding.code == "DS110" and finding.paths == ('dynamic_shapes["extra"]["state"]',)
    assert finding.message == f"extra['state'] is a {type(value).__name__}, which torch.export cannot take as an input"
    with pytest.raises((ValueError, AssertionError, torch._dynamo.exc.UserError)):
        torch.export.export(TakesTwo(), (t(2), {"state": value}))


@pytest.mark.parametrize("value", [Mode.FAST, 2.5, "text", True, None])
def test_values_torch_takes_as_constants_are_not_flagged(value):
    assert parse_spec(Takes(), (t(2), value), None, {"p": None, "extra": None}).ok
    torch.export.export(TakesTwo(), (t(2), value))
