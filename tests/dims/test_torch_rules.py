"""torch 2.13's checks on a spec, walked one error path at a time (issue #14).

For every rule ``dims.torch_rules`` models: a spec that breaks it makes real torch raise the error
named in the row, ``breaches`` names the rule, and where ``repair`` can rewrite the spec without
changing the sizes it admits, torch exports the repaired spec.
"""

import sys
from dataclasses import replace

import pytest
import torch
from dims_helpers import IntInput, t
from torch.export import Dim

from dimsolve.diagnostics import SetRange
from dimsolve.dims import DimKind, DimSpec, RootDim, parse_spec, to_torch
from dimsolve.dims.torch_rules import breaches, repair

pytestmark = pytest.mark.torch


class Cat3(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([x, x, x])[2:] + y


class Single(torch.nn.Module):
    def forward(self, x):
        return x * 2


class Slice(torch.nn.Module):
    def forward(self, x, n):
        return x[:n] * 2


def _cat3(root: RootDim):
    """x: dx, y: 3*dx - 2 (x = 4, y = 10) with dx's range replaced by ``root``."""
    dx = Dim("dx", min=1)
    spec = parse_spec(Cat3(), (t(4), t(10)), None, {"x": (dx,), "y": (3 * dx - 2,)}).spec
    return Cat3(), (t(4), t(10)), replace(spec, roots={"dx": root})


def _phantom():
    """x: 3*dx - 2 alone (dx used by no input directly) with the example 9, not of that form."""
    dx = Dim("dx", min=1)
    spec = parse_spec(Single(), (t(10),), None, {"x": (3 * dx - 2,)}).spec
    (entry,) = spec.entries
    return Single(), (t(9),), replace(spec, entries=(replace(entry, example=9),))


def _hint(dim: DimSpec):
    spec = parse_spec(Single(), (t(8),), None, {"x": (Dim.DYNAMIC,)}).spec
    (entry,) = spec.entries
    return Single(), (t(8),), replace(spec, entries=(replace(entry, dim=dim),))


def _named_int():
    spec = parse_spec(Slice(), (t(8), 3), None, {"x": None, "n": Dim.DYNAMIC}).spec
    entries = tuple(replace(e, dim=DimSpec(DimKind.ROOT, root="n")) if e.path.is_scalar else e for e in spec.entries)
    return Slice(), (t(8), 3), replace(spec, entries=entries, roots={"n": RootDim("n", 2, 8)})


def _outside():
    spec = parse_spec(Single(), (t(4),), None, {"x": (Dim("dx", max=8),)}).spec
    return Single(), (t(9),), replace(spec, entries=(replace(spec.entries[0], example=9),))


RULES = [
    pytest.param(lambda: _cat3(RootDim("dx", 0)), "derived-min", "Expected derived min value of 3\\*dx - 2 to be >= 0",
                 True, id="derived-min"),
    pytest.param(lambda: _cat3(RootDim("dx", 1, sys.maxsize)), "derived-max", "Expected derived max value of 3\\*dx - 2",
                 True, id="derived-max"),
    pytest.param(lambda: _hint(DimSpec(DimKind.DYNAMIC, min=-1)), "hint-range", "min must be non-negative",
                 True, id="hint-negative-min"),
    pytest.param(_named_int, "named-int", "Unable to specify input integers as dynamic through named Dims",
                 True, id="named-dim-on-int"),
    pytest.param(_phantom, "phantom-root", "to be of the form 3\\*dx - 2, where dx is an integer", False,
                 id="phantom-root-not-of-the-form"),
    pytest.param(_outside, "example-range", "not in range", False, id="example-outside-range"),
]


@pytest.mark.parametrize("build, rule, torch_error, repairable", RULES)
def test_each_rule_is_an_error_torch_raises_and_breaches_names_it(build, rule, torch_error, repairable):
    model, args, spec = build()
    with pytest.raises(Exception, match=torch_error):
        torch.export.export(model, args, dynamic_shapes=to_torch(spec))
    assert rule in [b.rule for b in breaches(spec)]
    repaired, _ = repair(spec)
    if not repairable:
        assert rule in [b.rule for b in breaches(repaired)]
        return
    assert breaches(repaired) == []
    torch.export.export(model, args, dynamic_shapes=to_torch(repaired))


def test_repair_raises_a_root_min_only_as_far_as_the_derived_dims_need():
    _, _, spec = _cat3(RootDim("dx", 0))
    repaired, changes = repair(spec)
    assert changes == (SetRange("dx", 1, None),)
    assert repaired.roots["dx"] == RootDim("dx", 1, None)


def test_an_inconsistent_root_range_is_named_and_torch_refuses_the_dim():
    with pytest.raises(AssertionError, match="Cannot create Dim with inconsistent min=5, max=3"):
        Dim("dx", min=5, max=3)
    _, _, spec = _cat3(RootDim("dx", 5, 3))
    assert "root-range" in [b.rule for b in breaches(spec)]


def test_a_one_value_root_is_written_as_its_size_not_as_a_dim_torch_refuses():
    with pytest.raises(AssertionError, match="inconsistent min=4, max=4"):
        Dim("dx", min=4, max=4)
    _, args, spec = _cat3(RootDim("dx", 4, 4))
    assert breaches(spec) == []
    assert to_torch(spec) == {"x": (4,), "y": (10,)}
    torch.export.export(Cat3(), args, dynamic_shapes=to_torch(spec))


def test_one_dim_object_per_root_so_torch_never_sees_two_definitions():
    # torch: "Found different definitions Dim('dx', ...) and Dim('dx', ...) for the same symbolic dimension"
    _, args, spec = _cat3(RootDim("dx", 1))
    shapes = to_torch(spec)
    assert shapes["x"][0] is shapes["y"][0].root
    torch.export.export(Cat3(), args, dynamic_shapes=shapes)


def test_a_valid_spec_breaks_no_rule():
    spec = parse_spec(IntInput(), (t(4), 3), None, {"x": (Dim("dx", min=2),), "n": Dim.DYNAMIC(max=9)}).spec
    assert breaches(spec) == []
    assert repair(spec) == (spec, ())
