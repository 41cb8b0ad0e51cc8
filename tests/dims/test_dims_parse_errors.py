"""Every DS1xx error names the offending spec path; all errors are collected, none is raised."""

import pytest
import torch
from dims_helpers import DictInput, FloatInput, IntInput, ListInput, Two, WithKwargs, t
from torch.export import Dim
from torch.export.dynamic_shapes import _DimHint, _DimHintType

from dimsolve.diagnostics import CODES, Severity
from dimsolve.dims import parse_spec

dx = Dim("dx", min=3, max=6)
d = Dim("d")
dy = Dim("dy")


def _bad_root():
    root = Dim("bad", max=5)
    root.min = 9  # torch's constructor refuses this range; a mutated Dim still reaches us
    return root


def _err(id, model, args, spec, code, path, kwargs=None):
    return pytest.param(model, args, kwargs, spec, code, path, id=id)


ERRORS = [
    # DS101: keys and positions
    _err("unknown-key", Two(), (t(4), t(4)), {"x": (d,), "y": (d,), "w": None}, "DS101", 'dynamic_shapes["w"]'),
    _err("missing-key", Two(), (t(4), t(4)), {"x": (d,)}, "DS101", 'dynamic_shapes["y"]'),
    _err("key-of-unpassed-default", WithKwargs(), (t(4),), {"x": (d,), "y": None}, "DS101", 'dynamic_shapes["y"]'),
    _err("extra-position", Two(), (t(4), t(4)), ((d,), (d,), None), "DS101", "dynamic_shapes[2]"),
    _err("missing-position", Two(), (t(4), t(4)), ((d,),), "DS101", "dynamic_shapes"),
    _err("kwargs-out-of-signature-order", WithKwargs(), (t(4),), ((d,), (dy,), None), "DS101", "dynamic_shapes",
         {"z": t(6, 2), "y": t(5)}),
    _err("dict-input-unknown-key", DictInput(), ({"a": t(4), "b": t(4)},), {"inputs": {"a": None, "b": None, "c": None}},
         "DS101", 'dynamic_shapes["inputs"]["c"]'),
    _err("dict-input-missing-key", DictInput(), ({"a": t(4), "b": t(4)},), {"inputs": {"a": (d,)}},
         "DS101", 'dynamic_shapes["inputs"]["b"]'),
    _err("forgot-to-wrap-dict-input", DictInput(), ({"a": t(4), "b": t(4)},), {"a": (d,), "b": (d,)},
         "DS101", 'dynamic_shapes["a"]'),
    _err("list-input-length", ListInput(), ([t(4), t(4)],), {"xs": [(d,)]}, "DS101", 'dynamic_shapes["xs"]'),
    _err("var-keyword-by-name", lambda x, **kw: None, (t(4),), {"x": (d,), "kw": {"a": None}}, "DS101",
         'dynamic_shapes["kw"]', {"a": t(3)}),
    _err("var-keyword-positional", lambda x, **kw: None, (t(4),), ((d,), {"a": None}), "DS101",
         "dynamic_shapes[1]", {"a": t(3)}),
    _err("args-do-not-bind", Two(), (t(4),), None, "DS101", "dynamic_shapes"),
    # DS102: rank
    _err("tuple-too-long", Two(), (t(4, 3), t(4)), {"x": (d, None, None), "y": None}, "DS102", 'dynamic_shapes["x"]'),
    _err("tuple-too-short", Two(), (t(4, 3), t(4)), {"x": (d,), "y": None}, "DS102", 'dynamic_shapes["x"]'),
    _err("positional-rank", Two(), (t(4, 3), t(4)), (None, (d, None)), "DS102", "dynamic_shapes[1]"),
    _err("dict-axis-out-of-range", Two(), (t(4, 3), t(4)), {"x": {2: d}, "y": None}, "DS102", 'dynamic_shapes["x"][2]'),
    _err("dict-axis-below-range", Two(), (t(4, 3), t(4)), {"x": {-3: d}, "y": None}, "DS102", 'dynamic_shapes["x"][-3]'),
    _err("dict-axis-negative", Two(), (t(4, 3), t(4)), {"x": {-1: d}, "y": None}, "DS102", 'dynamic_shapes["x"][-1]'),
    # DS103: non-tensor inputs
    _err("named-dim-on-int", IntInput(), (t(4), 3), {"x": (d,), "n": Dim("n")}, "DS103", 'dynamic_shapes["n"]'),
    _err("int-on-int", IntInput(), (t(4), 3), {"x": (d,), "n": 3}, "DS103", 'dynamic_shapes["n"]'),
    _err("tuple-on-int", IntInput(), (t(4), 3), ((d,), (None,)), "DS103", "dynamic_shapes[1]"),
    _err("auto-on-float", FloatInput(), (t(4), 2.0), {"x": (d,), "f": Dim.AUTO}, "DS103", 'dynamic_shapes["f"]'),
    _err("dim-on-none-input", WithKwargs(), (t(4), None), {"x": (d,), "y": (d,)}, "DS103", 'dynamic_shapes["y"]'),
    # DS104: empty ranges
    _err("hint-min-above-max", Two(), (t(4), t(4)),
         {"x": (_DimHint(_DimHintType.AUTO, min=6, max=3, _factory=False),), "y": None}, "DS104", 'dynamic_shapes["x"][0]'),
    _err("derived-negative-min", Two(), (t(10), t(4)), {"x": (dy,), "y": (dy - 6,)}, "DS104", 'dynamic_shapes["y"][0]'),
    _err("root-min-above-max", Two(), (t(4), t(4)), {"x": (_bad_root(),), "y": None}, "DS104", 'dynamic_shapes["x"][0]'),
    # DS105: example outside the range
    _err("root-outside", Two(), (t(8), t(4)), {"x": (dx,), "y": None}, "DS105", 'dynamic_shapes["x"][0]'),
    _err("derived-outside", Two(), (t(4), t(15)), {"x": None, "y": (2 * dx + 1,)}, "DS105", 'dynamic_shapes["y"][0]'),
    # DS106: not of the derived form
    _err("not-2dx-plus-1", Two(), (t(5), t(10)), {"x": (dx,), "y": (2 * dx + 1,)}, "DS106", 'dynamic_shapes["y"][0]'),
    # DS107: conflicting dims
    _err("same-name-other-range", Two(), (t(4), t(4)), {"x": (Dim("a", max=8),), "y": (Dim("a", max=9),)},
         "DS107", 'dynamic_shapes["y"][0]'),
    _err("root-two-values", Two(), (t(5), t(7)), {"x": (d,), "y": (d + 1,)}, "DS107", 'dynamic_shapes["y"][0]'),
    # DS108: static mismatch
    _err("static-int-mismatch", Two(), (t(4, 3), t(4)), {"x": (d, 5), "y": None}, "DS108", 'dynamic_shapes["x"][1]'),
    _err("static-in-dict-style", Two(), (t(4, 3), t(4)), {"x": {1: 5}, "y": None}, "DS108", 'dynamic_shapes["x"][1]'),
    # DS109: unsupported values
    _err("str-dim", Two(), (t(4), t(4)), {"x": ("batch",), "y": None}, "DS109", 'dynamic_shapes["x"][0]'),
    _err("float-dim", Two(), (t(4), t(4)), {"x": (4.0,), "y": None}, "DS109", 'dynamic_shapes["x"][0]'),
    _err("bool-dim", Two(), (t(4), t(4)), {"x": (True,), "y": None}, "DS109", 'dynamic_shapes["x"][0]'),
    _err("nested-tuple-dim", Two(), (t(4), t(4)), {"x": ((d,),), "y": None}, "DS109", 'dynamic_shapes["x"][0]'),
    _err("top-level-int", Two(), (t(4), t(4)), 3, "DS109", "dynamic_shapes"),
    _err("whole-tensor-int", Two(), (t(4), t(4)), {"x": 4, "y": None}, "DS109", 'dynamic_shapes["x"]'),
    _err("whole-tensor-dim", Two(), (t(4), t(4)), {"x": d, "y": None}, "DS109", 'dynamic_shapes["x"]'),
    _err("axis-key-str", Two(), (t(4), t(4)), {"x": {"0": d}, "y": None}, "DS109", 'dynamic_shapes["x"]["0"]'),
    _err("tuple-for-list-input", ListInput(), ([t(4), t(4)],), {"xs": ((d,), (d,))}, "DS109", 'dynamic_shapes["xs"]'),
    _err("none-for-list-input", ListInput(), ([t(4), t(4)],), {"xs": None}, "DS109", 'dynamic_shapes["xs"]'),
    _err("tuple-for-dict-input", DictInput(), ({"a": t(4), "b": t(4)},), {"inputs": ((d,), (d,))},
         "DS109", 'dynamic_shapes["inputs"]'),
]


