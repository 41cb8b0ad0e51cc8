"""Fixtures for the service tests: a real ``dimsolve serve`` process on a free loopback port, and
hand-made GuardSets in the wire form (no torch needed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    import fastapi  # noqa: F401
    import httpx
except ImportError:  # the serve extra is not installed: only the framework-free tests run
    collect_ignore_glob = ["test_app.py", "test_server.py", "test_fuzz.py"]

STARTUP_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m dimsolve.cli.main serve`` on loopback; always terminated and waited for."""

    def __init__(self, *flags: str, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"server-{self.port}.log"
        cmd = [sys.executable, "-m", "dimsolve.cli.main", "serve", "--port", str(self.port), "--log-level",
               "warning", *flags]
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not become ready in {STARTUP_TIMEOUT_S} s:\n{self.log.read_text()}")

    def healthy(self) -> bool:
        response = httpx.get(self.url + "/healthz", timeout=10)
        return response.status_code == 200 and response.json()["status"] == "ok"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server("--workers", "2", log_dir=tmp_path_factory.mktemp("service"))
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c
