"""Where checks run: a pool of worker processes, so the event loop never waits on sympy or z3.

Processes, not threads: parsing guards and building the problem is pure-Python sympy work that
holds the GIL, and z3's default context is not safe to share between threads; a worker process
also keeps a request that exhausts memory or crashes z3 away from the server. Workers are started
with ``spawn`` (the server process has threads by then, so ``fork`` would be unsafe) and warmed
up (sympy, z3 and dimsolve imported) at startup. ``workers=0`` runs checks in one thread of the
server process instead, one at a time: for tests and embedding, not for serving.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from dimsolve.service.errors import ServiceError, limit_exceeded

log = logging.getLogger("dimsolve.service")

# a worker's answer: ("ok", report_json, cacheable) or ("error", status, kind, message, path)
Outcome = tuple[Any, ...]


def run_check(guardset: Any, spec: Any, timeout_ms: int) -> Outcome:
    """The worker's job (top level, so it pickles by name); refusals come back as data, not exceptions."""
    from dimsolve.service.check import check_request

    try:
        with fresh_z3_context():
            text, cacheable = check_request(guardset, spec, timeout_ms)
    except ServiceError as exc:
        return ("error", exc.status, exc.kind, exc.message, exc.path)
    except RecursionError:
        return ("error", 422, "limit_exceeded", "the request is nested too deeply to check", None)
    except MemoryError:
        return ("error", 422, "limit_exceeded", "checking the request ran out of memory", None)
    return ("ok", text, cacheable)


@contextmanager
def fresh_z3_context() -> Iterator[None]:
    """Run the block with a new default z3 context, then give the process its own back.

    z3's models (the counterexamples in a report) depend on everything the default context has
    seen before; a fresh one per check makes an answer a function of the request alone, the same
    in every worker and in a new process. Restoring the old one keeps z3 objects the host process
    made before valid (``workers=0``). z3py has no public API for this.
    """
    import z3

    saved = z3.z3._main_ctx
    z3.z3._main_ctx = None
    try:
        yield
    finally:
        z3.z3._main_ctx = saved


def warm_up() -> bool:
    """Import what a check needs, so the first request does not pay for it."""
    import dimsolve.export.findings  # noqa: F401
    import dimsolve.export.hints  # noqa: F401
    import dimsolve.export.pipeline  # noqa: F401
    import dimsolve.export.unbacked  # noqa: F401
    import dimsolve.service.check  # noqa: F401
    import dimsolve.solver.synthesis  # noqa: F401

    return True


class SolverPool:
    """Run checks off the event loop, at most ``limits.max_pending`` at once, each within a wall-clock limit."""

    def __init__(self, workers: int, max_pending: int, request_timeout_s: float) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self.request_timeout_s = request_timeout_s
        self.pending = 0
        self._lock = threading.Lock()  # workers=0: z3's shared context, one check at a time
        self._executor = self._new_executor()

    def _new_executor(self) -> Executor:
        if self.workers <= 0:
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="dimsolve-check")
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

    async def start(self) -> None:
        """Start and warm up every worker (a few seconds: imports of sympy, z3 and dimsolve)."""
        loop = asyncio.get_running_loop()
        count = max(1, self.workers)
        await asyncio.gather(*(loop.run_in_executor(self._executor, warm_up) for _ in range(count)))

    def close(self) -> None:
        """Stop the workers now, busy or not (a check in progress is abandoned)."""
        _stop(self._executor)

    async def check(self, guardset: Any, spec: Any, timeout_ms: int) -> tuple[str, bool]:
        """(report JSON, cacheable), or a ``ServiceError`` (the request's own, 503 when full, 504 when slow)."""
        if self.pending >= self.max_pending:
            raise ServiceError(503, "overloaded", f"{self.pending} checks are already queued or running; retry later",
                               limit="max_pending", limit_value=self.max_pending)
        self.pending += 1
        try:
            outcome = await asyncio.wait_for(self._submit(guardset, spec, timeout_ms), self.request_timeout_s)
        except asyncio.TimeoutError:
            raise limit_exceeded(f"the check did not finish within {self.request_timeout_s:g} s (request_timeout_s); "
                                 "lower timeout_ms or split the GuardSet", None, "request_timeout_s",
                                 int(self.request_timeout_s), status=504) from None
        finally:
            self.pending -= 1
        if outcome[0] == "error":
            _, status, kind, message, path = outcome
            raise ServiceError(status, kind, message, path)
        return outcome[1], outcome[2]

    async def _submit(self, guardset: Any, spec: Any, timeout_ms: int) -> Outcome:
        loop = asyncio.get_running_loop()
        executor = self._executor
        try:
            if self.workers <= 0:
                return await loop.run_in_executor(executor, self._locked, guardset, spec, timeout_ms)
            return await loop.run_in_executor(executor, run_check, guardset, spec, timeout_ms)
        except BrokenProcessPool:
            log.error("a solver worker died; starting a new pool")
            if self._executor is executor:
                self._executor = self._new_executor()
                _stop(executor)
            raise ServiceError(503, "worker_crashed", "the solver worker checking this request died; retry") from None

    def _locked(self, guardset: Any, spec: Any, timeout_ms: int) -> Outcome:
        with self._lock:
            return run_check(guardset, spec, timeout_ms)


def _stop(executor: Executor) -> None:
    # ProcessPoolExecutor has no public way to stop a busy worker, and shutdown(wait=False) can leave
    # idle ones running after the server exits: terminate them through its process table
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