@pytest.mark.parametrize("model, args, kwargs, spec, code, path", ERRORS)
def test_error_names_the_path(model, args, kwargs, spec, code, path):
    result = parse_spec(model, args, kwargs, spec)
    assert result.spec is None
    matching = [d for d in result.diagnostics if d.code == code]
    assert matching, [(d.code, d.paths, d.message) for d in result.diagnostics]
    assert path == matching[0].paths[0]


@pytest.mark.parametrize("model, args, kwargs, spec, code, path", ERRORS)
def test_error_wording(model, args, kwargs, spec, code, path):
    for d in parse_spec(model, args, kwargs, spec).diagnostics:
        assert d.code in CODES and d.severity is Severity.ERROR
        assert d.message[:1] == d.message[:1].lower() or not d.message[:1].isalpha(), d.message
        assert not d.message.endswith("."), d.message
        assert d.help and all(h and not h.endswith(".") for h in d.help)
        assert d.paths


class VarArgs(torch.nn.Module):
    def forward(self, *xs):
        return xs[0] + xs[1]


def test_specs_of_star_args_given_one_per_element_are_one_ds101():
    # torch binds *xs as one input: ((d,), (d,)) has one entry too many, not two misplaced specs
    args = (t(4), t(4))
    found = parse_spec(VarArgs(), args, None, ((d,), (d,))).diagnostics
    assert [(f.code, f.paths) for f in found] == [("DS101", ("dynamic_shapes",))]
    assert "group the specs of *xs into one tuple at position 0" in found[0].help[0]
    with pytest.raises(torch._dynamo.exc.UserError):
        torch.export.export(VarArgs(), args, dynamic_shapes=((d,), (d,)))
    assert parse_spec(VarArgs(), args, None, (((d,), (d,)),)).ok  # the grouped form torch takes
    torch.export.export(VarArgs(), args, dynamic_shapes=(((d,), (d,)),))


