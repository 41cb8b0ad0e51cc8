"""The dynamic-shape cases of the torch.export tutorial and of PyTorch's test_export.py, as dimsolve tests.

Every case goes through the same checks against *real* torch.export:

1. the verdict agrees with torch (dimsolve ok <=> torch exports), except for silent narrowing, where
   torch exports and the program then rejects, at run time, the counterexample dimsolve reports;
2. the expected codes, each guard located at the right line of the test model's ``forward``, and a
   counterexample the original spec admits (and the fixed spec no longer does);
3. ``report.fixed_dynamic_shapes`` and ``exec(report.fix_code)`` both export in one round.

The key fix of each reference case (what torch's own "Suggested fixes" say) is asserted separately below.
"""

from __future__ import annotations

import pytest
import torch
from export_support import (
    Case,
    Expect,
    admitted_sizes,
    assert_codes,
    assert_counterexamples_admitted,
    assert_location,
    assert_one_round_fix,
    assert_silent_narrowing,
    exec_fix_code,
    find_violation,
    linear_form,
    report_for,
    root_dims,
    torch_export,
)
from torch.export import Dim

import reference_models as rm
from dimsolve.diagnostics.model import MakeAuto, NewRoot, Relate, SetRange, Specialize

# --- the cases -----------------------------------------------------------------------------------


def tutorial_violation():
    dx, dy, d1 = Dim("dx"), Dim("dy"), Dim("d1")
    return (rm.BroadcastThenOnes(), (torch.randn(6, 4), torch.randn(6, 4)), {},
            {"x": (dx, d1), "y": (dy, d1)})


def tutorial_violation_fixed():
    dx = Dim("dx")
    return rm.BroadcastThenOnes(), (torch.randn(6, 4), torch.randn(6, 4)), {}, {"x": (dx, 4), "y": (dx, 4)}


def _four_inputs():
    return rm.FourInputs(), (torch.randn(6, 5), torch.randn(4), torch.randn(8, 4), torch.randn(32))


def tutorial_dynamic_model_named():
    dw0, dw1, dx, dy0, dy1, dz = (Dim(n) for n in ("dw0", "dw1", "dx", "dy0", "dy1", "dz"))
    model, args = _four_inputs()
    return model, args, {}, {"w": (dw0, dw1), "x": (dx,), "y": (dy0, dy1), "z": (dz,)}


def tutorial_dynamic_model_auto():
    model, args = _four_inputs()
    auto = Dim.AUTO
    return model, args, {}, {"w": (auto, auto), "x": (auto,), "y": (auto, auto), "z": (auto,)}


def tutorial_dynamic_model_named_valid():
    dw0, dx, dy0 = Dim("dw0"), Dim("dx"), Dim("dy0")
    model, args = _four_inputs()
    return model, args, {}, {"w": (dw0, 5), "x": (dx,), "y": (dy0, dx), "z": (Dim.AUTO,)}


def tutorial_named_dims(related: bool):
    dx, dh = Dim("dx", min=4, max=256), Dim("dh", max=512)
    dy = 2 * dx if related else Dim("dy", min=8, max=512)
    return rm.TwiceAsLong(), (torch.randn(8, 3), torch.randn(16, 5)), {}, {"x": (dx, None), "y": (dy, dh)}


def tutorial_divisibility(divisible: bool):
    d = 4 * Dim("dx", min=4, max=512) if divisible else Dim("dx", min=16, max=2048)
    return rm.GroupsOfFour(), (torch.randn(32, 3),), {}, {"x": (d, None)}


def derived_basic(kind: str):
    dimx = Dim("dimx", min=3, max=6)
    dimy = {"unrelated": Dim("dimy", min=4, max=7), "double": dimx * 2, "plus-one": dimx + 1}[kind]
    return rm.DropFirst(), (torch.randn(5), torch.randn(6)), {}, ({0: dimx}, {0: dimy})


def derived_nested_odd():
    dimx = Dim("dimx", min=3, max=6)
    return rm.OddPositions(), (torch.randn(5), torch.randn(11)), {}, ({0: dimx}, {0: dimx * 2 + 1})


def derived_nested_shifted(kind: str):
    dimx = Dim("dimx", min=3, max=6)
    dimz, dimy = {"same-root": (dimx, dimx * 2 - 1), "bad": (dimx + 1, dimx * 2 - 1),
                  "plus-one": (dimx + 1, dimx * 2 + 1)}[kind]
    return rm.ShiftedOddPositions(), (torch.randn(6), torch.randn(11)), {}, ({0: dimz}, {0: dimy})


def derived_integer(odd: bool):
    dimx = Dim("dimx", min=3, max=6)
    dimw = dimx * 2 + 1 if odd else dimx * 2
    return rm.EvenOrOdd(), (torch.randn(10),), {}, ({0: dimw},)


def derived_repeat():
    dimw = Dim("dimx", min=3, max=6) * 2
    return rm.EveryOther(), (torch.randn(10), torch.randn(10)), {}, ({0: dimw}, {0: dimw})


def derived_out_of_order():
    dimy = Dim("dimy", min=5, max=7)
    dimx, dimz = dimy - 1, dimy + 1
    return rm.Staircase(), (torch.randn(5), torch.randn(6), torch.randn(7)), {}, ({0: dimx}, {0: dimy}, {0: dimz})


def derived_out_of_order_repeat(same_tensors: bool):
    dimy = Dim("dimy", min=5, max=7)
    dimx, dimz = dimy - 1, dimy + 1
    dimx1, dimx2 = dimx, dimz - 2
    u, v, w = torch.randn(5), torch.randn(6), torch.randn(7)
    args = (u, v, w, u, u) if same_tensors else (u, v, w, torch.randn(5), torch.randn(5))
    return rm.StaircaseWithCopies(), args, {}, ({0: dimx}, {0: dimy}, {0: dimz}, {0: dimx1}, {0: dimx2})


def specialize_derived_roots():
    dy = Dim("dy", min=6)
    return rm.FlattenMatches(), (torch.randn(6, 2), torch.randn(12)), {}, {"x": (dy - 6, 2), "y": (dy,)}


def suggested_fixes_range():
    return rm.SmallOrLarge(), (torch.ones(5), torch.ones(4)), {}, ({0: Dim("dim", min=3)}, None)


def suggested_fixes_new_roots():
    dx, dy, dz = Dim("dx"), Dim("dy"), Dim("dz")
    return (rm.WindowedSum(), (torch.randn(11), torch.randn(12), torch.randn(14)), {},
            {"x": (dx,), "y": (dy,), "z": (dz,)})


def static_dims(variant: int):
    dx = Dim("dx", min=3, max=6)
    dy, dz = dx + 1, Dim("dz", min=3, max=6)
    spec = [
        ({0: dx, 1: 6}, {0: dy, 1: 4}, {0: dz, 1: 3}),
        ((dx, None), (dy, 4), (dz, 3)),
        ((None, 6), (5, None), (None, None)),
        ((4, 6), {0: None, 1: 4}, {0: None, 1: 3}),
    ][variant]
    return rm.LinearPlusShifted(), (torch.randn(4, 6), torch.randn(5, 4), torch.randn(3, 3)), {}, spec


def mod_constraints(fixed: bool):
    if fixed:
        spec = {"x": (None, 2 * Dim("_dim1_x", max=4000))}
    else:
        spec = {"x": (Dim("dim0_x", min=3), Dim("dim1_x", max=8000))}
    return rm.OneRowFewer(), (torch.randn(3, 4),), {}, spec


def silent_area():
    return rm.AreaBranch(), (torch.randn(8, 16),), {}, {"x": (Dim("rows"), Dim("cols"))}


