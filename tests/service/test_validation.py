"""Malformed GuardSets are refused with 422 naming the field; an unexpected error is a 500 body that
keeps the connection; GuardSets with unbacked symbols and trace failures are accepted."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from service_wire import check_body

from dimsolve.service.app import create_app
from dimsolve.service.limits import Limits


@pytest.fixture(scope="module")
def app_client():
    # raise_server_exceptions: an exception that escapes the app fails the test instead of being a 500
    with TestClient(create_app(Limits(workers=0)), raise_server_exceptions=True) as c:
        yield c


def _symbol(body, i=0):
    return body["guardset"]["symbols"][i]


# each row used to reach the solver and answer 500 (ValueError in render_python), or was accepted
BAD_GUARDSETS = [
    pytest.param(lambda b: _symbol(b).update(paths=[]), "guardset.symbols[0].paths", "no input path",
                 id="backed-symbol-without-path"),
    pytest.param(lambda b: _symbol(b)["paths"][0].update(axis=-2), "guardset.symbols[0].paths[0].axis", "greater than",
                 id="negative-axis"),
    pytest.param(lambda b: _symbol(b)["paths"][0].update(axis=-1), "guardset.symbols[0].paths[0]",
                 "an int input's value), but x is a tensor", id="scalar-axis-on-a-tensor"),
    pytest.param(lambda b: b["guardset"]["symbols"].pop(1), "guardset.symbols",
                 "x.shape[1] has neither a symbol nor a specialisation", id="a-dimension-without-a-symbol"),
    pytest.param(lambda b: _symbol(b)["paths"][0].update(axis=2**63 - 1), "guardset.symbols[0].paths[0].axis",
                 "less than", id="huge-axis"),
    pytest.param(lambda b: _symbol(b)["paths"][0].update(axis=5), "guardset.symbols[0].paths[0]", "has rank 2",
                 id="axis-past-the-recorded-rank"),
    pytest.param(lambda b: _symbol(b)["paths"][0].update(input=["nope"]), "guardset.symbols[0].paths[0]",
                 "nope is not among the recorded inputs", id="path-to-no-input"),
    pytest.param(lambda b: _symbol(b)["paths"][0].update(input=["x", 3]), "guardset.symbols[0].paths[0]",
                 "x[3] is not among the recorded inputs", id="path-inside-a-tensor"),
    pytest.param(lambda b: _symbol(b)["paths"][0].update(input=["x"] + [0] * 5000), "guardset.symbols[0].paths[0].input",
                 "at most 64", id="path-too-deep"),
    pytest.param(lambda b: _symbol(b, 1).update(name="s0"), "guardset.symbols[1].name", "defined twice",
                 id="duplicate-symbol"),
    pytest.param(lambda b: _symbol(b, 1).update(paths=[{"input": ["x"], "axis": 0}]), "guardset.symbols[1].paths[0]",
                 "claimed by symbols 's0' and 's1'", id="one-dim-two-symbols"),
    pytest.param(lambda b: _symbol(b).update(example=-5), "guardset.symbols[0].example", "sizes are >= 0",
                 id="negative-example"),
    pytest.param(lambda b: _symbol(b).update(backed=False), "guardset.symbols[0].paths", "unbacked symbol 's0' has",
                 id="unbacked-symbol-with-a-path"),
    pytest.param(lambda b: b["guardset"]["specializations"].append({"path": {"input": ["x"], "axis": 0}, "value": -1}),
                 "guardset.specializations[0].value", "greater than", id="negative-specialisation"),
    pytest.param(lambda b: b["guardset"]["specializations"].append({"path": {"input": ["q"], "axis": 0}, "value": 1}),
                 "guardset.specializations[0].path", "not among the recorded inputs", id="specialisation-of-no-input"),
    pytest.param(lambda b: b["guardset"]["failures"].append({"message": "m", "expr": None, "origin": None,
                                                             "kind": "error", "value": "(" * 70 + "s0" + ")" * 70}),
                 "guardset.failures[0].value", "nested", id="deep-failure-value"),
]


@pytest.mark.parametrize("mutate, path, words", BAD_GUARDSETS)
def test_a_malformed_guardset_is_422_naming_the_field(app_client, mutate, path, words):
    body = check_body()
    mutate(body)
    response = app_client.post("/v1/check", json=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["path"] == path and words in answer["message"], answer


def test_the_unchanged_body_is_answered(app_client):
    # the table's rows differ from a body the service answers only by their mutation
    assert app_client.post("/v1/check", json=check_body()).status_code == 200


def test_an_unexpected_error_is_a_500_body_and_the_app_does_not_re_raise(monkeypatch):
    from dimsolve.service import pool as pool_module

    def broken(*_):
        raise RuntimeError("boom")

    monkeypatch.setattr(pool_module, "run_check", broken)
    with TestClient(create_app(Limits(workers=0)), raise_server_exceptions=True) as client:
        response = client.post("/v1/check", json=check_body())
        assert response.status_code == 500
        answer = response.json()
        assert answer["error"] == "internal_error" and "RuntimeError" in answer["message"]
        assert "boom" not in answer["message"]  # no internals in the answer
        assert client.get("/healthz").status_code == 200


def test_the_scalar_axis_is_the_library_one():
    from dimsolve.dims.model import SCALAR_AXIS
    from dimsolve.service import validate

    assert validate.SCALAR_AXIS == SCALAR_AXIS


@pytest.mark.torch
def test_a_traced_guardset_with_an_int_input_and_a_size_1_dim_is_accepted(app_client):
    import torch

    import dimsolve
    from dimsolve.dims.parse import parse_spec
    from dimsolve.dims.spec_json import spec_to_json

    class Model(torch.nn.Module):
        def forward(self, x, z, n):
            return x * n, z

    model, args = Model(), (torch.randn(6, 4), torch.randn(1, 5), 3)
    guards = json.loads(dimsolve.trace_guards(model, args).model_dump_json())
    spec = spec_to_json(parse_spec(model, args, None, {"x": None, "z": None, "n": None}).spec)
    response = app_client.post("/v1/check", json={"guardset": guards, "spec": spec})
    assert response.status_code == 200, response.text


@pytest.mark.torch
def test_a_traced_guardset_with_unbacked_symbols_and_failures_is_accepted(app_client):
    # guards.serialize writes label/origin/lower/upper for unbacked symbols and value for failures;
    # the request model used to refuse them as unknown fields
    import torch
    from torch.export import Dim

    import dimsolve
    from dimsolve.dims.parse import parse_spec
    from dimsolve.dims.spec_json import spec_to_json

    class Model(torch.nn.Module):
        def forward(self, x, n):
            k = n.item()
            return x[:k]

    model, args = Model(), (torch.randn(6, 4), torch.tensor(3))
    guards = json.loads(dimsolve.trace_guards(model, args).model_dump_json())
    assert any(not s["backed"] and "label" in s for s in guards["symbols"])
    spec = spec_to_json(parse_spec(model, args, None, {"x": (Dim("dx"), 4), "n": None}).spec)
    response = app_client.post("/v1/check", json={"guardset": guards, "spec": spec})
    assert response.status_code == 200, response.text


# --- a property: whatever the symbols say, the answer is a report or a 422 -----------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PATHS = [{"input": [n], "axis": a} for n in ("x", "y") for a in (0, 1)] + [
    {"input": ["x"], "axis": 2}, {"input": ["z"], "axis": 0}, {"input": ["x", 0], "axis": 0}, {"input": ["y", "k"], "axis": 1}]
_symbol_strategy = st.fixed_dictionaries({
    "name": st.sampled_from(["s0", "s1", "s2", "s3", "u0"]),
    "paths": st.lists(st.sampled_from(_PATHS), max_size=2),
    "example": st.sampled_from([None, -1, 0, 1, 4, 6, 2**63 - 1]),
    "backed": st.booleans(),
})


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(symbols=st.lists(_symbol_strategy, max_size=5),
       specializations=st.lists(st.fixed_dictionaries({"path": st.sampled_from(_PATHS), "value": st.integers(0, 7)}),
                                max_size=2),
       with_meta=st.booleans())
def test_any_symbol_table_is_answered_with_a_report_or_a_422(app_client, symbols, specializations, with_meta):
    body = check_body()
    body["guardset"]["symbols"] = symbols
    body["guardset"]["specializations"] = specializations
    if not with_meta:
        del body["guardset"]["meta"]
    response = app_client.post("/v1/check", json=body)
    assert response.status_code in (200, 422), (response.status_code, response.text, symbols)
    if response.status_code == 422:
        assert response.json()["path"].startswith(("guardset", "spec")), response.text
