"""apply_changes: each SpecChange, composition, pruning, and fixed specs that round-trip through Python."""

import pytest
from dims_helpers import Two, WithKwargs, dims_of, normal_form, roots_of, t
from torch.export import Dim

from dimsolve.diagnostics import AddCheck, MakeAuto, NewRoot, Relate, SetRange, Specialize
from dimsolve.dims import apply_changes, parse_spec, render_python

dx = Dim("dx", min=3, max=6)
dy = Dim("dy")
dz = Dim("dz")


def _base():
    """x: (dx, dy), y: (2*dx + 1, dz), z: static via a dict-style spec on axis 0 only."""
    ds = {"x": (dx, dy), "y": (2 * dx + 1, dz), "z": {0: 6}}
    return parse_spec(WithKwargs(), (t(4, 5),), {"y": t(9, 5), "z": t(6, 2)}, ds).spec


BASE = {
    "x.shape[0]": "dx", "x.shape[1]": "dy", "y.shape[0]": "2*dx + 1", "y.shape[1]": "dz",
    "z.shape[0]": "6", "z.shape[1]": "2",
}


def _with(**changed):
    out = dict(BASE)
    out.update({k.replace("_", ".shape[", 1) + "]": v for k, v in changed.items()})
    return out


CASES = [
    pytest.param([SetRange("dx", 2, 64)], _with(), {"dx": (2, 64), "dy": (0, None), "dz": (0, None)}, id="set-range"),
    pytest.param([Specialize("dx", 4)], _with(x_0="4", y_0="9"), {"dy": (0, None), "dz": (0, None)},
                 id="specialize-root-evaluates-derived"),
    pytest.param([Specialize("y.shape[1]", 5)], _with(y_1="5"), {"dx": (3, 6), "dy": (0, None)},
                 id="specialize-path-prunes-root"),
    pytest.param([Relate("dz", "dy")], _with(y_1="dy"), {"dx": (3, 6), "dy": (0, None)}, id="relate-equal"),
    pytest.param([Relate("dy", "dx", 1, 1)], _with(x_1="dx + 1"), {"dx": (3, 6), "dz": (0, None)}, id="relate-offset"),
    pytest.param([NewRoot("h", 1, 3), Relate("dx", "h", 2)], _with(x_0="2*h", y_0="4*h + 1"),
                 {"h": (1, 3), "dy": (0, None), "dz": (0, None)}, id="new-root-then-relate-composes-derived"),
    pytest.param([Relate("z.shape[1]", "dx", 1, -2)], _with(z_1="dx - 2"), {"dx": (3, 6), "dy": (0, None), "dz": (0, None)},
                 id="relate-path"),
    pytest.param([MakeAuto("dz")], _with(y_1="Dim.AUTO"), {"dx": (3, 6), "dy": (0, None)}, id="make-auto-root"),
    pytest.param([MakeAuto("z.shape[1]")], _with(z_1="Dim.AUTO"), {"dx": (3, 6), "dy": (0, None), "dz": (0, None)},
                 id="make-auto-unwritten-axis"),
    pytest.param([AddCheck("torch._check(x.shape[0] > 2)")], _with(), {"dx": (3, 6), "dy": (0, None), "dz": (0, None)},
                 id="add-check-is-not-a-spec-change"),
    pytest.param([NewRoot("unused", 2, 4)], _with(), {"dx": (3, 6), "dy": (0, None), "dz": (0, None)},
                 id="unused-new-root-is-dropped"),
]


@pytest.mark.parametrize("changes, expected, roots", CASES)
def test_apply(changes, expected, roots):
    fixed = apply_changes(_base(), changes)
    assert dims_of(fixed) == expected
    assert roots_of(fixed) == roots


@pytest.mark.parametrize("changes, expected, roots", CASES)
def test_fixed_spec_round_trips_through_python(changes, expected, roots):
    fixed = apply_changes(_base(), changes)
    namespace: dict = {}
    exec(render_python(fixed), namespace)
    again = parse_spec(WithKwargs(), (t(4, 5),), {"y": t(9, 5), "z": t(6, 2)}, namespace["dynamic_shapes"])
    assert again.diagnostics == ()
    assert normal_form(again.spec) == normal_form(fixed)


def test_set_range_on_a_hint_path():
    spec = parse_spec(Two(), (t(4), t(4)), None, {"x": (Dim.DYNAMIC,), "y": None}).spec
    fixed = apply_changes(spec, [SetRange("x.shape[0]", 2, 8)])
    assert dims_of(fixed)["x.shape[0]"] == "Dim.DYNAMIC(min=2, max=8)"
    assert '"x": (Dim.DYNAMIC(min=2, max=8),)' in render_python(fixed)


def test_changes_to_a_none_spec_keep_the_structure():
    spec = parse_spec(Two(), (t(4, 3), t(4)), None, None).spec
    assert render_python(spec).endswith("dynamic_shapes = None\n")
    fixed = apply_changes(spec, [NewRoot("b", 2, None), Relate("x.shape[0]", "b"), Relate("y.shape[0]", "b")])
    assert render_python(fixed).endswith('dynamic_shapes = {"x": (b, 3), "y": (b,)}\n')


def test_apply_does_not_touch_the_original():
    base = _base()
    apply_changes(base, [Specialize("dx", 4)])
    assert dims_of(base) == BASE


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(Specialize("nope", 3), id="unknown-target"),
        pytest.param(Relate("dx", "nope"), id="unknown-root"),
        pytest.param(MakeAuto("x.shape[7]"), id="unknown-path"),
    ],
)
def test_unknown_targets_raise(change):
    with pytest.raises(ValueError, match="nope|x.shape\\[7\\]"):
        apply_changes(_base(), [change])