X0, X1 = 'dynamic_shapes["x"][0]', 'dynamic_shapes["x"][1]'
Y0, Y1 = 'dynamic_shapes["y"][0]', 'dynamic_shapes["y"][1]'

CASES: dict[str, Case] = {
    # torch.export tutorial: "Constraint violations, suggested fixes"
    "tutorial-violation": Case(tutorial_violation, ok=False, expect=(
        Expect("DS201", Y0, "summed = x + y"),
        Expect("DS401", X1, "return summed + torch.ones(4)"),
    )),
    "tutorial-violation-fixed": Case(tutorial_violation_fixed, ok=True),
    # tutorial: "Constraints/Dynamic Shapes", the toy model with a named Dim per dimension
    "tutorial-dynamic-model-named": Case(tutorial_dynamic_model_named, ok=False, expect=(
        Expect("DS201", Y1, "xy = x + y"),
        Expect("DS401", 'dynamic_shapes["w"][1]', "projected = self.proj(w)"),
        Expect("DS502", 'dynamic_shapes["z"][0]', "total = flat + z"),
    )),
    "tutorial-dynamic-model-auto": Case(tutorial_dynamic_model_auto, ok=True),
    "tutorial-dynamic-model-named-valid": Case(tutorial_dynamic_model_named_valid, ok=True),
    # tutorial: "Named Dims"
    "tutorial-named-dims": Case(lambda: tutorial_named_dims(True), ok=True),
    "tutorial-named-dims-unrelated": Case(lambda: tutorial_named_dims(False), ok=False, expect=(
        Expect("DS202", Y0, "return stacked + y.sum(1)"),
    )),
    "tutorial-divisibility": Case(lambda: tutorial_divisibility(True), ok=True),
    "tutorial-divisibility-missing": Case(lambda: tutorial_divisibility(False), ok=False, expect=(
        Expect("DS501", X0, "grouped = x.reshape(-1, 4, x.shape[1])"),
    )),
    # test_derived_dim_basic
    "derived-basic-unrelated": Case(lambda: derived_basic("unrelated"), ok=False, expect=(
        Expect("DS202", "dynamic_shapes[1][0]", "return x + y[1:]"),
    )),
    "derived-basic-double": Case(lambda: derived_basic("double"), ok=False, expect=(
        Expect("DS106|DS107", "dynamic_shapes[1][0]"),
    )),
    "derived-basic-plus-one": Case(lambda: derived_basic("plus-one"), ok=True),
    # test_derived_dim_nested
    "derived-nested-odd": Case(derived_nested_odd, ok=True),
    "derived-nested-same-root": Case(lambda: derived_nested_shifted("same-root"), ok=True),
    "derived-nested-bad": Case(lambda: derived_nested_shifted("bad"), ok=False, expect=(
        Expect("DS106|DS107", "dynamic_shapes[1][0]"),
    )),
    "derived-nested-plus-one": Case(lambda: derived_nested_shifted("plus-one"), ok=True),
    # test_derived_dim_integer
    "derived-integer-odd": Case(lambda: derived_integer(True), ok=False, expect=(
        Expect("DS106", "dynamic_shapes[0][0]"),
    )),
    "derived-integer-even": Case(lambda: derived_integer(False), ok=True),
    # test_derived_dim_repeat_derived, _out_of_order, _out_of_order_repeat_derived
    "derived-repeat": Case(derived_repeat, ok=True),
    "derived-out-of-order": Case(derived_out_of_order, ok=True),
    "derived-out-of-order-repeat": Case(lambda: derived_out_of_order_repeat(False), ok=True),
    "derived-out-of-order-repeat-same-tensor": Case(lambda: derived_out_of_order_repeat(True), ok=True),
    # test_specialize_derived_dim_roots
    "specialize-derived-roots": Case(specialize_derived_roots, ok=False, expect=(
        Expect("DS402", Y0, "return x.reshape([-1]) + y"),
    )),
    # test_non_strict_dynamic_shapes_suggested_fixes
    "suggested-fixes-range": Case(suggested_fixes_range, ok=False, expect=(
        Expect("DS301", "dynamic_shapes[0][0]", "if x.shape[0] <= 6:"),
    )),
    # test_suggested_fixes_new_roots
    "suggested-fixes-new-roots": Case(suggested_fixes_new_roots, ok=False, expect=(
        Expect("DS501", X0, "if x.shape[0] >= 5 and x.shape[0] <= 36 and y.shape[0] % 3 == 0:"),
        Expect("DS501", Y0, "if x.shape[0] >= 5 and x.shape[0] <= 36 and y.shape[0] % 3 == 0:"),
        Expect("DS501", 'dynamic_shapes["z"][0]', "return x + y[1:] + z[3:]"),
    )),
    # test_static_dim_constraints (valid forms; the mismatches are in test_export_spec_errors.py)
    **{f"static-dims-{i}": Case(lambda i=i: static_dims(i), ok=True) for i in range(4)},
    # test_export_mod_constraints
    "mod-constraints": Case(lambda: mod_constraints(False), ok=False, expect=(
        Expect("DS401", X0, "return x.view(x.shape[0] - 1, -1)"),
        Expect("DS501", X1, "return x.view(x.shape[0] - 1, -1)"),
    )),
    "mod-constraints-fixed": Case(lambda: mod_constraints(True), ok=True),
    # silent narrowing: a guard over a product of dims, which torch defers to run time
    "silent-narrowing-area": Case(silent_area, ok=False, silent=True, expect=(
        Expect("DS302", X0, "if x.shape[0] * x.shape[1] > 64:"),
        Expect("DS302", X1, "if x.shape[0] * x.shape[1] > 64:"),
    )),
}

