"""The real ``dimsolve serve`` process, talked to over loopback HTTP as a compile farm would."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
from service_wire import check_body, tutorial_spec

from dimsolve.service.pool import fresh_z3_context


def test_healthz_names_the_schema_version(client):
    body = client.get("/healthz").json()
    assert body["schema_version"] == 1 and body["status"] == "ok" and body["workers"] == 2


def test_check_answers_the_json_report_and_caches_it(client):
    first = client.post("/v1/check", json=check_body())
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["schema_version"] == 1 and report["ok"] is False
    assert [d["code"] for d in report["diagnostics"]] == ["DS201", "DS301", "DS401"]
    assert 'dynamic_shapes = {"x": (dx, 4), "y": (dx, 4)}' in report["fix_code"]
    # the same request, spelled differently, is answered from the cache with the same bytes
    again = client.post("/v1/check", content=json.dumps(check_body(), indent=3, sort_keys=True),
                        headers={"content-type": "application/json"})
    assert again.headers["x-dimsolve-cache"] == "hit" and again.content == first.content


def test_explain_answers_the_code_page(client):
    body = client.post("/v1/explain", json={"code": "ds201"}).json()
    assert body["schema_version"] == 1 and body["code"] == "DS201"
    assert body["doc"].startswith("# DS201 must-be-equal")


@pytest.mark.torch
def test_round_trip_of_a_traced_guardset_equals_check_spec(client):
    import torch
    from torch.export import Dim

    import dimsolve
    from dimsolve.dims.spec_json import spec_to_json

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(4, 4)

        def forward(self, x, y):
            w = x + y
            if w.shape[0] <= 512:
                w = self.proj(w)
            return w

    model, args = Model(), (torch.randn(6, 4), torch.randn(6, 4))
    dx, dy, d1 = Dim("dx"), Dim("dy"), Dim("d1")
    dynamic_shapes = {"x": (dx, d1), "y": (dy, d1)}
    guards = dimsolve.trace_guards(model, args)
    with fresh_z3_context():  # as each worker does: counterexamples depend on what z3's context saw before
        expected = dimsolve.check_spec(guards, dynamic_shapes)
    assert not expected.ok

    body = {"guardset": json.loads(guards.model_dump_json()), "spec": spec_to_json(expected.spec)}
    response = client.post("/v1/check", json=body)
    assert response.status_code == 200, response.text
    assert response.text == expected.model_dump_json()

    # the client applies the fixes: the fixed spec, posted back, is valid
    fixed = {"guardset": body["guardset"], "spec": spec_to_json(expected.fixed_spec)}
    again = client.post("/v1/check", json=fixed).json()
    assert again["ok"] is True and again["diagnostics"] == []
    with fresh_z3_context():
        assert again == json.loads(dimsolve.check_spec(guards, expected.fixed_dynamic_shapes).model_dump_json())


HOSTILE = [
    pytest.param(b"[" * 200_000, 400, "invalid_json", None, id="deeply-nested-json"),
    pytest.param(b'{"guardset": ' * 5_000, 400, "invalid_json", None, id="deeply-nested-objects"),
    pytest.param(b"{not json", 400, "invalid_json", None, id="not-json"),
    pytest.param(json.dumps(check_body(["__import__('os').system('true')"])).encode(), 422, "invalid_request",
                 "guardset.guards[0].expr", id="import-in-expression"),
    pytest.param(json.dumps(check_body(["__import__(os)"])).encode(), 422, "invalid_request",
                 "guardset.guards[0].expr", id="dunder-name-in-expression"),
    pytest.param(json.dumps(check_body(["s0 > " + "9" * 40])).encode(), 422, "invalid_request",
                 "guardset.guards[0].expr", id="huge-constant-in-expression"),
    pytest.param(json.dumps(check_body(["(" * 300 + "s0" + ")" * 300 + " > 2"])).encode(), 422, "limit_exceeded",
                 "guardset.guards[0].expr", id="deep-expression"),
    pytest.param(json.dumps(check_body(["-" * 200 + "s0 > 2"])).encode(), 422, "invalid_request",
                 "guardset.guards[0].expr", id="deep-unary-expression"),
    pytest.param(b'{"guardset": {}, "spec": {"schema_version": 1, "dims": []}, "timeout_ms": 1' + b"0" * 5000 + b"}",
                 400, "invalid_json", None, id="huge-number"),
    pytest.param(json.dumps({**check_body(), "timeout_ms": 10**40}).encode(), 422, "invalid_request", "timeout_ms",
                 id="huge-timeout"),
    pytest.param(json.dumps({**check_body(), "timeout_ms": 600_000}).encode(), 422, "limit_exceeded", "timeout_ms",
                 id="timeout-over-the-cap"),
    pytest.param(json.dumps({**check_body(), "guardset": "s0 > 2"}).encode(), 422, "invalid_request", "guardset",
                 id="wrong-type"),
    pytest.param(json.dumps({**check_body(), "spec": {**tutorial_spec(), "dims": [{"input": ["x"], "axis": 0,
                 "kind": "root", "root": "zz"}]}}).encode(), 422, "invalid_request", "spec.dims[0].root",
                 id="unknown-root"),
    pytest.param(json.dumps({**check_body(), "spec": {**tutorial_spec(), "dims": [{"input": ["x"], "axis": 7,
                 "kind": "static"}]}}).encode(), 422, "invalid_request", "spec.dims[0].axis", id="axis-past-rank"),
    pytest.param(json.dumps({**check_body(), "spec": {**tutorial_spec(), "dims": [{"input": ["x"], "axis": 0,
                 "kind": "static", "example": 2**70}]}}).encode(), 422, "invalid_request", "spec.dims[0].example",
                 id="huge-example"),
    pytest.param(json.dumps({**check_body(), "extra": 1}).encode(), 422, "invalid_request", "extra",
                 id="unknown-field"),
]


@pytest.mark.parametrize("body, status, error, path", HOSTILE)
def test_hostile_bodies_get_a_clear_4xx_and_the_server_keeps_serving(server, client, body, status, error, path):
    response = client.post("/v1/check", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["schema_version"] == 1 and answer["error"] == error and answer["message"]
    assert answer["path"] == path
    assert server.healthy()


def test_symbol_limit_is_named(server, client):
    body = check_body()
    symbol = body["guardset"]["symbols"][0]
    body["guardset"]["symbols"] = [{**symbol, "name": f"s{i}"} for i in range(2_001)]
    answer = client.post("/v1/check", json=body).json()
    assert (answer["error"], answer["limit"], answer["limit_value"]) == ("limit_exceeded", "max_symbols", 2_000)
    assert "2001 symbols" in answer["message"] and answer["path"] == "guardset.symbols"
    assert server.healthy()


def test_guard_limit_is_named(server, client):
    # 20,001 short guards still fit in the 1 MiB body limit
    body = check_body()
    body["guardset"]["guards"] = [{"expr": "s0>2", "kind": "guard", "origin": None}] * 20_001
    text = json.dumps(body, separators=(",", ":"))
    assert len(text) < 1024 * 1024
    answer = client.post("/v1/check", content=text, headers={"content-type": "application/json"}).json()
    assert (answer["error"], answer["limit"], answer["limit_value"]) == ("limit_exceeded", "max_guards", 20_000)
    assert server.healthy()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversize_body_is_413(server, client, chunked):
    payload = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    content = iter([payload[i:i + 65536] for i in range(0, len(payload), 65536)]) if chunked else payload
    response = client.post("/v1/check", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["limit"] == "max_body_bytes"
    assert server.healthy()


def test_unknown_routes_and_methods_answer_in_the_error_shape(client):
    assert client.get("/nope").json()["error"] == "not_found"
    response = client.get("/v1/check")
    assert response.status_code == 405 and response.json()["schema_version"] == 1


def test_solver_timeout_is_ds901_in_the_report_and_not_cached(client):
    body = check_body(["Ne(s0*s0*s1 - s2*s3*s3, 1234567)"], timeout_ms=1)
    first = client.post("/v1/check", json=body)
    assert first.status_code == 200, first.text
    assert [d["code"] for d in first.json()["diagnostics"]] == ["DS901"]
    assert client.post("/v1/check", json=body).headers["x-dimsolve-cache"] == "miss"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/<pid>/maps")
def test_the_server_process_never_loads_torch(server, client):
    # after answering checks, neither torch nor the solver's libraries are mapped in the server:
    # requests are validated there and solved in worker processes
    client.post("/v1/check", json=check_body())
    maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
    assert "libtorch" not in maps and "libz3" not in maps


def test_the_server_listens_on_loopback_only_by_default():
    from dimsolve.cli.main import _parser

    args = _parser().parse_args(["serve"])
    assert args.host == "127.0.0.1"


def test_concurrent_requests_are_all_answered(server):
    import asyncio

    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
            bodies = [check_body([f"s0 <= {500 + i}"]) for i in range(8)]
            responses = await asyncio.gather(*(c.post("/v1/check", json=b) for b in bodies))
            return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * 8


def _mutated(mutate) -> bytes:
    body = check_body()
    mutate(body["guardset"]["symbols"][0])
    return json.dumps(body).encode()


# bodies that used to answer 500 and reset the keep-alive connection, then two that are answered
KEEP_ALIVE = [
    (_mutated(lambda s: s.update(paths=[])), 422),
    (_mutated(lambda s: s["paths"][0].update(axis=-1)), 422),
    (_mutated(lambda s: s["paths"][0].update(axis=2**63 - 1)), 422),
    (_mutated(lambda s: s["paths"][0].update(input=["nope"])), 422),
    (b"{not json", 400),
    (json.dumps(check_body()).encode(), 200),
]


def test_refused_bodies_keep_the_connection_open(server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        sock = conn.sock
        for body, status in KEEP_ALIVE:
            conn.request("POST", "/v1/check", body=body, headers={"content-type": "application/json"})
            response = conn.getresponse()
            answer = json.loads(response.read())
            assert response.status == status, answer
            assert status == 200 or answer["path"] or answer["error"] == "invalid_json"
            assert conn.sock is sock and response.getheader("connection") != "close"  # the same connection
    finally:
        conn.close()


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="the fixture uses POSIX signals")
