"""The rest of the report for data-dependent models: unbacked symbols (GuardSet and JSON), models torch
exports as they are, a spec error and a data-dependent failure in one report, the public ``export``,
and re-checking a cached GuardSet."""

from __future__ import annotations

import json

import pytest
import torch
from torch.export import Dim
from unbacked_cases import CLEAN, CLEAN_RANGES, FAILING, HEADER
from unbacked_support import (
    TORCH_SYMBOL,
    Case,
    ds601,
    insert_checks,
    line_of,
    load_model,
    params,
    same_output,
    torch_export,
)

import dimsolve
from dimsolve.guards.serialize import from_json, to_json

pytestmark = pytest.mark.torch


def _within(value: int, lower: int | None, upper: int | None) -> bool:
    return (lower is None or lower <= value) and (upper is None or value <= upper)


# ----------------------------------------------------------------------------------------------
# models torch.export accepts as they are: no DS601, and what torch knows about the values
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", params(CLEAN, "clean"))
def test_no_data_dependent_finding_where_torch_needs_none(key, unbacked_runner):
    case = CLEAN[key]
    run = unbacked_runner.original(key)
    ep = torch_export(run.model, case)  # ground truth: torch exports it
    assert same_output(ep.module()(*case.args), run.model(*case.args))
    assert ds601(run.report) == []
    assert run.report.ok, str(run.report)
    unbacked = [s for s in run.report.guardset.symbols if not s.backed]
    assert unbacked, "every CLEAN model creates data-dependent values"
    assert TORCH_SYMBOL.search(run.report.model_dump_json()) is None


@pytest.mark.parametrize(("key", "ranges"), [pytest.param(k, r, id=k) for k, r in CLEAN_RANGES.items()])
def test_user_checks_show_as_the_symbols_range(key, ranges, unbacked_runner):
    """The escape hatch of the tutorial / ExportDB (torch._check bounds) is what the report shows as range."""
    report = unbacked_runner.original(key).report
    by_label = {s.label: s for s in report.guardset.symbols if not s.backed}
    json_symbols = {s["name"]: s for s in json.loads(report.model_dump_json())["symbols"]}
    for label, (lower, upper) in ranges.items():
        assert (by_label[label].lower, by_label[label].upper) == (lower, upper)
        assert json_symbols[label]["range"] == [lower, upper]
        assert json_symbols[label]["backed"] is False


# ----------------------------------------------------------------------------------------------
# unbacked symbols of failing models: labels, examples, ranges, in the GuardSet and in the JSON
# ----------------------------------------------------------------------------------------------

SYMBOLS = {
    # key: {label: example}
    "tutorial-branch": {"a": 32},
    "two-items": {"a": 32, "b": 3},
    "tolist-unpack": {"a": 5, "b": 3},
    "nonzero-and-mask": {"idx.shape[0]": 4, "pos.shape[0]": 4},
    "three-sources": {"k": 12, "lo": 1, "hi": 5, "pos.shape[0]": 9},  # 2 * (x + 1) > 0 for 9 of 12
    "unbind-items": {"a": 2, "c": 3},
}


@pytest.mark.parametrize(("key", "expected"), [pytest.param(k, v, id=k) for k, v in SYMBOLS.items()])
def test_unbacked_symbols_have_labels_examples_and_ranges(key, expected, unbacked_runner):
    case = FAILING[key]
    report = unbacked_runner.original(key).report
    unbacked = [s for s in report.guardset.symbols if not s.backed]
    assert {s.label: s.example for s in unbacked} == expected
    for s in unbacked:
        assert not s.paths
        assert _within(s.example, s.lower, s.upper), s
        assert s.origin is not None and s.origin.line == line_of(case.text, s.origin.code)
        if s.label.endswith(".shape[0]"):  # a length is never negative
            assert s.lower is not None and s.lower >= 0

    data = json.loads(report.model_dump_json())
    assert TORCH_SYMBOL.search(json.dumps(data)) is None
    entries = {e["name"]: e for e in data["symbols"] if e["backed"] is False}
    assert {name: e["example"] for name, e in entries.items()} == expected
    for s in unbacked:
        assert entries[s.label]["range"] == [s.lower, s.upper]
    backed = [e for e in data["symbols"] if e["backed"]]
    assert all(e["range"] is None and "shape" in e["name"] for e in backed)