BAD = [pytest.param(k, id=k) for k, c in CASES.items() if not c.ok]
GUARD_BAD = [pytest.param(k, id=k) for k, c in CASES.items()
             if not c.ok and all(e.statement is not None for e in c.expect)]
ALL = [pytest.param(k, id=k) for k in CASES]


# --- the generic checks --------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("case_id", ALL)
def test_verdict_agrees_with_torch_export(case_id):
    case = CASES[case_id]
    model, args, kwargs, ds = case.build()
    report = report_for(case_id, case)
    assert report.ok is case.ok, str(report)
    ep, err = torch_export(model, args, kwargs, ds, case.strict)
    if case.silent:
        assert err is None, f"torch was expected to export (silent narrowing), but: {err}"
        assert_silent_narrowing(report, model, args, kwargs, ds, ep)
    else:
        assert (err is None) is report.ok, f"torch: {err!r}\ndimsolve:\n{report}"


@pytest.mark.torch
@pytest.mark.parametrize("case_id", BAD)
def test_expected_codes(case_id):
    case = CASES[case_id]
    report = report_for(case_id, case)
    assert_codes(report, case.expect)
    for v in report.violations:
        assert v.message and v.paths, v
        assert all(p.startswith("dynamic_shapes[") for p in v.paths), v.paths


@pytest.mark.torch
@pytest.mark.parametrize("case_id", GUARD_BAD)
def test_guard_locations_point_at_the_model_line(case_id):
    case = CASES[case_id]
    model, *_ = case.build()
    report = report_for(case_id, case)
    for expect in case.expect:
        assert_location(report, model, expect)
        v = find_violation(report, expect)
        assert v.guard, v
        assert expect.path in v.paths


@pytest.mark.torch
@pytest.mark.parametrize("case_id", GUARD_BAD)
def test_counterexamples_are_admitted_by_the_original_spec(case_id):
    case = CASES[case_id]
    model, args, kwargs, ds = case.build()
    assert_counterexamples_admitted(report_for(case_id, case), model, args, kwargs, ds)


