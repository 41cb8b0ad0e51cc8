"""The app in-process (FastAPI's TestClient, checks in a thread): limits, cache, errors, OpenAPI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import fields

import pytest
from fastapi.testclient import TestClient
from service_wire import check_body

from dimsolve.service import pool as pool_module
from dimsolve.service.app import create_app, loc_path
from dimsolve.service.cache import ReportCache, request_key
from dimsolve.service.errors import ServiceError
from dimsolve.service.limits import CODEC_MAX_DEPTH, SOLVER_TIMEOUT_MS, Limits
from dimsolve.service.pool import SolverPool

SMALL = Limits(workers=0, max_symbols=3, max_guards=2, max_dims=3, max_body_bytes=8192, max_timeout_ms=500,
               max_expr_depth=8)


@pytest.fixture(scope="module")
def small():
    with TestClient(create_app(SMALL)) as c:
        yield c


@pytest.fixture(scope="module")
def app_client():
    with TestClient(create_app(Limits(workers=0))) as c:
        yield c


def _error(response) -> tuple[int, str, str | None, str | None]:
    body = response.json()
    assert body["schema_version"] == 1 and body["message"], body
    return response.status_code, body["error"], body["path"], body["limit"]


LIMITS = [
    pytest.param(lambda b: b["guardset"]["symbols"].append(dict(b["guardset"]["symbols"][0], name="s9")),
                 (422, "limit_exceeded", "guardset.symbols", "max_symbols"), id="symbols"),
    pytest.param(lambda b: b["guardset"]["guards"].append(dict(b["guardset"]["guards"][0])),
                 (422, "limit_exceeded", "guardset.guards", "max_guards"), id="guards"),
    pytest.param(lambda b: b["spec"]["dims"].append(dict(b["spec"]["dims"][0], axis=1)),
                 (422, "limit_exceeded", "spec.dims", "max_dims"), id="dims"),
    pytest.param(lambda b: b.update(timeout_ms=501), (422, "limit_exceeded", "timeout_ms", "max_timeout_ms"),
                 id="timeout"),
    pytest.param(lambda b: b["guardset"]["guards"].__setitem__(0, dict(b["guardset"]["guards"][0],
                                                                       expr="(" * 9 + "s0" + ")" * 9 + " > 2")),
                 (422, "limit_exceeded", "guardset.guards[0].expr", "max_expr_depth"), id="expression-depth"),
    pytest.param(lambda b: b["guardset"]["meta"].update(pad="x" * 9000), (413, "limit_exceeded", None, "max_body_bytes"),
                 id="body"),
]


@pytest.mark.parametrize("mutate, expected", LIMITS)
def test_each_limit_is_named_in_the_answer(small, mutate, expected):
    body = check_body(["Eq(s0, s2)", "s2 <= 512"])
    body["guardset"]["symbols"] = body["guardset"]["symbols"][:3]
    # y.shape[1] has no symbol now: a traced GuardSet then records it as specialised
    body["guardset"]["specializations"] = [{"path": {"input": ["y"], "axis": 1}, "value": 4}]
    body["spec"]["dims"] = body["spec"]["dims"][:3]
    assert small.post("/v1/check", json=body).status_code == 200
    mutate(body)
    assert _error(small.post("/v1/check", json=body)) == expected


def test_identical_requests_are_served_from_the_cache(app_client):
    body = check_body(["Eq(s0, s2)", "s2 <= 100"])
    first = app_client.post("/v1/check", json=body)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=1)
    second = app_client.post("/v1/check", content=reordered)
    assert (first.headers["x-dimsolve-cache"], second.headers["x-dimsolve-cache"]) == ("miss", "hit")
    assert first.content == second.content
    other = app_client.post("/v1/check", json={**body, "timeout_ms": 1999})
    assert other.headers["x-dimsolve-cache"] == "miss" and other.content == first.content


def test_a_check_without_recorded_inputs_uses_the_symbols(app_client):
    body = check_body()
    del body["guardset"]["meta"]
    answer = app_client.post("/v1/check", json=body).json()
    assert [d["code"] for d in answer["diagnostics"]] == ["DS201", "DS301", "DS401"]


def test_spec_findings_come_before_solving(app_client):
    body = check_body()
    body["spec"]["roots"]["dx"] = {"min": 10, "max": 3}
    answer = app_client.post("/v1/check", json=body).json()
    codes = [d["code"] for d in answer["diagnostics"]]
    assert "DS104" in codes and all(c.startswith("DS1") for c in codes) and answer["ok"] is False


def test_explain(app_client):
    body = app_client.post("/v1/explain", json={"schema_version": 1, "code": " ds401 "}).json()
    assert (body["code"], body["name"], body["severity"]) == ("DS401", "must-be-static", "error")
    missing = app_client.post("/v1/explain", json={"code": "DS000"})
    assert _error(missing) == (404, "unknown_code", "code", None)


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_schema_version_is_the_integer_one_not_something_equal_to_it(app_client, version):
    answer = app_client.post("/v1/explain", json={"schema_version": version, "code": "DS201"})
    assert _error(answer)[:3] == (422, "invalid_request", "schema_version")


def test_healthz_answers_head_probes_too(app_client):
    head, get = app_client.head("/healthz"), app_client.get("/healthz")
    assert head.status_code == get.status_code == 200 and head.content == b""


def test_openapi_publishes_the_request_and_report_models(app_client):
    schema = app_client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/healthz", "/v1/check", "/v1/explain"}
    body = schema["paths"]["/v1/check"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CheckRequest"}
    components = schema["components"]["schemas"]
    text = json.dumps(schema)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in components, ref
    for name in ("ReportModel", "ErrorResponse", "HealthResponse", "ExplainResponse"):
        assert "schema_version" in components[name]["properties"], name


def test_loc_path_spells_json_paths():
    assert loc_path(("guardset", "guards", 3, "expr")) == "guardset.guards[3].expr"
    assert loc_path(()) == ""


# --- cache and pool, without HTTP ------------------------------------------------------------------


def test_request_key_ignores_formatting_and_key_order():
    assert request_key({"a": 1, "b": [1, {"c": 2, "d": 3}]}) == request_key({"b": [1, {"d": 3, "c": 2}], "a": 1})
    assert request_key({"a": 1}) != request_key({"a": 2})


def test_cache_evicts_least_recently_used_by_count_and_bytes():
    cache = ReportCache(max_entries=2, max_bytes=10)
    cache.put("a", "1111")
    cache.put("b", "2222")
    cache.get("a")
    cache.put("c", "3333")  # over 2 entries: b, the least recently used, goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("1111", None, "3333")
    cache.put("d", "4444444")  # c and d are 11 bytes, over 10: c goes too
    assert len(cache) == 1 and cache.get("d") == "4444444"
    cache.put("e", "x" * 11)  # larger than the whole cache: not kept
    assert cache.get("e") is None


def test_identical_checks_running_at_once_are_computed_once():
    cache = ReportCache(max_entries=8, max_bytes=1000)
    calls = []

    async def compute():
        calls.append(1)
        await asyncio.sleep(0.05)
        return "report", True

    async def run():
        return await asyncio.gather(*(cache.answer("k", compute) for _ in range(5)))

    answers = asyncio.run(run())
    assert len(calls) == 1
    assert sorted(how for _, how in answers) == ["joined"] * 4 + ["miss"]
    assert asyncio.run(cache.answer("k", compute)) == ("report", "hit")


def test_uncacheable_answers_and_errors_are_not_kept():
    cache = ReportCache(max_entries=8, max_bytes=1000)

    async def undecided():
        return "DS901 report", False

    async def refused():
        raise ServiceError(422, "invalid_request", "no")

    assert asyncio.run(cache.answer("u", undecided)) == ("DS901 report", "miss")
    assert cache.get("u") is None
    with pytest.raises(ServiceError):
        asyncio.run(cache.answer("r", refused))
    assert cache.get("r") is None


def _slow_check(*_):
    time.sleep(0.5)
    return ("ok", "{}", True)


def test_a_check_over_the_wall_clock_limit_is_504(monkeypatch):
    monkeypatch.setattr(pool_module, "run_check", _slow_check)
    solver = SolverPool(workers=0, max_pending=4, request_timeout_s=0.05)
    with pytest.raises(ServiceError) as info:
        asyncio.run(solver.check({}, {}, 10))
    solver.close()
    assert (info.value.status, info.value.limit) == (504, "request_timeout_s")


def test_a_full_queue_is_503():
    solver = SolverPool(workers=0, max_pending=0, request_timeout_s=5)
    with pytest.raises(ServiceError) as info:
        asyncio.run(solver.check({}, {}, 10))
    solver.close()
    assert (info.value.status, info.value.kind, info.value.limit) == (503, "overloaded", "max_pending")


# --- the service's copies of library constants stay equal to the library's -----------------------


def test_limits_mirror_the_codec_and_solver_defaults():
    from dimsolve.guards.codec import DEFAULT_MAX_DEPTH
    from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS

    assert (CODEC_MAX_DEPTH, SOLVER_TIMEOUT_MS) == (DEFAULT_MAX_DEPTH, DEFAULT_TIMEOUT_MS)
    assert Limits().max_expr_depth <= DEFAULT_MAX_DEPTH
    assert {f.name for f in fields(Limits)} >= {"max_body_bytes", "max_symbols", "max_guards", "workers"}


def test_guard_kinds_of_the_request_model_are_the_library_kinds():
    from typing import get_args

    from dimsolve.guards.model import GuardKind
    from dimsolve.service.models import GuardWire

    assert set(get_args(GuardWire.model_fields["kind"].annotation)) == {k.value for k in GuardKind}


def test_request_handling_never_imports_torch():
    # a fresh interpreter in which importing torch fails loudly: build the app, answer checks
    code = r'''
import importlib.abc, sys
sys.path.insert(0, sys.argv[1])
attempts = []
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            attempts.append(name)
            raise ImportError("torch must not be imported while serving")
sys.meta_path.insert(0, NoTorch())
from fastapi.testclient import TestClient
from service_wire import check_body
from dimsolve.service.app import create_app
from dimsolve.service.limits import Limits
with TestClient(create_app(Limits(workers=0))) as client:
    report = client.post("/v1/check", json=check_body()).json()
    assert [d["code"] for d in report["diagnostics"]] == ["DS201", "DS301", "DS401"], report
    assert client.post("/v1/explain", json={"code": "DS201"}).status_code == 200
    assert client.get("/openapi.json").status_code == 200
assert not attempts and "torch" not in sys.modules, attempts
print("ok")
'''
    from pathlib import Path

    here = str(Path(__file__).parent)
    proc = subprocess.run([sys.executable, "-c", code, here], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr
