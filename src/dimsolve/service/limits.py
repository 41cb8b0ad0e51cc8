"""What one request may cost, and the checks that refuse bigger ones before any solving starts.

Every limit has a name (``max_guards``) that the error answer quotes, so a client knows which one
it hit; ``dimsolve serve --help`` lists the flags that change them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from dimsolve.service.errors import ServiceError, limit_exceeded

MIB = 1024 * 1024
# the same numbers as guards.codec.DEFAULT_MAX_DEPTH, guards.codec.MAX_OPERANDS and
# solver.budget.DEFAULT_TIMEOUT_MS (a test holds them equal): importing those modules would load
# sympy and z3 into the server process
CODEC_MAX_DEPTH = 64
CODEC_MAX_OPERANDS = 256
SOLVER_TIMEOUT_MS = 2000


@dataclass(frozen=True, slots=True)
class Limits:
    """The service's limits; the defaults suit a shared compile-farm service on a few cores."""

    max_body_bytes: int = 1 * MIB  # larger bodies: 413
    max_symbols: int = 2_000  # GuardSet symbols
    max_guards: int = 20_000  # guards + trace failures
    max_dims: int = 2_000  # spec dims and roots
    max_expr_depth: int = CODEC_MAX_DEPTH  # parenthesis nesting of one expression (the codec's own limit)
    max_expr_operands: int = CODEC_MAX_OPERANDS  # operands of one '&' or '|' chain (the codec's own limit)
    default_timeout_ms: int = SOLVER_TIMEOUT_MS  # per solver query, when a request gives none
    max_timeout_ms: int = 10_000  # the largest timeout_ms a request may ask for
    request_timeout_s: float = 60.0  # wall clock for one check, queueing included: 504 and a new worker past it
    worker_memory_mb: int = 2048  # address space of one solver worker (0: no limit); z3 stops at 3/4 of it
    workers: int = max(1, min(4, os.cpu_count() or 1))  # solver processes; 0 runs checks in one thread
    max_pending: int = 64  # checks queued or running at once: 503 past it
    max_per_client: int = 0  # checks one client address may run or queue for a worker at once (0: half the workers)
    max_connections: int = 256  # open connections (uvicorn's limit_concurrency): 503 past it
    body_timeout_s: float = 30.0  # a request body not complete by then: 408 (a slow sender holds a connection)
    cache_entries: int = 1024  # LRU of answered checks (0 turns the cache off)
    cache_bytes: int = 64 * MIB

    def timeout_ms(self, requested: int | None) -> int:
        """The per-query solver budget for a request: its own ``timeout_ms`` (capped), or the default."""
        if requested is None:
            return min(self.default_timeout_ms, self.max_timeout_ms)
        if requested > self.max_timeout_ms:
            raise limit_exceeded(f"timeout_ms {requested} is above this server's limit of {self.max_timeout_ms} ms",
                                 "timeout_ms", "max_timeout_ms", self.max_timeout_ms)
        return requested


def check_sizes(limits: Limits, guardset: Any, spec: Any) -> None:
    """Refuse a request (already shaped by the request model) that is over a count or depth limit.

    ``guardset`` and ``spec`` are the validated models of ``service.models``.
    """
    _at_most(len(guardset.symbols), limits.max_symbols, "guardset.symbols", "symbols", "max_symbols")
    guards = len(guardset.guards) + len(guardset.failures)
    _at_most(guards, limits.max_guards, "guardset.guards", "guards and failures", "max_guards")
    _at_most(len(spec.dims), limits.max_dims, "spec.dims", "dims", "max_dims")
    _at_most(len(spec.roots or {}), limits.max_dims, "spec.roots", "roots", "max_dims")
    for i, guard in enumerate(guardset.guards):
        _expr_depth(guard.expr, limits.max_expr_depth, f"guardset.guards[{i}].expr")
        _expr_operands(guard.expr, limits.max_expr_operands, f"guardset.guards[{i}].expr")
    for i, failure in enumerate(guardset.failures):
        for field in ("expr", "value"):
            text = getattr(failure, field, None)
            if text is not None:
                _expr_depth(text, limits.max_expr_depth, f"guardset.failures[{i}].{field}")
                _expr_operands(text, limits.max_expr_operands, f"guardset.failures[{i}].{field}")


def _at_most(count: int, limit: int, path: str, what: str, name: str) -> None:
    if count > limit:
        raise limit_exceeded(f"{count} {what}; this server's limit is {limit} ({name})", path, name, limit)


def _expr_operands(text: str, limit: int, path: str) -> None:
    """Refuse a chain ``a & b & ...`` (or ``|``) of more than ``limit`` operands, from the text.

    The codec refuses it too, but only after building every operand with sympy (seconds for a few
    thousand). A run of ``&`` at one nesting level, with no ``|``, comma or comparison between, is
    one ``And`` of at least that many operands plus one in the codec, so this refuses only what
    the codec would.
    """
    if text.count("&") + text.count("|") < limit:  # the common case, without a character loop
        return
    runs = [[0, 0]]  # per open parenthesis: the current run of '&', of '|'
    longest = 0
    for ch in text:
        if ch == "(":
            runs.append([0, 0])
        elif ch == ")":
            if len(runs) > 1:
                runs.pop()
        elif ch == "&" or ch == "|":
            run = runs[-1]
            run[ch == "|"] += 1
            if ch == "|":
                run[0] = 0
            longest = max(longest, run[ch == "|"])
        elif ch in ",<>=!":
            runs[-1] = [0, 0]
    if longest + 1 > limit:
        raise limit_exceeded(f"an '&'/'|' chain of {longest + 1} operands; the limit is {limit} (max_expr_operands)",
                             path, "max_expr_operands", limit)


def _expr_depth(text: str, limit: int, path: str) -> None:
    # each '(' costs the codec at least one level, so this refuses only what the codec would refuse,
    # and does it before the request reaches a worker
    if text.count("(") <= limit:  # the common case, without a character loop on the event loop
        return
    depth = deepest = 0
    for ch in text:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    if deepest > limit:
        raise limit_exceeded(f"expression is nested {deepest} levels deep; the limit is {limit} (max_expr_depth)",
                             path, "max_expr_depth", limit)


__all__ = ["Limits", "ServiceError", "check_sizes"]
