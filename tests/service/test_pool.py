"""Hard deadlines and bounded workers: a check still running at request_timeout_s is stopped by killing
its worker (a fresh one takes its place), ``/healthz`` says when no worker is free, each worker caps
its memory, and expressions that would explode are refused before any worker works on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import Server
from service_wire import check_body

from dimsolve.service.pool import run_check

PATHOLOGICAL = "Eq((s0+s1+s2+s3+1)**32*(s0-s1+3)**32, 10)"
# non-linear modular guards z3 works on for its whole budget, query after query: over 10 s of work at
# timeout_ms=10000 on any machine (budgets are resource limits), far past the 2 s request deadline below
SLOW = check_body([f"Eq(Mod(s0*s0*s1 - s2*s3*s3*s0 + {k}*s1*s2, {7919 + 2 * k}), {4321 + k})" for k in range(4)],
                  timeout_ms=10_000)
AND_CHAIN = " & ".join(f"(s0 > {i})" for i in range(5000))


def workers_of(server: Server) -> set[int]:
    """The pids of the server's solver worker processes (children started by multiprocessing's spawn)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == server.proc.pid and b"spawn_main" in command:
            pids.add(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    srv = Server("--workers", "1", "--request-timeout", "2", log_dir=tmp_path_factory.mktemp("pool"))
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _health(server: Server) -> dict:
    return httpx.get(server.url + "/healthz", timeout=10).json()


def _wait_until_free(server: Server) -> dict:
    for _ in range(600):
        health = _health(server)
        if health["workers_free"]:
            return health
        time.sleep(0.1)
    raise AssertionError(f"no worker became free: {health}")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_check_past_its_deadline_is_504_and_its_worker_is_killed_and_replaced(one_worker):
    health = _wait_until_free(one_worker)
    assert (health["status"], health["workers_free"], health["workers_busy"]) == ("ok", 1, 0)
    [stuck] = workers_of(one_worker)
    answer: dict = {}

    def post() -> None:
        answer["response"] = httpx.post(one_worker.url + "/v1/check", json=SLOW, timeout=60)

    thread = threading.Thread(target=post)
    thread.start()
    time.sleep(1.0)
    during = _health(one_worker)
    # the only worker is busy: the service says so, and still refuses oversize expressions itself
    assert (during["status"], during["workers_free"], during["workers_busy"]) == ("degraded", 0, 1)
    chain = httpx.post(one_worker.url + "/v1/check", json=check_body([AND_CHAIN]), timeout=60).json()
    assert (chain["error"], chain["limit"], chain["path"]) == ("limit_exceeded", "max_expr_operands",
                                                               "guardset.guards[0].expr")
    thread.join(timeout=60)

    response = answer["response"]
    assert response.status_code == 504 and response.json()["limit"] == "request_timeout_s"
    assert stuck not in workers_of(one_worker)  # killed at the deadline, not left running
    health = _wait_until_free(one_worker)
    assert health["status"] == "ok" and workers_of(one_worker) - {stuck}
    ok = httpx.post(one_worker.url + "/v1/check", json=check_body(), timeout=60)
    assert ok.status_code == 200 and [d["code"] for d in ok.json()["diagnostics"]] == ["DS201", "DS301", "DS401"]


def test_an_exploding_expression_is_422_naming_the_limit(one_worker):
    response = httpx.post(one_worker.url + "/v1/check", json=check_body([PATHOLOGICAL]), timeout=60)
    body = response.json()
    assert response.status_code == 422, body
    assert (body["error"], body["limit"], body["path"]) == ("limit_exceeded", "max_expr_terms",
                                                            "guardset.guards[0].expr")
    assert _wait_until_free(one_worker)["workers_free"] == 1  # answered by the worker, which stays


def test_the_worker_refuses_an_exploding_expression_before_expanding_it():
    guardset = check_body([PATHOLOGICAL])["guardset"]
    outcome = run_check(guardset, check_body()["spec"], 2000)
    assert outcome[:3] == ("error", 422, "limit_exceeded") and outcome[5:] == ("max_expr_terms", 128), outcome


def test_a_worker_caps_its_address_space_and_z3s_memory():
    code = """
import resource, z3
from dimsolve.service.pool import cap_memory
cap_memory(512)
print(resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20, z3.get_param("memory_max_size"))
try:
    block = bytearray(600 * 2**20)
except MemoryError:
    print("MemoryError")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["512", "384", "MemoryError"]


# --- never a false "ok" through the service ----------------------------------------------------------


@pytest.mark.parametrize("defect", ["False", "Eq(s77, s77 + 1)", "Ne(s999, s999)", "s77 > 2", "s2 >= 600"])
def test_the_service_never_answers_ok_for_a_defective_guardset(defect):
    from service_wire import TUTORIAL_GUARDS

    fixed = {"schema_version": 1, "roots": {"dx": {"max": 512}},
             "dims": [{"input": [n], "axis": 0, "kind": "root", "root": "dx"} for n in ("x", "y")]
             + [{"input": [n], "axis": 1, "kind": "static"} for n in ("x", "y")]}
    assert json.loads(run_check(check_body()["guardset"], fixed, 2000)[1])["ok"]
    outcome = run_check(check_body(list(TUTORIAL_GUARDS) + [defect])["guardset"], fixed, 2000)
    report = json.loads(outcome[1])
    assert outcome[0] == "ok" and not report["ok"] and "DS904" in [d["code"] for d in report["diagnostics"]]
