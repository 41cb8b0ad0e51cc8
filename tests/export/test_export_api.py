"""The public API end to end: several violations at once, dimsolve.export, strict mode, and
trace-once/check-many with trace_guards + check_spec."""

from __future__ import annotations

import pytest
import torch
from export_support import (
    Expect,
    assert_codes,
    assert_counterexamples_admitted,
    assert_location,
    assert_one_round_fix,
    find_violation,
    torch_export,
)
from torch.export import Dim

import dimsolve
import dimsolve.guards.trace
import reference_models as rm
from dimsolve.diagnostics.model import Relate, SetRange, Specialize

# --- two independent violations and a range violation together -----------------------------------


def _three_problems():
    dx, dy, dh = Dim("dx"), Dim("dy"), Dim("dh")
    return rm.ThreeProblems(), (torch.randn(6, 4), torch.randn(6, 4)), {}, {"x": (dx, dh), "y": (dy, dh)}


THREE = (
    Expect("DS201", 'dynamic_shapes["y"][0]', "both = x + y"),
    Expect("DS301", 'dynamic_shapes["x"][0]', "if x.shape[0] <= 64:"),
    Expect("DS401", 'dynamic_shapes["x"][1]', "return self.head(both)"),
)


@pytest.fixture(scope="module")
def three_problems_report():
    model, args, kwargs, spec = _three_problems()
    return dimsolve.check_dynamic_shapes(model, args, kwargs, dynamic_shapes=spec)


@pytest.mark.torch
def test_one_report_lists_relation_specialisation_and_range(three_problems_report):
    report = three_problems_report
    model, args, kwargs, spec = _three_problems()
    assert not report.ok
    assert_codes(report, THREE)
    for expect in THREE:
        assert_location(report, model, expect)
    assert_counterexamples_admitted(report, model, args, kwargs, spec)
    _, err = torch_export(model, args, kwargs, spec)
    assert err is not None  # torch agrees the spec is wrong
    text = str(report)
    assert text.count("error[") == 3 and "found 3 errors" in text


@pytest.mark.torch
def test_one_round_of_fixes_passes_torch(three_problems_report):
    report = three_problems_report
    model, args, kwargs, _ = _three_problems()
    assert find_violation(report, THREE[0]).fix == (Relate("dy", "dx", 1, 0),)
    assert find_violation(report, THREE[2]).fix == (Specialize("dh", 4),)
    (range_fix,) = find_violation(report, THREE[1]).fix
    assert isinstance(range_fix, SetRange) and range_fix.target == "dx" and range_fix.max == 64
    fixed = report.fixed_dynamic_shapes
    assert fixed["x"][1] == fixed["y"][1] == 4
    assert fixed["x"][0].__name__ == fixed["y"][0].__name__ == "dx" and fixed["x"][0].max == 64
    ep = assert_one_round_fix(report, model, args, kwargs)
    for rows in (2, 64):  # both ends of the fixed range run
        ep.module()(torch.randn(rows, 4), torch.randn(rows, 4))


@pytest.mark.torch
def test_reports_render_as_json_with_every_finding(three_problems_report):
    import json

    data = json.loads(three_problems_report.model_dump_json())
    codes = sorted(d["code"] for d in data["diagnostics"] if d["severity"] == "error")
    assert codes == ["DS201", "DS301", "DS401"]
    for d in data["diagnostics"]:
        assert d["facts"]["counterexample"] and d["labels"][0]["location"]["line"] > 0

