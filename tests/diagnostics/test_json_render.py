import json

import pytest
from pydantic import ValidationError

from dimsolve.diagnostics.changes import CHANGE_TYPES, change_to_dict
from dimsolve.diagnostics.json_models import (
    DiagnosticModel,
    FixModel,
    ReportModel,
    SpecChangeModel,
    from_diagnostic,
    to_diagnostic,
)
from dimsolve.diagnostics.json_render import parse_json, render_json
from dimsolve.diagnostics.model import (
    AddCheck,
    MakeAuto,
    NewRoot,
    Relate,
    SetRange,
    SourceLocation,
    Specialize,
)

from .cases import ALL, CASES, TUTORIAL_FIX_CODE
from .snapshot import assert_snapshot

EXTRA = {
    "fixed_spec": {"x": ["dx", 4], "y": ["dx", 4]},
    "symbols": [{"path": "x.shape[0]", "example": 6}, {"path": "y.shape[0]", "example": 6}],
}


def test_full_report_matches_snapshot():
    out = render_json(ALL, ok=False, fix_code=TUTORIAL_FIX_CODE, extra=EXTRA)
    assert_snapshot("json/full_report.json", out + "\n")


def test_valid_report_matches_snapshot():
    assert_snapshot("json/valid_report.json", render_json([], ok=True, fix_code=None) + "\n")


def test_json_is_sorted_and_indented():
    out = render_json([CASES["ds201"]], ok=False, fix_code=None)
    data = json.loads(out)
    assert out == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    assert data["schema_version"] == 1
    assert data["diagnostics"][0]["name"] == "must-be-equal"
    assert data["diagnostics"][0]["doc"] == "docs/codes/DS201.md"
    assert data["diagnostics"][0]["fixes"][0]["python"] == ["dy = dx"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_diagnostic_round_trips_through_json(name):
    d = CASES[name]
    text = DiagnosticModel.from_diagnostic(d).model_dump_json()
    back = DiagnosticModel.model_validate_json(text).to_diagnostic()
    assert back == d
    assert back.facts == d.facts  # facts are excluded from Diagnostic equality


def test_report_round_trips_through_json():
    report = parse_json(render_json(ALL, ok=False, fix_code=TUTORIAL_FIX_CODE, extra=EXTRA))
    assert [m.to_diagnostic() for m in report.diagnostics] == ALL
    assert report.fix_code == TUTORIAL_FIX_CODE
    assert report.fixed_spec == EXTRA["fixed_spec"]
    assert report.symbols == EXTRA["symbols"]
    assert report.ok is False


def test_module_level_conversions():
    d = CASES["ds501"]
    assert to_diagnostic(from_diagnostic(d)) == d


def test_extra_keys_are_kept():
    data = json.loads(render_json([], ok=True, fix_code=None, extra={"tool_version": "0.1.0"}))
    assert data["tool_version"] == "0.1.0"


CHANGES = [
    SetRange("dim", 3, 6),
    SetRange("seq", 2, None),
    Specialize("d1", 4),
    Relate("dw", "dx", 2, 1),
    NewRoot("_dx", 2, 12),
    MakeAuto("x.shape[0]"),
    AddCheck("a >= 10"),
    AddCheck("k <= x.shape[0]", SourceLocation("model.py", 9, "forward", "if k > x.shape[0]:")),
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: type(c).__name__)
def test_spec_change_model_round_trips(change):
    wire = SpecChangeModel.from_change(change).model_dump(mode="json")
    assert wire["type"] == CHANGE_TYPES[type(change)]
    assert wire == change_to_dict(change)  # the SARIF properties use the same wire form
    assert SpecChangeModel.model_validate(wire).to_change() == change


def test_spec_change_discriminator_picks_the_variant():
    m = SpecChangeModel.model_validate({"type": "relate", "target": "dy", "root": "dx"})
    assert m.to_change() == Relate("dy", "dx")


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param({"type": "rename", "target": "dy"}, id="unknown-type"),
        pytest.param({"target": "dy", "root": "dx"}, id="missing-type"),
        pytest.param({"type": "specialize", "target": "d1"}, id="missing-field"),
    ],
)
def test_spec_change_model_rejects_bad_wire_data(wire):
    with pytest.raises(ValidationError):
        SpecChangeModel.model_validate(wire)


def test_fix_python_field_is_output_only():
    fix = CASES["ds501"].fixes[0]
    dumped = FixModel.from_fix(fix).model_dump(mode="json")
    assert dumped["python"] == ['_n = Dim("_n", min=2, max=128)', "n = 8*_n"]
    assert FixModel.model_validate(dumped).to_fix() == fix


def test_report_model_defaults():
    r = ReportModel(ok=True, diagnostics=[], fix_code=None)
    assert (r.schema_version, r.fixed_spec, r.symbols) == (1, None, [])
