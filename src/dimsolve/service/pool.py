"""Where checks run: worker processes with hard deadlines, so the event loop never waits on sympy or z3.

Processes, not threads: parsing guards and building the problem is pure-Python sympy work that
holds the GIL, and z3's default context is not safe to share between threads; a worker process
also keeps a request that exhausts memory or crashes z3 away from the server. Each worker runs one
check at a time and is the pool's own (not a ``ProcessPoolExecutor``'s), so that a check still
running at its deadline is stopped by killing its worker: z3 inside a C call answers no Python
signal, and a worker left running would hold its slot and its memory long after the 504. A fresh
worker takes the killed one's place. Each worker caps its own address space and z3's memory.

Workers are started with ``spawn`` (the server process has threads by then, so ``fork`` would be
unsafe) and warmed up (sympy, z3 and dimsolve imported) before they take checks. ``workers=0`` runs
checks in one thread of the server process instead, one at a time, without a hard deadline: for
tests and embedding, not for serving.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from dimsolve.service.errors import ServiceError, limit_exceeded
from dimsolve.service.fairness import ClientShare

log = logging.getLogger("dimsolve.service")

# a worker's answer: ("ok", report_json, cacheable) or ("error", status, kind, message, path, limit, limit_value)
Outcome = tuple[Any, ...]

MIB = 1024 * 1024
STARTUP_TIMEOUT_S = 120.0  # a worker that has not warmed up by then is killed and started again
RESTART_DELAY_S = 1.0  # between failed starts of a worker, doubling up to MAX_RESTART_DELAY_S
MAX_RESTART_DELAY_S = 60.0


class WorkerStartError(RuntimeError):
    """A solver worker could not start when the service started: a setting (the memory cap) or the
    installation is wrong, and retrying would only hide it."""
Z3_MEMORY_SHARE = 0.75  # of the worker's address-space cap: z3 gives up (DS901) before Python's MemoryError
RECYCLE_SHARE = 0.5  # a worker whose resident memory has grown past this share of its cap is replaced


def run_check(guardset: Any, spec: Any, timeout_ms: int) -> Outcome:
    """The worker's job (top level, so it pickles by name); refusals come back as data, not exceptions."""
    from dimsolve.service.check import check_request

    try:
        with fresh_z3_context():
            text, cacheable = check_request(guardset, spec, timeout_ms)
    except ServiceError as exc:
        return ("error", exc.status, exc.kind, exc.message, exc.path, exc.limit, exc.limit_value)
    except RecursionError:
        return ("error", 422, "limit_exceeded", "the request is nested too deeply to check", None, None, None)
    except MemoryError:
        return ("error", 422, "limit_exceeded", "checking the request ran out of memory (worker_memory_mb)", None,
                "worker_memory_mb", None)
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


# --- the worker process ----------------------------------------------------------------------------


