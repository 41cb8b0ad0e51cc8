"""Bounded load test of ``dimsolve serve`` on loopback: throughput and p50/p99 latency, as a markdown table.

    python bench/load_service.py                       # starts its own server on a free loopback port
    python bench/load_service.py --requests 200 --concurrency 1,8 --workers 4
    python bench/load_service.py --url http://127.0.0.1:8000   # an already running server (loopback only)

For each number of concurrent clients (one ``httpx.AsyncClient`` each, keep-alive) it sends a fixed
number of checks twice: *uncached*, every request a different GuardSet (a guard constant varies),
so every one is solved; and *cached*, the same request every time, answered from the LRU after the
first. The GuardSet is the tutorial model's (4 symbols, 4 guards, 3 findings with a verified fix).
Nothing leaves the machine: the server listens on 127.0.0.1 and ``--url`` must be a loopback URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx

GUARDS = ("Eq(s0, s2)", "s2 <= {bound}", "Eq(s1, 4)", "Eq(s3, 4)")
SHAPES = {"x": [6, 4], "y": [6, 4]}


def check_body(bound: int) -> dict[str, Any]:
    """The tutorial model's GuardSet with ``y.shape[0] <= bound`` and the spec ``{"x": (dx, d1), "y": (dy, d1)}``."""
    symbols = [{"name": f"s{i}", "paths": [{"input": [name], "axis": axis}], "example": SHAPES[name][axis],
                "backed": True} for i, (name, axis) in enumerate((("x", 0), ("x", 1), ("y", 0), ("y", 1)))]
    guards = [{"expr": g.format(bound=bound), "kind": "guard", "origin": {"file": "model.py", "line": 20 + i}}
              for i, g in enumerate(GUARDS)]
    leaves = [{"path": [k], "shape": v} for k, v in SHAPES.items()]
    guardset = {"schema_version": 1, "torch_version": "2.13.0", "strict": False, "symbols": symbols, "guards": guards,
                "specializations": [], "failures": [],
                "assumptions": {f"s{i}": {"integer": True, "positive": True} for i in range(4)},
                "meta": {"inputs": json.dumps({"params": ["x", "y"], "leaves": leaves})}}
    dims = [{"input": [name], "axis": axis, "kind": "root", "root": root}
            for name, axis, root in (("x", 0, "dx"), ("x", 1, "d1"), ("y", 0, "dy"), ("y", 1, "d1"))]
    spec = {"schema_version": 1, "roots": {"dx": {}, "dy": {}, "d1": {}}, "dims": dims}
    return {"schema_version": 1, "guardset": guardset, "spec": spec}


@dataclass(frozen=True)
class Result:
    mode: str
    clients: int
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    cache: dict[str, int]

    def row(self) -> str:
        p50, p99 = percentile(self.latencies, 50), percentile(self.latencies, 99)
        ok = self.statuses.get(200, 0)
        return (f"| {self.mode} | {self.clients} | {self.requests} | {self.requests / self.seconds:,.0f} | "
                f"{p50 * 1000:,.1f} | {p99 * 1000:,.1f} | {ok}/{self.requests} |")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[index]


async def run(url: str, mode: str, clients: int, requests: int, tag: int) -> Result:
    bodies = [json.dumps(check_body(513 + tag * requests + i if mode == "uncached" else 512)).encode()
              for i in range(requests)]
    if mode == "cached":  # the first answer fills the cache; it is not timed
        async with httpx.AsyncClient(base_url=url, timeout=120) as warm:
            (await warm.post("/v1/check", content=bodies[0])).raise_for_status()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    cache: dict[str, int] = {}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120, headers={"content-type": "application/json"}) as c:
            while not queue.empty():
                body = queue.get_nowait()
                start = time.perf_counter()
                response = await c.post("/v1/check", content=body)
                latencies.append(time.perf_counter() - start)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                how = response.headers.get("x-dimsolve-cache", "-")
                cache[how] = cache.get(how, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Result(mode, clients, requests, time.perf_counter() - start, latencies, statuses, cache)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "dimsolve.cli.main", "serve", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning"]
    proc = subprocess.Popen(cmd)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start in 120 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per row (default: 500)")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated client counts (default: 1,4,16)")
    parser.add_argument("--workers", type=int, default=None, help="solver processes of the server it starts")
    parser.add_argument("--url", help="use this running server instead (must be loopback)")
    args = parser.parse_args()
    counts = [int(c) for c in args.concurrency.split(",")]
    proc = None
    if args.url:
        if urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("--url must be a loopback address: this load test never leaves the machine")
        url = args.url
    else:
        workers = args.workers if args.workers is not None else max(1, min(4, os.cpu_count() or 1))
        proc, url = start_server(workers)
    try:
        health = httpx.get(url + "/healthz", timeout=10).json()
        results = []
        for tag, clients in enumerate(counts):
            for mode in ("uncached", "cached"):
                results.append(asyncio.run(run(url, mode, clients, args.requests, tag)))
                print(f"  {mode} x{clients}: {results[-1].seconds:.1f} s, cache {results[-1].cache}", file=sys.stderr)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"dimsolve {health['version']}, {health['workers']} solver worker(s); Python {platform.python_version()} on "
          f"{platform.machine()}, {os.cpu_count()} CPU(s), load average {load} after the run; "
          f"{args.requests} requests per row, loopback\n")
    print("| checks | clients | requests | req/s | p50 ms | p99 ms | 200 OK |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())
    return 0 if all(r.statuses.get(200, 0) == r.requests for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
