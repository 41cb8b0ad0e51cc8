"""Every form torch.export accepts for ``dynamic_shapes`` parses into the same normalised Spec."""

import inspect

import pytest
from dims_helpers import (
    DictInput,
    FloatInput,
    IntInput,
    ListInput,
    Nested,
    Two,
    WithKwargs,
    dims_of,
    roots_of,
    t,
)
from torch.export import Dim, dims

from dimsolve.dims import DimKind, InputPath, NodeKind, parse_spec

dx = Dim("dx", min=3, max=6)
dh = Dim("dh")
dy = Dim("dy", min=6)
dyb = Dim("dyb", min=8, max=64)
dimy = Dim("dimy", min=4, max=20)
d0 = Dim("d0")

TUTORIAL = {"x.shape[0]": "dx", "x.shape[1]": "3", "y.shape[0]": "2*dx", "y.shape[1]": "dh"}


def _case(id, model, args, spec, expected, roots, kwargs=None):
    return pytest.param(model, args, kwargs, spec, expected, roots, id=id)


ACCEPTED = [
    _case("tutorial-dict", Two(), (t(4, 3), t(8, 5)), {"x": (dx, None), "y": (2 * dx, dh)}, TUTORIAL,
          {"dx": (3, 6), "dh": (0, None)}),
    _case("positional-tuple", Two(), (t(4, 3), t(8, 5)), ((dx, None), (2 * dx, dh)), TUTORIAL,
          {"dx": (3, 6), "dh": (0, None)}),
    _case("positional-list", Two(), (t(4, 3), t(8, 5)), [(dx, None), (2 * dx, dh)], TUTORIAL,
          {"dx": (3, 6), "dh": (0, None)}),
    _case("per-tensor-list", Two(), (t(4, 3), t(8, 5)), {"x": [dx, None], "y": [2 * dx, dh]}, TUTORIAL,
          {"dx": (3, 6), "dh": (0, None)}),
    _case("per-tensor-dict", Two(), (t(4, 3), t(8, 5)), {"x": {0: dx}, "y": {0: 2 * dx, 1: dh}}, TUTORIAL,
          {"dx": (3, 6), "dh": (0, None)}),
    _case("ints-and-none-input", Two(), (t(4, 3), t(8, 5)), {"x": (dx, 3), "y": None},
          {"x.shape[0]": "dx", "x.shape[1]": "3", "y.shape[0]": "8", "y.shape[1]": "5"}, {"dx": (3, 6)}),
    _case("dynamic-shapes-none", Two(), (t(4, 3), t(8,)), None,
          {"x.shape[0]": "4", "x.shape[1]": "3", "y.shape[0]": "8"}, {}),
    _case("empty-dict", Two(), (t(4,), t(8,)), {}, {"x.shape[0]": "4", "y.shape[0]": "8"}, {}),
    _case("empty-tuple", Two(), (t(4,), t(8,)), (), {"x.shape[0]": "4", "y.shape[0]": "8"}, {}),
    _case("export-dims", Two(), (t(4,), t(8,)), {"x": dims("da", "db", min=2, max=9)[:1], "y": (Dim("db", min=2, max=9),)},
          {"x.shape[0]": "da", "y.shape[0]": "db"}, {"da": (2, 9), "db": (2, 9)}),
    _case("derived-plus-one", Two(), (t(4,), t(5,)), {"x": (dx,), "y": (dx + 1,)},
          {"x.shape[0]": "dx", "y.shape[0]": "dx + 1"}, {"dx": (3, 6)}),
    _case("derived-2x-plus-1", Two(), (t(4,), t(9,)), {"x": (dx,), "y": (2 * dx + 1,)},
          {"x.shape[0]": "dx", "y.shape[0]": "2*dx + 1"}, {"dx": (3, 6)}),
    _case("derived-minus", Two(), (t(10,), t(4,)), {"x": (dy,), "y": (dy - 6,)},
          {"x.shape[0]": "dy", "y.shape[0]": "dy - 6"}, {"dy": (6, None)}),
    _case("derived-minus-bounded", Two(), (t(10,), t(4,)), {"x": (dyb,), "y": (dyb - 6,)},
          {"x.shape[0]": "dyb", "y.shape[0]": "dyb - 6"}, {"dyb": (8, 64)}),
    _case("derived-out-of-order", Two(), (t(5,), t(6,)), {"x": (dimy - 1,), "y": (dimy,)},
          {"x.shape[0]": "dimy - 1", "y.shape[0]": "dimy"}, {"dimy": (4, 20)}),
    _case("phantom-root", Two(), (t(7,), t(4,)), {"x": (2 * d0 + 1,), "y": (d0 + 1,)},
          {"x.shape[0]": "2*d0 + 1", "y.shape[0]": "d0 + 1"}, {"d0": (0, None)}),
    _case("derived-plus-zero-is-root", Two(), (t(7,), t(7,)), {"x": (d0,), "y": (d0 + 0,)},
          {"x.shape[0]": "d0", "y.shape[0]": "d0"}, {"d0": (0, None)}),
    _case("hints", Two(), (t(4, 3), t(8,)), {"x": (Dim.AUTO, Dim.DYNAMIC), "y": (Dim.STATIC,)},
          {"x.shape[0]": "Dim.AUTO", "x.shape[1]": "Dim.DYNAMIC", "y.shape[0]": "8"}, {}),
    _case("hints-with-bounds", Two(), (t(4,), t(8,)), {"x": (Dim.AUTO(min=2, max=16),), "y": (Dim.DYNAMIC(max=64),)},
          {"x.shape[0]": "Dim.AUTO(min=2, max=16)", "y.shape[0]": "Dim.DYNAMIC(min=None, max=64)"}, {}),
    _case("kwargs-dict", WithKwargs(), (t(4,),), {"x": (dx,), "y": (dh,), "z": None},
          {"x.shape[0]": "dx", "y.shape[0]": "dh", "z.shape[0]": "6"}, {"dx": (3, 6), "dh": (0, None)},
          kwargs={"y": t(5), "z": t(6)}),
    _case("kwargs-positional-in-signature-order", WithKwargs(), (t(4,),), ((dx,), (dh,), None),
          {"x.shape[0]": "dx", "y.shape[0]": "dh", "z.shape[0]": "6"}, {"dx": (3, 6), "dh": (0, None)},
          kwargs={"y": t(5), "z": t(6)}),
    _case("unpassed-default-omitted", WithKwargs(), (t(4,),), {"x": (dx,)}, {"x.shape[0]": "dx"}, {"dx": (3, 6)}),
    _case("list-input", ListInput(), ([t(4, 2), t(4, 3)],), {"xs": [(dx, None), (dx, None)]},
          {"xs[0].shape[0]": "dx", "xs[0].shape[1]": "2", "xs[1].shape[0]": "dx", "xs[1].shape[1]": "3"}, {"dx": (3, 6)}),
    _case("dict-input", DictInput(), ({"a": t(4), "b": t(4)},), {"inputs": {"b": (dx,), "a": (dx,)}},
          {"inputs['a'].shape[0]": "dx", "inputs['b'].shape[0]": "dx"}, {"dx": (3, 6)}),
    _case("nested-list-of-dict", Nested(), ([{"a": t(2, 4)}, t(4)], t(3)),
          {"inputs": [{"a": (None, dx)}, (dx,)], "w": None},
          {"inputs[0]['a'].shape[0]": "2", "inputs[0]['a'].shape[1]": "dx", "inputs[1].shape[0]": "dx", "w.shape[0]": "3"},
          {"dx": (3, 6)}),
    _case("var-positional", lambda x, *rest: None, (t(4,), t(5), t(6)), {"x": None, "rest": ((dx,), None)},
          {"x.shape[0]": "4", "rest[0].shape[0]": "dx", "rest[1].shape[0]": "6"}, {"dx": (3, 6)}),
    _case("var-keyword-without-spec", lambda x, **kw: None, (t(4,),), None, {"x.shape[0]": "4", "kw['a'].shape[0]": "3"}, {},
          kwargs={"a": t(3)}),
    _case("int-input-none", IntInput(), (t(4,), 3), {"x": (dx,), "n": None}, {"x.shape[0]": "dx"}, {"dx": (3, 6)}),
    # an int marked Dim.AUTO / Dim.DYNAMIC is a dimension of the spec (torch makes it a symbol); Dim.STATIC is not
    _case("int-input-auto", IntInput(), (t(4,), 3), {"x": (dx,), "n": Dim.AUTO}, {"x.shape[0]": "dx", "n": "Dim.AUTO"},
          {"dx": (3, 6)}),
    _case("int-input-dynamic-bounds", IntInput(), (t(4,), 3), {"x": (dx,), "n": Dim.DYNAMIC(min=1, max=8)},
          {"x.shape[0]": "dx", "n": "Dim.DYNAMIC(min=1, max=8)"}, {"dx": (3, 6)}),
    _case("int-input-static-hint", IntInput(), (t(4,), 3), {"x": (dx,), "n": Dim.STATIC}, {"x.shape[0]": "dx"},
          {"dx": (3, 6)}),
    _case("int-in-dict-input", DictInput(), ({"a": t(4,), "b": 5},), {"inputs": {"a": (dx,), "b": Dim.DYNAMIC}},
          {"inputs['a'].shape[0]": "dx", "inputs['b']": "Dim.DYNAMIC"}, {"dx": (3, 6)}),
    _case("float-input-none", FloatInput(), (t(4,), 2.0), ((dx,), None), {"x.shape[0]": "dx"}, {"dx": (3, 6)}),
]