@pytest.mark.torch
@pytest.mark.parametrize("case_id", GUARD_BAD)
def test_fix_exports_in_one_round(case_id):
    case = CASES[case_id]
    model, args, kwargs, _ = case.build()
    report = report_for(case_id, case)
    ep = assert_one_round_fix(report, model, args, kwargs, case.strict)
    with torch.no_grad():  # the fixed program runs the example inputs like the model does
        torch.testing.assert_close(ep.module()(*args, **kwargs), model(*args, **kwargs))


@pytest.mark.torch
@pytest.mark.parametrize("case_id", [pytest.param(k, id=k) for k, c in CASES.items() if c.ok])
def test_valid_specs_offer_no_fix(case_id):
    report = report_for(case_id, CASES[case_id])
    assert report.violations == []
    assert report.fixed_dynamic_shapes is None and report.fix_code is None
    assert "error[" not in str(report)


# --- the key fix of each reference case ----------------------------------------------------------


def _fixed(case_id):
    report = report_for(case_id, CASES[case_id])
    return report, report.fixed_dynamic_shapes, exec_fix_code(report.fix_code)


@pytest.mark.torch
def test_tutorial_fix_is_dy_equals_dx_and_d1_equals_4():
    report, fixed, from_code = _fixed("tutorial-violation")
    assert find_violation(report, Expect("DS201")).fix == (Relate("dy", "dx", 1, 0),)
    assert find_violation(report, Expect("DS401")).fix == (Specialize("d1", 4),)
    for spec in (fixed, from_code):
        assert spec["x"][1] == 4 and spec["y"][1] == 4
        assert linear_form(spec["x"][0]) == linear_form(spec["y"][0]) == ("dx", 1, 0)
    assert "fix: dy = dx" in str(report) and "fix: d1 = 4" in str(report)
    assert 'dx = Dim("dx")' in report.fix_code


@pytest.mark.torch
def test_tutorial_dynamic_model_fix_relates_broadcast_and_autos_the_product():
    report, fixed, _ = _fixed("tutorial-dynamic-model-named")
    assert find_violation(report, Expect("DS201")).fix == (Relate("dy1", "dx", 1, 0),)
    assert find_violation(report, Expect("DS401")).fix == (Specialize("dw1", 5),)
    assert find_violation(report, Expect("DS502")).fix == (MakeAuto("dz"),)
    assert fixed["w"][1] == 5
    assert linear_form(fixed["y"][1]) == linear_form(fixed["x"][0])
    assert fixed["z"][0] is Dim.AUTO


@pytest.mark.torch
def test_named_dims_fix_is_dy_equals_2_dx():
    report, fixed, from_code = _fixed("tutorial-named-dims-unrelated")
    assert find_violation(report, Expect("DS202")).fix == (Relate("dy", "dx", 2, 0),)
    for spec in (fixed, from_code):
        assert linear_form(spec["y"][0]) == ("dx", 2, 0)
        assert (spec["x"][0].min, spec["x"][0].max) == (4, 256)


@pytest.mark.torch
def test_divisibility_fix_introduces_a_root_for_multiples_of_4():
    report, fixed, _ = _fixed("tutorial-divisibility-missing")
    (root_change, relate) = find_violation(report, Expect("DS501")).fix
    assert isinstance(root_change, NewRoot) and relate == Relate("dx", root_change.name, 4, 0)
    root = root_dims(fixed)[root_change.name]
    assert (4 * root.min, 4 * root.max) == (16, 2048)  # the user's range, kept exactly


@pytest.mark.torch
def test_derived_basic_fix_is_dimy_equals_dimx_plus_1():
    report, fixed, from_code = _fixed("derived-basic-unrelated")
    assert find_violation(report, Expect("DS202")).fix == (Relate("dimy", "dimx", 1, 1),)
    assert "dimy = dimx + 1" in str(report)
    # fix_code writes the relation in place (one root Dim, derived dims inline), like the design's example
    assert 'dimx = Dim("dimx", min=3, max=6)' in report.fix_code
    assert "{0: dimx + 1}" in report.fix_code
    for spec in (fixed, from_code):
        assert linear_form(spec[1][0]) == ("dimx", 1, 1)
        assert (spec[0][0].min, spec[0][0].max) == (3, 6)