def test_all_errors_are_collected():
    spec = {"x": (d, 5, None), "y": ("n",), "w": None}
    result = parse_spec(Two(), (t(4, 3), t(4)), None, spec)
    assert [(d.code, d.paths[0]) for d in result.diagnostics] == [
        ("DS101", 'dynamic_shapes["w"]'),
        ("DS102", 'dynamic_shapes["x"]'),
        ("DS109", 'dynamic_shapes["y"][0]'),
        ("DS108", 'dynamic_shapes["x"][1]'),
    ]


def test_valid_names_are_listed():
    (diag,) = parse_spec(Two(), (t(4), t(4)), None, {"x": None, "y": None, "z": None}).diagnostics
    assert "x, y" in diag.help[0]


def test_two_values_names_both_paths():
    (diag,) = parse_spec(Two(), (t(5), t(7)), None, {"x": (d,), "y": (d + 1,)}).diagnostics
    assert diag.paths == ('dynamic_shapes["y"][0]', 'dynamic_shapes["x"][0]')
    assert diag.message == "the Dim d takes two values in the examples: 5 from x.shape[0] and 6 from y.shape[0] = 7 = d + 1"


def test_not_derived_suggests_neighbours():
    (diag,) = parse_spec(Two(), (t(5), t(10)), None, {"x": (dx,), "y": (2 * dx + 1,)}).diagnostics
    assert diag.message == "size 10 of y.shape[0] is not of the form 2*dx + 1"
    assert "9 or 11" in diag.help[0]


def test_outside_range_suggests_a_wider_dim():
    (diag,) = parse_spec(Two(), (t(8), t(4)), None, {"x": (dx,), "y": None}).diagnostics
    assert diag.message == "size 8 of x.shape[0] is outside the range [3, 6] of dx"
    assert 'Dim("dx", min=3, max=8)' in diag.help[0]


def test_derived_negative_min_suggests_the_least_root_min():
    (diag,) = parse_spec(Two(), (t(10), t(4)), None, {"x": (dy,), "y": (dy - 6,)}).diagnostics
    assert 'Dim("dy", min=6)' in diag.help[0]
