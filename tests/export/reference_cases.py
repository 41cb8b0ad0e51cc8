"""The reference cases as data: the torch.export tutorial's and test_export.py's dynamic-shape examples,
each a factory of (model, args, kwargs, dynamic_shapes) plus what dimsolve must report."""

from __future__ import annotations

import torch
from export_support import Case, Expect
from torch.export import Dim

import reference_models as rm

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

