"""Int inputs marked Dim.AUTO / Dim.DYNAMIC are dimensions of the spec (issue #14): parsed with the
int's value as the example, changed through their spec path, rendered as the hint torch takes for an
int, and held to their own range like any other dim (DS105, with the widened range as the fix)."""

import pytest
import torch
from dims_helpers import DictInput, IntInput, Two, t
from torch.export import Dim

from dimsolve.diagnostics import SetRange, Specialize, render_change
from dimsolve.dims import DimKind, apply_changes, parse_spec, render_python, to_torch

dx = Dim("dx", min=3, max=6)


def _scalar(spec, text):
    (entry,) = [e for e in spec.entries if e.path.is_scalar and str(e.path) == text]
    return entry


@pytest.mark.parametrize(
    "model, args, spec, path, spec_path, kind, example",
    [
        pytest.param(IntInput(), (t(4), 3), {"x": (dx,), "n": Dim.DYNAMIC}, "n", 'dynamic_shapes["n"]',
                     DimKind.DYNAMIC, 3, id="top-level"),
        pytest.param(IntInput(), (t(4), 0), ((dx,), Dim.AUTO), "n", "dynamic_shapes[1]", DimKind.AUTO, 0,
                     id="positional-example-0"),
        pytest.param(DictInput(), ({"a": t(4), "b": 7},), {"inputs": {"a": (dx,), "b": Dim.DYNAMIC(max=9)}},
                     "inputs['b']", 'dynamic_shapes["inputs"]["b"]', DimKind.DYNAMIC, 7, id="nested-in-dict"),
    ],
)
def test_a_dynamic_int_is_an_entry_with_its_value_as_example(model, args, spec, path, spec_path, kind, example):
    parsed = parse_spec(model, args, None, spec)
    assert parsed.diagnostics == ()
    entry = _scalar(parsed.spec, path)
    assert (entry.spec_path, entry.dim.kind, entry.example) == (spec_path, kind, example)
    # a change names it by its spec path, never by a bare name a Dim could also have
    assert entry.target == spec_path


def test_a_static_int_stays_out_of_the_spec():
    for spec in ({"x": (dx,), "n": None}, {"x": (dx,), "n": Dim.STATIC}):
        assert not any(e.path.is_scalar for e in parse_spec(IntInput(), (t(4), 3), None, spec).spec.entries)


def test_a_named_dim_on_an_int_is_still_ds103():
    # torch 2.13: "Unable to specify input integers as dynamic through named Dims"
    parsed = parse_spec(IntInput(), (t(4), 3), None, {"x": (dx,), "n": Dim("n")})
    assert [d.code for d in parsed.diagnostics] == ["DS103"]


@pytest.mark.parametrize(
    "change, rendered_line, python, torch_value",
    [
        pytest.param(SetRange('dynamic_shapes["n"]', 2, 8), 'dynamic_shapes["n"] -> Dim.DYNAMIC(min=2, max=8)',
                     '"n": Dim.DYNAMIC(min=2, max=8)', "DimHint(DYNAMIC, min=2, max=8)", id="range"),
        pytest.param(Specialize('dynamic_shapes["n"]', 3), 'dynamic_shapes["n"] -> 3', '"n": None', "None",
                     id="static-is-None"),
    ],
)
def test_a_change_to_an_int_renders_as_torch_takes_it(change, rendered_line, python, torch_value):
    spec = parse_spec(IntInput(), (t(4), 3), None, {"x": (dx,), "n": Dim.DYNAMIC}).spec
    fixed = apply_changes(spec, [change])
    assert render_change(change) == rendered_line
    assert python in render_python(fixed)
    assert repr(to_torch(fixed)["n"]) == torch_value
    # the render -> exec -> parse round trip gives the same spec back
    namespace: dict = {}
    exec(render_python(fixed), namespace)
    again = parse_spec(IntInput(), (t(4), 3), None, namespace["dynamic_shapes"]).spec
    assert [(str(e.path), e.dim) for e in again.entries] == [(str(e.path), e.dim) for e in fixed.entries
                                                               if e.dim.kind is not DimKind.STATIC or not e.path.is_scalar]


@pytest.mark.parametrize(
    "model, args, spec, message, fix_line, fixed_spec",
    [
        pytest.param(Two(), (t(8), t(3)), {"x": (Dim.DYNAMIC(max=4),), "y": None},
                     "size 8 of x.shape[0] is outside the range [0, 4] of Dim.DYNAMIC(max=4)",
                     "x.shape[0] -> Dim.DYNAMIC(max=8)", {"x": (Dim.DYNAMIC(max=8),), "y": None}, id="dynamic-max"),
        pytest.param(Two(), (t(8), t(3)), {"x": (Dim.AUTO(min=10, max=20),), "y": None},
                     "size 8 of x.shape[0] is outside the range [10, 20] of Dim.AUTO(min=10, max=20)",
                     "x.shape[0] -> Dim.DYNAMIC(min=8, max=20)", {"x": (Dim.AUTO(min=8, max=20),), "y": None},
                     id="auto-min"),
        pytest.param(Two(), (t(8), t(3)), {"x": (Dim("b", min=9),), "y": None},
                     "size 8 of x.shape[0] is outside the range [9, inf] of b",
                     'b = Dim("b", min=8)', {"x": (Dim("b", min=8),), "y": None}, id="named"),
        pytest.param(Two(), (t(8), t(3)), {"x": (2 * Dim("b", max=3),), "y": None},
                     "size 8 of x.shape[0] is outside the range [0, 6] of 2*b",
                     'b = Dim("b", max=4)', {"x": (2 * Dim("b", max=4),), "y": None}, id="derived"),
        pytest.param(IntInput(), (t(4), 3), {"x": None, "n": Dim.DYNAMIC(min=5)},
                     "value 3 of n is outside the range [5, inf] of Dim.DYNAMIC(min=5)",
                     'dynamic_shapes["n"] -> Dim.DYNAMIC(min=3)', {"x": None, "n": Dim.DYNAMIC(min=3)}, id="int"),
    ],
)
def test_an_example_outside_its_own_range_is_ds105_for_every_kind(model, args, spec, message, fix_line, fixed_spec):
    (d,) = parse_spec(model, args, None, spec).diagnostics
    assert (d.code, d.message) == ("DS105", message)
    # the fix widens the range just enough to admit the example; the spec it describes parses
    (change,) = d.fixes[0].changes
    assert render_change(change) == fix_line
    assert d.fixes[0].applicability.value == "unverified"  # nothing was traced
    assert parse_spec(model, args, None, fixed_spec).diagnostics == ()


def test_ds105_fix_is_what_torch_then_exports_with():
    """The widened hint range exports and the program runs the example (where the written one made it fail)."""
    class Scale(torch.nn.Module):
        def forward(self, x):
            return x * 2

    (d,) = parse_spec(Scale(), (t(8),), None, {"x": (Dim.DYNAMIC(max=4),)}).diagnostics
    change = d.fixes[0].changes[0]
    spec = parse_spec(Scale(), (t(8),), None, {"x": (Dim.DYNAMIC,)}).spec
    fixed = apply_changes(spec, [change])
    ep = torch.export.export(Scale(), (t(8),), dynamic_shapes=to_torch(fixed))
    ep.module()(t(8))