def test_json_symbols_of_the_brief_example(unbacked_runner):
    """``a = x.item(); if a // 2 >= 5`` with a = 32, ``b = n.item(); if b < y.shape[0]`` with b = 3, y of 8."""
    data = json.loads(unbacked_runner.original("two-items").report.model_dump_json())
    entries = {e["name"]: e for e in data["symbols"]}
    assert entries["y.shape[0]"] == {"name": "y.shape[0]", "example": 8, "backed": True, "range": None}
    assert entries["a"]["backed"] is False and entries["a"]["example"] == 32
    lower, upper = entries["a"]["range"]
    assert lower is not None and 10 <= lower <= 32 and upper is None  # torch's deferred a >= 10, no upper bound
    assert entries["b"]["backed"] is False and entries["b"]["example"] == 3
    assert [d["code"] for d in data["diagnostics"]] == ["DS601", "DS601"]
    assert data["ok"] is False


def test_tolist_elements_are_labelled_by_index(unbacked_runner):
    report = unbacked_runner.original("tutorial-item-tolist").report
    assert sorted(s.label for s in report.guardset.symbols if not s.backed) == ["a", "b[0]", "b[1]"]


# ----------------------------------------------------------------------------------------------
# a wrong Dim relation and a data-dependent branch: both found in one run, both fixes work together
# ----------------------------------------------------------------------------------------------

MIXED = Case(
    HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y, n):
        k = n.item()
        if k > 2:
            x = x * 2
        return x + y
""",
    (torch.randn(6), torch.randn(6), torch.tensor(5)),
    {"x": (Dim("dx"),), "y": (Dim("dy"),), "n": None},
)


def test_spec_error_and_data_dependent_failure_in_one_report(tmp_path):
    model = load_model(MIXED.text, tmp_path / "mixed.py")
    report = dimsolve.check_dynamic_shapes(model, MIXED.args, dynamic_shapes=MIXED.dynamic_shapes)
    codes = sorted(d.code for d in report.diagnostics)
    assert codes == ["DS201", "DS601"]
    assert TORCH_SYMBOL.search(str(report)) is None
    by_code = {d.code: d for d in report.diagnostics}
    assert by_code["DS601"].labels[0].location.line == line_of(MIXED.text, "if k > 2:")
    assert by_code["DS601"].facts["checks"] == ["torch._check(k >= 3)"]
    assert by_code["DS201"].labels[0].location.line == line_of(MIXED.text, "return x + y")
    assert {"x.shape[0]", "y.shape[0]"} <= set(by_code["DS201"].facts["counterexample"])

    # the spec fix alone is not enough, the checks alone are not enough; both together export
    fixed = report.fixed_dynamic_shapes
    assert fixed["x"][0].__name__ == fixed["y"][0].__name__  # dy = dx
    with pytest.raises(Exception):
        torch_export(model, MIXED, fixed)
    patched = load_model(insert_checks(MIXED.text, tmp_path / "mixed.py", ds601(report)), tmp_path / "mixed_patched.py")
    with pytest.raises(Exception):
        torch_export(patched, MIXED)
    ep = torch_export(patched, MIXED, fixed)
    assert same_output(ep.module()(*MIXED.args), model(*MIXED.args))
    again = dimsolve.check_dynamic_shapes(patched, MIXED.args, dynamic_shapes=fixed)
    assert again.ok, str(again)
    assert ds601(again) == []


# ----------------------------------------------------------------------------------------------
# the public export() and re-checking a cached GuardSet
# ----------------------------------------------------------------------------------------------


def test_dimsolve_export_refuses_then_accepts_the_patched_model(unbacked_runner):
    case = FAILING["two-items"]
    run = unbacked_runner.original("two-items")
    with pytest.raises(dimsolve.ConstraintViolation) as info:
        dimsolve.export(run.model, case.args, dynamic_shapes=case.dynamic_shapes)
    assert [d.code for d in info.value.report.diagnostics] == ["DS601", "DS601"]
    assert "torch._check(a >= 10)" in str(info.value)
    patched = unbacked_runner.patched("two-items")
    ep = dimsolve.export(patched.model, case.args, dynamic_shapes=case.dynamic_shapes)
    assert isinstance(ep, torch.export.ExportedProgram)


@pytest.mark.parametrize("key", ["two-items", "nonzero-and-mask", "tolist-unpack", "branch-then-range"])
def test_cached_guardset_round_trip_reports_the_same_failures(key, unbacked_runner):
    """Trace once, solve many: the DS601s survive GuardSet JSON and a re-check without tracing."""
    case = FAILING[key]
    report = unbacked_runner.original(key).report
    cached = from_json(to_json(report.guardset))
    again = dimsolve.check_spec(cached, case.dynamic_shapes)

    def summary(r):
        return sorted((d.code, d.labels[0].location.line, d.labels[0].location.code, json.dumps(d.facts, sort_keys=True))
                      for d in r.diagnostics)

    assert summary(again) == summary(report)
    assert len(ds601(again)) == len(case.failures)