@pytest.mark.torch
def test_specialize_derived_dim_roots_pins_the_root_not_the_derived_dim():
    report, fixed, from_code = _fixed("specialize-derived-roots")
    assert find_violation(report, Expect("DS402")).fix == (Specialize("dy", 12),)
    text = str(report)
    assert "dy = 12" in text
    assert "dy - 6 = 6" not in text
    for spec in (fixed, from_code):
        assert tuple(spec["x"]) == (6, 2) and tuple(spec["y"]) == (12,)


@pytest.mark.torch
def test_suggested_fixes_range_is_dim_between_3_and_6():
    report, fixed, from_code = _fixed("suggested-fixes-range")
    assert find_violation(report, Expect("DS301")).fix == (SetRange("dim", 3, 6),)
    assert 'dim = Dim("dim", min=3, max=6)' in report.fix_code
    for spec in (fixed, from_code):
        d = spec[0][0]
        assert (d.__name__, d.min, d.max) == ("dim", 3, 6)
        assert spec[1] is None


@pytest.mark.torch
def test_suggested_fixes_new_roots_share_one_root_with_max_12():
    report, fixed, from_code = _fixed("suggested-fixes-new-roots")
    for spec in (fixed, from_code):
        (name, root), = root_dims(spec).items()
        assert root.max == 12
        assert linear_form(spec["x"][0]) == (name, 3, -1)
        assert linear_form(spec["y"][0]) == (name, 3, 0)
        assert linear_form(spec["z"][0]) == (name, 3, 2)
    for expr in ("3*_dx - 1", "3*_dx,", "3*_dx + 2"):
        assert expr in report.fix_code
    assert 'Dim("_dx", min=2, max=12)' in report.fix_code
    text = str(report)
    for line in ("dx = 3*_dx - 1", "dy = 3*_dx", "dz = 3*_dx + 2"):
        assert line in text


@pytest.mark.torch
def test_mod_constraints_fix_is_dim0_3_and_dim1_even():
    report, fixed, from_code = _fixed("mod-constraints")
    assert find_violation(report, Expect("DS401")).fix == (Specialize("dim0_x", 3),)
    root_change, relate = find_violation(report, Expect("DS501")).fix
    assert isinstance(root_change, NewRoot) and root_change.name == "_dim1_x"
    assert relate == Relate("dim1_x", "_dim1_x", 2, 0)
    assert "2*_dim1_x" in report.fix_code
    for spec in (fixed, from_code):
        assert spec["x"][0] == 3
        name, a, b = linear_form(spec["x"][1])
        assert (name, a, b) == ("_dim1_x", 2, 0)
        assert 2 * root_dims(spec)[name].max <= 8000  # the user's max on dim1_x is kept


@pytest.mark.torch
def test_silent_narrowing_fix_makes_the_product_large_enough():
    case = CASES["silent-narrowing-area"]
    model, args, kwargs, _ = case.build()
    report, fixed, _ = _fixed("silent-narrowing-area")
    rows, cols = fixed["x"]
    assert rows.min * cols.min > 64  # every admitted shape takes the branch torch traced
    assert rows.min <= 8 and cols.min <= 16  # and the example is still admitted
    ep, err = torch_export(model, args, kwargs, fixed)
    assert err is None
    sizes = admitted_sizes(model, args, kwargs, fixed, {"x.shape[0]": rows.min, "x.shape[1]": cols.min})
    assert sizes is not None
    ep.module()(torch.randn(rows.min, cols.min))  # the smallest admitted input runs