def cap_memory(memory_mb: int) -> None:
    """Limit this process's address space to ``memory_mb`` (Python raises MemoryError past it) and
    z3's allocations to a share of it (z3 answers unknown); 0 leaves both unlimited."""
    if memory_mb <= 0:
        return
    import resource

    import z3

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_mb * MIB if hard == resource.RLIM_INFINITY else min(memory_mb * MIB, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    z3.set_param("memory_max_size", max(1, int(limit * Z3_MEMORY_SHARE) // MIB))


def _resident_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB
    except (OSError, ValueError, IndexError):
        return 0.0


def worker_main(conn: Connection, memory_mb: int) -> None:
    """A worker: cap memory, warm up, say ``ready``, then answer ``(guardset, spec, timeout_ms)``
    jobs with ``(outcome, retiring)`` until the pipe closes or a job is None. ``retiring``: its
    memory grew past ``RECYCLE_SHARE`` of the cap, so it exits and the pool starts another."""
    try:
        cap_memory(memory_mb)
        warm_up()
    except (MemoryError, OSError, ImportError) as exc:  # the cap is too small to load the solver
        conn.send(("failed", type(exc).__name__ + (f": {exc}" if str(exc) else "")))
        return
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        outcome = run_check(*job)
        retiring = memory_mb > 0 and _resident_mb() > RECYCLE_SHARE * memory_mb
        conn.send((outcome, retiring))
        if retiring:
            return


def _start_failure(code: Any, memory_mb: int) -> str:
    """Why a worker did not start: ``code`` is its exit code, None (no answer), or its own ("failed", why)."""
    if isinstance(code, tuple):
        why = f"failed to load the solver ({code[1]})"
    else:
        why = "did not report ready" if code is None else f"exited with code {code} before it was ready"
    hint = (f"; its address space is capped at {memory_mb} MiB (--worker-memory-mb), too little to load the "
            "solver: raise it (a worker needs about 300 MiB) or pass 0 for no cap") if memory_mb > 0 else ""
    return f"a solver worker {why}{hint}"


class _WorkerDied(Exception):
    pass


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, memory_mb: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=worker_main, args=(child, memory_mb), daemon=True,
                                       name="dimsolve-solver")
        self.process.start()
        child.close()

    async def receive(self) -> Any:
        """The worker's next message, without blocking the event loop while it works."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        fd = self.conn.fileno()

        def readable() -> None:
            loop.remove_reader(fd)
            if future.done():
                return
            try:
                future.set_result(self.conn.recv())
            except (EOFError, OSError) as exc:
                future.set_exception(_WorkerDied(str(exc)))

        loop.add_reader(fd, readable)
        try:
            return await future
        finally:
            loop.remove_reader(fd)

    def kill(self) -> None:
        """Stop now, whatever it is doing (SIGKILL: a worker inside z3 does not see SIGTERM soon)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


@dataclass(frozen=True)
class PoolStatus:
    workers: int  # configured
    free: int  # idle and ready for a check
    busy: int  # running a check
    starting: int  # being started (a replacement after a deadline or a crash)


def preflight_worker(memory_mb: int) -> None:
    """Start and stop one worker before the server listens (blocking), so a setting that keeps workers
    from starting is a clear startup error instead of a server that never becomes ready. The worker's
    stderr goes to a scratch file: a child dying while it loads prints Python's traceback there, and
    only its last line reaches the error."""
    import os
    import tempfile

    with tempfile.TemporaryFile() as scratch:
        saved = os.dup(2)
        os.dup2(scratch.fileno(), 2)
        try:
            worker = _Worker(memory_mb)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        answer: Any = None
        try:
            if worker.conn.poll(STARTUP_TIMEOUT_S):
                answer = worker.conn.recv()
        except (EOFError, OSError):
            answer = None
        worker.kill()
        if answer == "ready":
            return
        if answer is None:
            scratch.seek(0)
            last = [line for line in scratch.read().decode(errors="replace").splitlines() if line.strip()][-1:]
            answer = ("failed", last[0]) if last else worker.process.exitcode
        raise WorkerStartError(_start_failure(answer, memory_mb))


class SolverPool:
    """Run checks off the event loop, at most ``max_pending`` at once, each within ``request_timeout_s``."""

    def __init__(self, workers: int, max_pending: int, request_timeout_s: float, memory_mb: int = 0,
                 per_client: int = 0) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self.request_timeout_s = request_timeout_s
        self.memory_mb = memory_mb
        self.pending = 0
        self._lock = threading.Lock()  # workers=0: z3's shared context, one check at a time
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dimsolve-check") if workers <= 0 else None
        self._idle: asyncio.Queue[_Worker] | None = None
        self._alive: set[_Worker] = set()
        self._starting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # one client's share of the workers (0: half of them, at least one)
        self._share = ClientShare(per_client or max(1, workers // 2))

    async def start(self) -> None:
        """Start and warm up every worker (a few seconds: imports of sympy, z3 and dimsolve)."""
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, warm_up)
            return
        self._idle = asyncio.Queue()
        await asyncio.gather(*(self._start_worker(at_startup=True) for _ in range(self.workers)))

    def status(self) -> PoolStatus:
        if self._thread is not None:
            busy = int(self._lock.locked())
            return PoolStatus(1, 1 - busy, busy, 0)
        free = self._idle.qsize() if self._idle is not None else 0
        return PoolStatus(self.workers, free, len(self._alive) - free, self._starting)

    def close(self) -> None:
        """Stop the workers now, busy or not (a check in progress is abandoned)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for worker in list(self._alive):
            worker.kill()
        self._alive.clear()
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)

    async def check(self, guardset: Any, spec: Any, timeout_ms: int, client: str = "") -> tuple[str, bool]:
        """(report JSON, cacheable), or a ``ServiceError`` (the request's own, 503 when full, 504 when slow).
        ``client``: the caller's address, which holds at most its share of the workers."""
        if self.pending >= self.max_pending:
            raise ServiceError(503, "overloaded", f"{self.pending} checks are already queued or running; retry later",
                               limit="max_pending", limit_value=self.max_pending)
        self.pending += 1
        try:
            if self._thread is not None:
                outcome = await self._in_thread(guardset, spec, timeout_ms)
            else:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self.request_timeout_s
                async with self._share.slot(client, self.request_timeout_s) as got:
                    if not got:
                        raise self._too_slow()
                    outcome = await self._in_worker(guardset, spec, timeout_ms, deadline)
        finally:
            self.pending -= 1
        if outcome[0] == "error":
            _, status, kind, message, path, *limit = outcome
            raise ServiceError(status, kind, message, path, *limit)
        return outcome[1], outcome[2]

    def _too_slow(self) -> ServiceError:
        return limit_exceeded(f"the check did not finish within {self.request_timeout_s:g} s (request_timeout_s); "
                              "lower timeout_ms or split the GuardSet", None, "request_timeout_s",
                              int(self.request_timeout_s), status=504)

    async def _in_thread(self, guardset: Any, spec: Any, timeout_ms: int) -> Outcome:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._thread, self._locked, guardset, spec, timeout_ms),
                                          self.request_timeout_s)
        except asyncio.TimeoutError:
            raise self._too_slow() from None

    def _locked(self, guardset: Any, spec: Any, timeout_ms: int) -> Outcome:
        with self._lock:
            return run_check(guardset, spec, timeout_ms)

    async def _in_worker(self, guardset: Any, spec: Any, timeout_ms: int, deadline: float) -> Outcome:
        """One check in a free worker, within the deadline (queueing included); a worker still busy at
        the deadline, or whose request is abandoned, is killed and replaced."""
        loop = asyncio.get_running_loop()
        worker = await self._take_worker(max(0.0, deadline - loop.time()))
        try:
            worker.conn.send((guardset, spec, timeout_ms))
            outcome, retiring = await asyncio.wait_for(worker.receive(), max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            log.warning("a check ran past request_timeout_s: its worker (pid %s) is killed", worker.process.pid)
            self._replace(worker)
            raise self._too_slow() from None
        except (_WorkerDied, OSError):
            log.error("a solver worker (pid %s) died; starting another", worker.process.pid)
            self._replace(worker)
            raise ServiceError(503, "worker_crashed", "the solver worker checking this request died; retry") from None
        except BaseException:  # cancelled (the client went away): the worker's answer would come unasked
            self._replace(worker)
            raise
        if retiring:
            self._replace(worker)
        else:
            self._idle.put_nowait(worker)
        return outcome  # type: ignore[no-any-return]

    async def _take_worker(self, timeout_s: float) -> _Worker:
        """A free worker, waiting at most ``timeout_s`` (504 past it)."""
        assert self._idle is not None  # start() made it
        getter = asyncio.ensure_future(self._idle.get())
        try:
            await asyncio.wait({getter}, timeout=timeout_s)
        except BaseException:  # cancelled while waiting: a worker it got meanwhile goes back
            self._give_back(getter)
            raise
        if not getter.done():
            self._give_back(getter)
            raise self._too_slow()
        return getter.result()

    def _give_back(self, getter: asyncio.Future[_Worker]) -> None:
        assert self._idle is not None
        if not getter.done():
            getter.cancel()
        elif not getter.cancelled() and getter.exception() is None:
            self._idle.put_nowait(getter.result())

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self._alive.discard(worker)
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._start_worker())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start_worker(self, at_startup: bool = False) -> None:
        """Start one worker and put it in the idle queue once warm. At startup a failure is the
        service's (``WorkerStartError``); later, a replacement is retried with a growing delay."""
        assert self._idle is not None
        self._starting += 1
        delay = RESTART_DELAY_S
        try:
            while not self._closed:
                worker = _Worker(self.memory_mb)
                try:
                    ready = await asyncio.wait_for(worker.receive(), STARTUP_TIMEOUT_S)
                except (asyncio.TimeoutError, _WorkerDied, OSError):
                    ready = None
                except BaseException:
                    worker.kill()
                    raise
                if ready == "ready":
                    self._alive.add(worker)
                    self._idle.put_nowait(worker)
                    return
                worker.kill()
                code = worker.process.exitcode if ready is None else ready
                if at_startup:
                    raise WorkerStartError(_start_failure(code, self.memory_mb))
                log.error("a solver worker did not start (exit code %s); trying again in %g s", code, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, MAX_RESTART_DELAY_S)
        finally:
            self._starting -= 1
