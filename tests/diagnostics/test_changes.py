import ast

import pytest

from dimsolve.diagnostics.changes import CHANGE_TYPES, change_to_dict, linear_expr, render_change
from dimsolve.diagnostics.model import (
    AddCheck,
    MakeAuto,
    NewRoot,
    Relate,
    SetRange,
    SourceLocation,
    Specialize,
)

TABLE = [
    pytest.param(Relate("dy", "dx"), "dy = dx", id="relate-equal"),
    pytest.param(Relate("dw", "dx", coeff=2, offset=1), "dw = 2*dx + 1", id="relate-affine"),
    pytest.param(Relate("dy", "dx", offset=-6), "dy = dx - 6", id="relate-negative-offset"),
    pytest.param(Relate("n", "_n", coeff=8), "n = 8*_n", id="relate-multiple"),
    pytest.param(Relate("x.shape[0]", "dx", offset=1), "x.shape[0] -> dx + 1", id="relate-path"),
    pytest.param(Specialize("d1", 4), "d1 = 4", id="specialize"),
    pytest.param(Specialize("x.shape[1]", 16), "x.shape[1] -> 16", id="specialize-path"),
    pytest.param(SetRange("dim", 3, 6), 'dim = Dim("dim", min=3, max=6)', id="set-range"),
    pytest.param(SetRange("seq", 2, None), 'seq = Dim("seq", min=2)', id="set-range-unbounded"),
    pytest.param(SetRange("x.shape[0]", 2, 64), "x.shape[0] -> Dim.DYNAMIC(min=2, max=64)", id="set-range-path"),
    pytest.param(NewRoot("_dx", 2, 12), '_dx = Dim("_dx", min=2, max=12)', id="new-root"),
    pytest.param(NewRoot("_n", 2, None), '_n = Dim("_n", min=2)', id="new-root-unbounded"),
    pytest.param(MakeAuto("x.shape[0]"), "x.shape[0] -> Dim.AUTO", id="make-auto-path"),
    pytest.param(MakeAuto("dy"), "dy = Dim.AUTO", id="make-auto-name"),
    pytest.param(AddCheck("a >= 10"), "torch._check(a >= 10)", id="add-check"),
    pytest.param(AddCheck("torch._check(a < 4)"), "torch._check(a < 4)", id="add-check-already-wrapped"),
    pytest.param(
        AddCheck("k <= x.shape[0]", SourceLocation("model.py", 9, "forward")),
        "torch._check(k <= x.shape[0])  # insert before model.py:9 in forward",
        id="add-check-located",
    ),
]


@pytest.mark.parametrize("change, expected", TABLE)
def test_render_change(change, expected):
    assert render_change(change) == expected


@pytest.mark.parametrize("change, expected", TABLE)
def test_rendered_change_is_valid_python(change, expected):
    # a path target renders as "path -> value": the value side alone must parse
    ast.parse(render_change(change).split(" -> ")[-1])


@pytest.mark.parametrize(
    "coeff, offset, expected",
    [(1, 0, "dx"), (2, 0, "2*dx"), (1, 3, "dx + 3"), (3, -1, "3*dx - 1"), (-1, 0, "-dx"), (0, 5, "5")],
)
def test_linear_expr(coeff, offset, expected):
    assert linear_expr("dx", coeff, offset) == expected


def test_every_change_type_has_a_wire_tag():
    assert set(CHANGE_TYPES.values()) == {"set_range", "specialize", "relate", "new_root", "make_auto", "add_check"}
    assert change_to_dict(Relate("dy", "dx")) == {"type": "relate", "target": "dy", "root": "dx", "coeff": 1, "offset": 0}


def test_render_change_rejects_other_values():
    with pytest.raises(TypeError):
        render_change("dy = dx")  # type: ignore[arg-type]


# --- rendered Python, executed with torch, gives the same change back -------------------------


def _exec(line, **env):
    torch = pytest.importorskip("torch")
    ns = {"torch": torch, "Dim": torch.export.Dim, **env}
    exec(line, ns)
    return ns


def _bound(value):
    return None if value is None or value > 2**62 else int(value)


@pytest.mark.torch
@pytest.mark.parametrize(
    "change",
    [Relate("dy", "dx"), Relate("dw", "dx", 2, 1), Relate("dz", "dx", 1, -6), Relate("n", "dx", 8, 0)],
    ids=str,
)
def test_relate_round_trips_through_torch(change):
    torch = pytest.importorskip("torch")
    ns = _exec(render_change(change), dx=torch.export.Dim("dx", min=10, max=100))
    value = ns[change.target]
    if change.coeff == 1 and change.offset == 0:
        assert value is ns["dx"]
        return
    offset, coeff = value.fn(0), value.fn(1) - value.fn(0)
    assert Relate(change.target, value.root.__name__, coeff, offset) == change


@pytest.mark.torch
@pytest.mark.parametrize("change", [SetRange("dim", 3, 6), SetRange("seq", 2, None)], ids=str)
def test_set_range_round_trips_through_torch(change):
    dim = _exec(render_change(change))[change.target]
    assert SetRange(dim.__name__, dim.min, _bound(dim.max)) == change


@pytest.mark.torch
@pytest.mark.parametrize("change", [NewRoot("_dx", 2, 12), NewRoot("_n", 2, None)], ids=str)
def test_new_root_round_trips_through_torch(change):
    dim = _exec(render_change(change))[change.name]
    assert NewRoot(dim.__name__, dim.min, _bound(dim.max)) == change


@pytest.mark.torch
def test_specialize_and_make_auto_round_trip_through_torch():
    torch = pytest.importorskip("torch")
    assert _exec(render_change(Specialize("d1", 4)))["d1"] == 4
    assert _exec(render_change(MakeAuto("dy")))["dy"] is torch.export.Dim.AUTO


@pytest.mark.torch
def test_path_targets_render_a_valid_spec_entry():
    torch = pytest.importorskip("torch")
    entry = render_change(SetRange("x.shape[0]", 2, 64)).split(" -> ")[1]
    hint = eval(entry, {"Dim": torch.export.Dim})  # our own rendered literal, not user input
    assert (hint.min, hint.max) == (2, 64)


@pytest.mark.torch
def test_add_check_runs():
    torch = pytest.importorskip("torch")
    _exec(render_change(AddCheck("a <= x.shape[0]")), a=3, x=torch.zeros(5))
    with pytest.raises(RuntimeError):
        _exec(render_change(AddCheck("a <= x.shape[0]")), a=9, x=torch.zeros(5))
