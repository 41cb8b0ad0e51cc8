"""No one client takes the service: its checks beyond its share of the workers queue behind its own,
a slow body is cut off, and a worker that cannot start is a startup error, not a hang."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from conftest import Server, free_port
from service_wire import check_body
from test_pool import SLOW

from dimsolve.service.fairness import ClientShare


def test_a_client_waits_for_its_own_slot_while_another_client_gets_one():
    async def scenario() -> list[str]:
        share, order = ClientShare(1), []

        async def check(client: str, name: str, hold: asyncio.Event | None, timeout_s: float = 5.0) -> None:
            async with share.slot(client, timeout_s) as got:
                order.append(f"{name}:{'in' if got else 'timeout'}")
                if got and hold is not None:
                    await hold.wait()

        release = asyncio.Event()
        first = asyncio.create_task(check("a", "a1", release))
        await asyncio.sleep(0)
        second = asyncio.create_task(check("a", "a2", None, timeout_s=0.05))  # a's one slot is taken
        other = asyncio.create_task(check("b", "b1", None))
        await asyncio.gather(second, other)
        release.set()
        await first
        return order

    assert asyncio.run(scenario()) == ["a1:in", "b1:in", "a2:timeout"]


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    srv = Server("--workers", "2", "--request-timeout", "8", "--body-timeout", "1",
                 log_dir=tmp_path_factory.mktemp("fair"))
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_heavy_checks_of_one_client_leave_a_worker_to_another(two_workers):
    # client 127.0.0.1 sends two checks that run to the deadline; 127.0.0.2's light check is answered first
    finished: list[str] = []

    def post(name: str, body: dict, source: str) -> None:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=60) as c:
            c.post(two_workers.url + "/v1/check", json=body)
        finished.append(name)

    # two different bodies: identical ones would share one computation (the cache joins them)
    bodies = [SLOW, {**SLOW, "timeout_ms": SLOW["timeout_ms"] - 1}]
    heavy = [threading.Thread(target=post, args=(f"heavy{i}", body, "127.0.0.1")) for i, body in enumerate(bodies)]
    for t in heavy:
        t.start()
    while httpx.get(two_workers.url + "/healthz", timeout=10).json()["workers_busy"] < 1:
        time.sleep(0.05)
    time.sleep(1.0)  # the second heavy check has arrived too: it runs, or queues behind the first
    light = threading.Thread(target=post, args=("light", check_body(), "127.0.0.2"))
    light.start()
    for t in heavy + [light]:
        t.join()
    assert finished[0] == "light", finished


def test_a_body_sent_too_slowly_is_408_in_the_error_shape(two_workers):
    with socket.create_connection(("127.0.0.1", two_workers.port), timeout=30) as s:
        s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"schema")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert json.loads(body)["limit"] == "body_timeout_s"


def test_a_worker_that_cannot_start_is_a_startup_error():
    run = subprocess.run([sys.executable, "-m", "dimsolve.cli.main", "serve", "--port", str(free_port()),
                          "--workers", "1", "--worker-memory-mb", "64"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "--worker-memory-mb" in run.stderr and "Traceback" not in run.stderr
