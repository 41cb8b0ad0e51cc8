"""Spec errors (DS1xx) from test_export.py's test_not_correct_dim, test_multiple_definitions_same_name_dim
and the mismatches of test_static_dim_constraints: reported before any tracing, naming the spec path,
and torch.export rejects the same specs."""

from __future__ import annotations

import pytest
import torch
from export_support import torch_export
from torch.export import Dim

import dimsolve
import dimsolve.guards.trace
import reference_models as rm


def _zero_dim_tuple():
    return rm.Cosine(), (torch.tensor(5.0),), {"x": (Dim("d"),)}


def _zero_dim_dict():
    return rm.Cosine(), (torch.tensor(5.0),), {"x": {0: Dim("d")}}


def _axis_out_of_range():
    return rm.Cosine(), (torch.ones(5, 5),), {"x": {2: Dim("d")}}


def _too_many_entries():
    return rm.Cosine(), (torch.ones(5, 5),), {"x": (Dim("d"), None, None)}


def _dim_on_int_tuple():
    return rm.AddScalar(), (torch.ones(5), 4), {"x": None, "n": (Dim("d"),)}


def _dim_on_int_dict():
    return rm.AddScalar(), (torch.ones(5), 4), {"x": None, "n": {0: Dim("d")}}


def _same_name_two_definitions():
    a, b = Dim("C", min=3), Dim("C", max=12)
    return rm.MatMul(), (torch.randn(10, 10), torch.randn(10, 10)), {"x": (a, b), "y": (b, a)}


_STATIC_INPUTS = (torch.randn(4, 6), torch.randn(5, 4), torch.randn(3, 3))


def _static_mismatch_first():
    return rm.LinearPlusShifted(), _STATIC_INPUTS, ((5, None), None, None)


def _static_mismatch_second_axis():
    dx = Dim("dx", min=3, max=6)
    return rm.LinearPlusShifted(), _STATIC_INPUTS, ((dx, 9), (dx + 1, 4), (3, 3))


SPEC_ERRORS = [
    # (factory, code, the spec path the finding must name, words the message must contain)
    pytest.param(_zero_dim_tuple, "DS102", 'dynamic_shapes["x"]', ("x", "rank 0"), id="dim-on-0-dim-tensor-tuple"),
    pytest.param(_zero_dim_dict, "DS102", 'dynamic_shapes["x"][0]', ("x", "rank 0"), id="dim-on-0-dim-tensor-dict"),
    pytest.param(_axis_out_of_range, "DS102", 'dynamic_shapes["x"][2]', ("axis 2", "rank 2"), id="wrong-axis"),
    pytest.param(_too_many_entries, "DS102", 'dynamic_shapes["x"]', ("3 entries", "rank 2"), id="too-many-entries"),
    pytest.param(_dim_on_int_tuple, "DS103", 'dynamic_shapes["n"]', ("n", "not a tensor"), id="dim-on-int-tuple"),
    pytest.param(_dim_on_int_dict, "DS103", 'dynamic_shapes["n"]', ("n", "not a tensor"), id="dim-on-int-dict"),
    pytest.param(_same_name_two_definitions, "DS107", 'dynamic_shapes["x"][1]', ("C", "min=3", "max=12"),
                 id="same-name-two-definitions"),
    pytest.param(_static_mismatch_first, "DS108", "dynamic_shapes[0][0]", ("5", "4"), id="static-mismatch-dim0"),
    pytest.param(_static_mismatch_second_axis, "DS108", "dynamic_shapes[0][1]", ("9", "6"),
                 id="static-mismatch-dim1"),
]


@pytest.fixture
def no_tracing(monkeypatch):
    """Spec errors must be found before tracing: make any trace attempt fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("dimsolve traced the model although the spec itself is invalid")

    monkeypatch.setattr(dimsolve.guards.trace, "trace_guards", refuse)


@pytest.mark.parametrize("factory, code, path, words", SPEC_ERRORS)
def test_spec_error_is_reported_before_tracing(no_tracing, factory, code, path, words):
    model, args, spec = factory()
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert not report.ok
    assert [v.code for v in report.violations] == [code], str(report)
    (v,) = report.violations
    assert v.paths[0] == path, v.paths
    for word in words:
        assert word in v.message, (word, v.message)
    assert v.location is None and v.counterexample == {}
    assert report.fixed_dynamic_shapes is None and report.fix_code is None
    text = str(report)
    assert f"error[{code}]" in text


@pytest.mark.torch
@pytest.mark.parametrize("factory, code, path, words", SPEC_ERRORS)
def test_torch_rejects_the_same_spec(factory, code, path, words):
    model, args, spec = factory()
    _, err = torch_export(model, args, {}, spec)
    assert err is not None, f"torch.export accepted a spec dimsolve reports as {code}"


def test_same_name_finding_names_both_definitions():
    model, args, spec = _same_name_two_definitions()
    (v,) = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec).violations
    assert set(v.paths) == {'dynamic_shapes["x"][0]', 'dynamic_shapes["x"][1]'}


def test_spec_errors_serialise_to_json():
    import json

    model, args, spec = _dim_on_int_tuple()
    data = json.loads(dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec).model_dump_json())
    (d,) = [d for d in data["diagnostics"] if d["severity"] == "error"]
    assert d["code"] == "DS103" and d["paths"] == ['dynamic_shapes["n"]']