@pytest.mark.parametrize("model, args, kwargs, spec, expected, roots", ACCEPTED)
def test_accepted_forms(model, args, kwargs, spec, expected, roots):
    result = parse_spec(model, args, kwargs, spec)
    assert result.diagnostics == ()
    assert dims_of(result.spec) == expected
    assert roots_of(result.spec) == roots


@pytest.mark.parametrize("model, args, kwargs, spec, expected, roots", ACCEPTED)
def test_examples_are_recorded(model, args, kwargs, spec, expected, roots):
    result = parse_spec(model, args, kwargs, spec)
    for e in result.spec.entries:
        assert e.path.input.keys[0] in result.spec.params
        if e.dim.kind is DimKind.STATIC:
            assert e.dim.value == e.example


@pytest.mark.parametrize(
    "model, args, spec, spec_paths",
    [
        pytest.param(Two(), (t(4, 3), t(8)), {"x": (dx, None), "y": None},
                     ['dynamic_shapes["x"][0]', 'dynamic_shapes["x"][1]', 'dynamic_shapes["y"][0]'], id="dict"),
        pytest.param(Two(), (t(4, 3), t(8)), ((dx, None), None),
                     ["dynamic_shapes[0][0]", "dynamic_shapes[0][1]", "dynamic_shapes[1][0]"], id="tuple"),
        pytest.param(Two(), (t(4, 3), t(8)), {"x": {1: dx}, "y": None},
                     ['dynamic_shapes["x"][0]', 'dynamic_shapes["x"][1]', 'dynamic_shapes["y"][0]'], id="dict-axis"),
        pytest.param(Nested(), ([{"a": t(2, 4)}, t(4)], t(3)), {"inputs": [{"a": (None, dx)}, (dx,)], "w": None},
                     ['dynamic_shapes["inputs"][0]["a"][0]', 'dynamic_shapes["inputs"][0]["a"][1]',
                      'dynamic_shapes["inputs"][1][0]', 'dynamic_shapes["w"][0]'], id="nested"),
    ],
)
def test_spec_paths_use_the_users_spelling(model, args, spec, spec_paths):
    result = parse_spec(model, args, None, spec)
    assert [e.spec_path for e in result.spec.entries] == spec_paths


