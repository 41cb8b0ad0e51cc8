"""render_python snapshots, the render -> exec -> parse round trip, and to_torch."""

import logging

import pytest
import torch
from dims_helpers import DictInput, IntInput, ListInput, Nested, Two, WithKwargs, normal_form, t
from test_dims_parse_forms import ACCEPTED
from torch.export import Dim

from dimsolve.diagnostics import SetRange
from dimsolve.dims import DimKind, DimPath, DimSpec, InputPath, RootDim, Spec, SpecEntry, apply_changes, parse_spec
from dimsolve.dims import render_python, to_torch

dx = Dim("dx", min=3, max=6)
dh = Dim("dh")
dk = Dim("dk", min=2)

HEADER = "from torch.export import Dim\n\n"

SNAPSHOTS = [
    pytest.param(Two(), (t(4, 3), t(8, 5)), None, {"x": (dx, None), "y": (2 * dx, dh)},
                 'dx = Dim("dx", min=3, max=6)\ndh = Dim("dh")\n\ndynamic_shapes = {"x": (dx, 3), "y": (2*dx, dh)}\n',
                 id="tutorial"),
    pytest.param(Two(), (t(4, 3), t(8, 5)), None, [(dx, None), None],
                 'dx = Dim("dx", min=3, max=6)\n\ndynamic_shapes = [(dx, 3), None]\n', id="positional-list"),
    pytest.param(Two(), (t(4, 3), t(9)), None, {"y": {0: 2 * dx + 1}, "x": {0: dx, 1: 3}},
                 'dx = Dim("dx", min=3, max=6)\n\ndynamic_shapes = {"y": {0: 2*dx + 1}, "x": {0: dx, 1: 3}}\n',
                 id="dict-style-in-user-order"),
    pytest.param(Two(), (t(4), t(9)), None, {"x": (dh,), "y": (dx + 5,)},
                 'dh = Dim("dh")\ndx = Dim("dx", min=3, max=6)\n\ndynamic_shapes = {"x": (dh,), "y": (dx + 5,)}\n',
                 id="roots-in-order-of-first-use"),
    pytest.param(Two(), (t(4), t(9)), None, None, "dynamic_shapes = None\n", id="none"),
    pytest.param(ListInput(), ([t(4, 2), t(4, 3)],), None, {"xs": [(dx, None), [dx, None]]},
                 'dx = Dim("dx", min=3, max=6)\n\ndynamic_shapes = {"xs": [(dx, 2), [dx, 3]]}\n', id="list-input"),
    pytest.param(DictInput(), ({"a": t(4), "b": t(4)},), None, {"inputs": {"b": (Dim.AUTO,), "a": (Dim.DYNAMIC(max=8),)}},
                 'dynamic_shapes = {"inputs": {"b": (Dim.AUTO,), "a": (Dim.DYNAMIC(max=8),)}}\n', id="dict-input-hints"),
    pytest.param(IntInput(), (t(4), 3), None, ((Dim.STATIC,), Dim.AUTO(min=2, max=9)),
                 "dynamic_shapes = ((4,), Dim.AUTO(min=2, max=9))\n", id="int-input-hint"),
    pytest.param(WithKwargs(), (t(4),), {"y": t(5), "z": t(6)}, {"z": None, "y": (dk,), "x": (dk - 1,)},
                 'dk = Dim("dk", min=2)\n\ndynamic_shapes = {"z": None, "y": (dk,), "x": (dk - 1,)}\n', id="kwargs"),
]


@pytest.mark.parametrize("model, args, kwargs, ds, expected", SNAPSHOTS)
def test_render_snapshot(model, args, kwargs, ds, expected):
    spec = parse_spec(model, args, kwargs, ds).spec
    assert render_python(spec) == HEADER + expected


def test_render_is_deterministic():
    spec = parse_spec(Two(), (t(4, 3), t(8, 5)), None, {"x": (dx, None), "y": (2 * dx, dh)}).spec
    assert len({render_python(spec) for _ in range(5)}) == 1


def test_var_name():
    spec = parse_spec(Two(), (t(4), t(4)), None, {"x": (dh,), "y": None}).spec
    assert render_python(spec, var_name="ds").endswith('\nds = {"x": (dh,), "y": None}\n')


def test_long_specs_break_one_input_per_line():
    names = [f"input_number_{i}" for i in range(6)]
    sig_fn = eval("lambda " + ", ".join(names) + ": None")
    spec = parse_spec(sig_fn, tuple(t(4) for _ in names), None, {n: (dh,) for n in names}).spec
    body = render_python(spec).split("\n\n")[-1]
    assert body.splitlines()[0] == "dynamic_shapes = {"
    assert body.splitlines()[1] == '    "input_number_0": (dh,),'
    assert body.endswith("}\n")


