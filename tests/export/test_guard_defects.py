"""Never a false "ok": a GuardSet whose guards no input satisfies, or that name symbols it does not
declare, is an error (DS904) whatever the spec; guards too large to expand are DS902; a fix search
out of budget is DS901 with the violations it found, never a different fix."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimsolve.dims.spec_json import spec_from_json
from dimsolve.export.pipeline import check_against
from dimsolve.guards.serialize import guardset_from_dict
from dimsolve.service.check import traced_inputs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from service_wire import tutorial_spec, wire_guardset  # noqa: E402

VALID = ["Eq(s0, s2)", "s2 <= 512", "Eq(s1, 4)", "Eq(s3, 4)"]  # the tutorial model's guards


def fixed_spec(max_dx: int | None = 512) -> dict:
    """``{"x": (dx, 4), "y": (dx, 4)}``: valid against ``VALID``."""
    dims = [{"input": [n], "axis": 0, "kind": "root", "root": "dx"} for n in ("x", "y")]
    dims += [{"input": [n], "axis": 1, "kind": "static"} for n in ("x", "y")]
    return {"schema_version": 1, "roots": {"dx": {} if max_dx is None else {"max": max_dx}}, "dims": dims}


def report_of(guards: list[str], spec: dict | None = None):
    guardset = guardset_from_dict(wire_guardset(guards))
    return check_against(guardset, spec_from_json(spec or fixed_spec(), traced_inputs(guardset)), 2000)


def codes(report) -> list[str]:
    return [d.code for d in report.diagnostics]


def test_the_tutorial_guards_with_the_fixed_spec_are_ok():
    report = report_of(VALID)
    assert report.ok and codes(report) == []


DEFECTS = [
    pytest.param("False", "the guard `False` is always false", id="false"),
    pytest.param("Eq(s77, s77 + 1)", "is always false", id="eq-to-itself-plus-one"),
    pytest.param("Ne(s999, s999)", "is always false", id="ne-to-itself"),
    pytest.param("s77 > 2", "names `s77`, which the GuardSet does not declare", id="undeclared-symbol"),
    pytest.param("s0 <= s99 + s98", "names `s98`, `s99`", id="undeclared-beside-declared"),
    pytest.param("s2 >= 600", "no size satisfies both `y.shape[0] >= 600` and `y.shape[0] <= 512`",
                 id="crossing-bounds"),
    pytest.param("Eq(s2, 600)", "no size satisfies both", id="equality-past-a-bound"),
]


@pytest.mark.parametrize("defect, words", DEFECTS)
@pytest.mark.parametrize("spec", [fixed_spec(), tutorial_spec()], ids=["valid-spec", "violated-spec"])
def test_a_defective_guard_is_an_error_whatever_the_spec(defect, words, spec):
    report = report_of(VALID + [defect], spec)
    assert not report.ok
    found = [d for d in report.diagnostics if d.code == "DS904"]
    assert len(found) == 1 and words in found[0].message, found
    assert found[0].labels  # the guard's source line


@pytest.mark.parametrize("definition", ["Eq(s0, 2*s92)", "Eq(s2, s92 + 1)", "Eq(3*s95 - 1, s0)"])
def test_torchs_definition_of_a_derived_size_is_not_a_defect(definition):
    # torch records a derived Dim's root as a symbol of its own (x.shape[0] = 2*dx: s0 = 2*s92)
    assert "DS904" not in codes(report_of(VALID + [definition]))


# --- property: an injected defect always turns the answer into an error -------------------------

holds_on_example = st.sampled_from([
    "s0 >= 2", "s0 <= 512", "Eq(s0, s2)", "s0*s1 <= 4096", "Eq(Mod(s1, 2), 0)", "s2 < 100", "s2 > 3",
    "Ne(s0, 7)", "s0 + s2 <= 64", "s2 <= 12",
])
defect = st.sampled_from(["False", "Eq(s5, s5 + 1)", "Ne(s9, s9)", "s42 >= 3", "s0 < s42", "s2 >= 13"])


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(guards=st.lists(holds_on_example, min_size=1, max_size=6), bad=defect, at=st.integers(0, 6),
       bounded=st.booleans())
def test_no_spec_is_ok_against_a_defective_guardset(guards, bad, at, bounded):
    injected = guards[:at] + [bad] + guards[at:]
    if bad == "s2 >= 13" and "s2 <= 12" not in guards:
        injected.append("s2 <= 12")  # crossing bounds need both ends
    report = report_of(injected, fixed_spec(8 if bounded else None))
    assert not report.ok and "DS904" in codes(report), (injected, codes(report))


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(guards=st.lists(holds_on_example, min_size=1, max_size=6))
def test_guards_that_hold_on_the_example_are_never_ds904(guards):
    assert "DS904" not in codes(report_of(guards, fixed_spec(8)))


# --- DS902 for guards too large to expand, DS901 for a fix search out of budget ------------------


def test_an_exploding_guard_is_ds902_at_once():
    report = report_of(VALID + ["Eq((s0+s1+s2+s3+1)**32*(s0-s1+3)**32, 10)"])
    assert not report.ok and codes(report) == ["DS902"]
    assert "max_expr_terms" in report.diagnostics[0].message


def test_a_fix_search_out_of_budget_is_ds901_with_the_violation_and_no_fix(monkeypatch):
    import dimsolve.solver.boxes as boxes

    spec = fixed_spec(None)
    whole = report_of(VALID, spec)
    assert codes(whole) == ["DS301"] and whole.fixed_spec is not None  # dx <= 512

    monkeypatch.setattr(boxes, "SEARCH_MAX_PROBES", 0)
    starved = report_of(VALID, spec)
    assert sorted(codes(starved)) == ["DS301", "DS901"], codes(starved)
    ds301 = next(d for d in starved.diagnostics if d.code == "DS301")
    assert not ds301.fixes and json.dumps(ds301.facts.get("counterexample"))  # the violation, with its point
    assert starved.fixed_spec is None


@pytest.mark.torch
@pytest.mark.parametrize("defect", ["False", "Eq(s77, s77 + 1)", "Ne(s999, s999)", "s12345 > 2"])
def test_check_spec_on_a_traced_guardset_with_a_defect_added_is_not_ok(defect):
    from dataclasses import replace

    import torch
    from torch.export import Dim

    import dimsolve
    from dimsolve.guards.codec import parse_expr
    from dimsolve.guards.model import GuardRecord

    class Add(torch.nn.Module):
        def forward(self, x, y):
            return x + y

    guards = dimsolve.trace_guards(Add(), (torch.randn(6, 4), torch.randn(6, 4)))
    dx, d1 = Dim("dx"), Dim("d1")
    dynamic_shapes = {"x": (dx, d1), "y": (dx, d1)}
    assert dimsolve.check_spec(guards, dynamic_shapes).ok
    broken = replace(guards, guards=guards.guards + (GuardRecord(parse_expr(defect)),))
    report = dimsolve.check_spec(broken, dynamic_shapes)
    assert not report.ok and "DS904" in [d.code for d in report.diagnostics]