def test_input_paths_start_with_the_parameter_name():
    result = parse_spec(Nested(), ([{"a": t(2, 4)}, t(4)], t(3)), None, {"inputs": [{"a": (None, dx)}, (dx,)], "w": None})
    assert [e.path.input for e in result.spec.entries][::2] == [InputPath(("inputs", 0, "a")), InputPath(("inputs", 1))]
    assert result.spec.params == ("inputs", "w")


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(lambda x, y: None, id="function"),
        pytest.param(inspect.signature(lambda x, y: None), id="signature"),
        pytest.param(Two(), id="module"),
    ],
)
def test_signature_sources(target):
    result = parse_spec(target, (t(4), t(5)), None, {"x": (dx,), "y": (dx + 1,)})
    assert dims_of(result.spec) == {"x.shape[0]": "dx", "y.shape[0]": "dx + 1"}


def test_layout_keeps_the_users_structure():
    spec = parse_spec(Nested(), ([{"a": t(2, 4)}, t(4)], t(3)), None, {"w": None, "inputs": [{"a": {1: dx}}, [dx]]}).spec
    top = spec.layout
    assert top.kind is NodeKind.DICT and top.keys == ("w", "inputs")
    inputs = top.children[1]
    assert inputs.kind is NodeKind.LIST
    a = inputs.children[0].children[0]
    assert (a.kind, a.style, a.axes) == (NodeKind.TENSOR, "dict", (1,))
    assert inputs.children[1].style == "list"


def test_int_input_hint_is_kept_in_layout():
    spec = parse_spec(IntInput(), (t(4), 3), None, {"x": (dx,), "n": Dim.DYNAMIC(min=2)}).spec
    node = spec.layout.children[1]
    assert (node.kind, node.style) == (NodeKind.OTHER, "dynamic:2:")
