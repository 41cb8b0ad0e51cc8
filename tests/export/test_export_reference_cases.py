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
from reference_cases import CASES
from torch.export import Dim

from dimsolve.diagnostics.model import MakeAuto, NewRoot, Relate, SetRange, Specialize

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