def test_root_names_that_clash_with_the_code_get_another_variable():
    spec = parse_spec(Two(), (t(4), t(5)), None, {"x": (Dim("Dim"),), "y": (Dim("dynamic_shapes"),)}).spec
    code = render_python(spec)
    assert 'Dim_ = Dim("Dim")' in code and 'dynamic_shapes_ = Dim("dynamic_shapes")' in code
    namespace: dict = {}
    exec(code, namespace)
    assert parse_spec(Two(), (t(4), t(5)), None, namespace["dynamic_shapes"]).spec.roots.keys() == {"Dim", "dynamic_shapes"}


def test_a_root_of_one_value_renders_static():
    spec = parse_spec(Two(), (t(4), t(9)), None, {"x": (dx,), "y": (2 * dx + 1,)}).spec
    pinned = apply_changes(spec, [SetRange("dx", 4, 4)])
    assert render_python(pinned) == HEADER + 'dynamic_shapes = {"x": (4,), "y": (9,)}\n'


def test_spec_without_layout_gets_a_dict_by_name():
    entry = SpecEntry(DimPath(InputPath(("x",)), 0), 'dynamic_shapes["x"][0]', DimSpec(DimKind.ROOT, root="b"), 4)
    spec = Spec((entry,), {"b": RootDim("b", 2, 8)}, None, ("x", "n"))
    assert render_python(spec) == HEADER + 'b = Dim("b", min=2, max=8)\n\ndynamic_shapes = {"x": (b,), "n": None}\n'


def test_empty_range_cannot_be_rendered():
    entry = SpecEntry(DimPath(InputPath(("x",)), 0), 'dynamic_shapes["x"][0]', DimSpec(DimKind.ROOT, root="b"), 4)
    spec = Spec((entry,), {"b": RootDim("b", 9, 2)}, None, ("x",))
    with pytest.raises(ValueError, match="min 9 greater than its max 2"):
        render_python(spec)


# --- round trips ---------------------------------------------------------------------------------


def _exec(code: str):
    namespace: dict = {}
    exec(code, namespace)
    return namespace["dynamic_shapes"]


@pytest.mark.parametrize("model, args, kwargs, spec, expected, roots", ACCEPTED)
def test_render_exec_parse_round_trip(model, args, kwargs, spec, expected, roots):
    parsed = parse_spec(model, args, kwargs, spec).spec
    again = parse_spec(model, args, kwargs, _exec(render_python(parsed)))
    assert again.diagnostics == ()
    assert normal_form(again.spec) == normal_form(parsed)
    assert render_python(again.spec) == render_python(parsed)


@pytest.mark.parametrize("model, args, kwargs, spec, expected, roots", ACCEPTED)
def test_to_torch_parse_round_trip(model, args, kwargs, spec, expected, roots):
    parsed = parse_spec(model, args, kwargs, spec).spec
    again = parse_spec(model, args, kwargs, to_torch(parsed))
    assert again.diagnostics == ()
    assert normal_form(again.spec) == normal_form(parsed)


def test_to_torch_objects():
    spec = parse_spec(Two(), (t(4, 3), t(9, 5)), None, {"x": (dx, None), "y": (2 * dx + 1, Dim.AUTO)}).spec
    ds = to_torch(spec)
    (x0, x1), (y0, y1) = ds["x"], ds["y"]
    assert (type(x0).__name__, x0.__name__, x0.min, x0.max, x1) == ("Dim", "dx", 3, 6, 3)
    assert (y0.root is x0, y0.__name__) == (True, "2*dx + 1")
    assert y1 is Dim.AUTO


EXPORTED = [
    pytest.param(Two(), (t(4, 3), t(8, 5)), None, {"x": (dx, None), "y": (2 * dx, dh)}, id="tutorial"),
    pytest.param(WithKwargs(), (t(4),), {"y": t(5), "z": t(6)}, ((dx,), (dx + 1,), None), id="kwargs-positional"),
    pytest.param(Nested(), ([{"a": t(2, 4)}, t(4)], t(3)), None, {"inputs": [{"a": (None, dx)}, (dx,)], "w": None},
                 id="nested"),
    pytest.param(IntInput(), (t(4), 3), None, {"x": (Dim.AUTO,), "n": Dim.DYNAMIC}, id="hints"),
    pytest.param(Two(), (t(5), t(6)), None, {"x": (Dim("dimy", min=4, max=20) - 1,), "y": (Dim("dimy", min=4, max=20),)},
                 id="out-of-order-derived"),
]


@pytest.mark.torch
@pytest.mark.parametrize("model, args, kwargs, ds", EXPORTED)
def test_to_torch_is_accepted_by_torch_export(model, args, kwargs, ds):
    logging.getLogger("torch.export.dynamic_shapes").setLevel(logging.ERROR)
    spec = parse_spec(model, args, kwargs, ds).spec
    ep = torch.export.export(model, args, kwargs, dynamic_shapes=to_torch(spec))
    assert ep.range_constraints  # every case has at least one dynamic dimension
