"""The command-line side of the service: ``dimsolve serve`` and ``dimsolve check --spec-json``.

Imported by ``dimsolve.cli.main`` to build its parser, so importing this module stays cheap: the
web framework loads only when ``serve`` runs.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import sys
from pathlib import Path
from typing import Any

from dimsolve.service.limits import Limits

SERVE_EPILOG = """The service never imports or runs user code: a request carries a GuardSet and a spec as JSON.
It listens on loopback unless --host says otherwise; see docs/service.md before exposing it."""


def add_serve_parser(sub: Any) -> None:
    """Add ``serve`` to the CLI's subparsers."""
    defaults = Limits()
    serve = sub.add_parser("serve", help="run the solver as an HTTP JSON service (needs dimsolve[serve])",
                           epilog=SERVE_EPILOG)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=_port, default=8000, help="port, 0 to 65535 (default: 8000; 0 picks a free one)")
    serve.add_argument("--workers", type=int, default=defaults.workers,
                       help=f"solver processes (default: {defaults.workers}); 0 checks in a thread, one at a time")
    serve.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes,
                       help=f"larger request bodies get 413 (default: {defaults.max_body_bytes})")
    serve.add_argument("--max-symbols", type=int, default=defaults.max_symbols,
                       help=f"symbols per GuardSet (default: {defaults.max_symbols})")
    serve.add_argument("--max-guards", type=int, default=defaults.max_guards,
                       help=f"guards + failures per GuardSet (default: {defaults.max_guards})")
    serve.add_argument("--max-timeout-ms", type=int, default=defaults.max_timeout_ms,
                       help=f"the largest per-query solver budget a request may ask for (default: {defaults.max_timeout_ms})")
    serve.add_argument("--request-timeout", type=_seconds, default=defaults.request_timeout_s,
                       help=f"seconds one check may take, queueing included: 504 past it (default: {defaults.request_timeout_s:g})")
    serve.add_argument("--worker-memory-mb", type=int, default=defaults.worker_memory_mb,
                       help=f"address space of one solver worker in MiB, 0 for no limit (default: {defaults.worker_memory_mb})")
    serve.add_argument("--max-per-client", type=int, default=defaults.max_per_client,
                       help="checks one client address may run or queue for a worker at once "
                            "(default: 0, half the workers, at least one)")
    serve.add_argument("--max-connections", type=int, default=defaults.max_connections,
                       help=f"open connections; more get 503 (default: {defaults.max_connections})")
    serve.add_argument("--body-timeout", type=_seconds, default=defaults.body_timeout_s,
                       help=f"seconds a client may take to send its request body: 408 past it "
                            f"(default: {defaults.body_timeout_s:g})")
    serve.add_argument("--cache-entries", type=int, default=defaults.cache_entries,
                       help=f"answers kept in the LRU cache, 0 for none (default: {defaults.cache_entries})")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(run=run_serve)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return seconds


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``): nothing else can connect to it."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_serve(args: argparse.Namespace) -> int:
    """``dimsolve serve``: 2 when the optional dependencies are missing or a limit is not positive."""
    try:
        from dimsolve.service.app import serve
    except ImportError as exc:
        print(f"error: dimsolve serve needs the serve extra ({exc.name} is missing): "
              'pip install "dimsolve[serve]"', file=sys.stderr)
        return 2
    limits = Limits(
        max_body_bytes=args.max_body_bytes, max_symbols=args.max_symbols, max_guards=args.max_guards,
        max_timeout_ms=args.max_timeout_ms, request_timeout_s=args.request_timeout, workers=args.workers,
        cache_entries=args.cache_entries, worker_memory_mb=args.worker_memory_mb,
        max_per_client=args.max_per_client, max_connections=args.max_connections, body_timeout_s=args.body_timeout,
    )
    bad = [name for name in ("max_body_bytes", "max_symbols", "max_guards", "max_timeout_ms", "request_timeout_s",
                             "max_connections", "body_timeout_s") if getattr(limits, name) <= 0]
    negative = [name for name in ("workers", "worker_memory_mb", "cache_entries", "max_per_client")
                if getattr(limits, name) < 0]
    if bad:
        print(f"error: {', '.join(bad)} must be positive", file=sys.stderr)
        return 2
    if negative:
        print(f"error: {', '.join(negative)} must be 0 or more", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(f"warning: listening on {args.host}, beyond loopback: the API has no authentication and other "
              "machines can send it work; put it behind an authenticating proxy (docs/service.md, Deployment)",
              file=sys.stderr)
    from dimsolve.service.pool import WorkerStartError

    try:
        serve(args.host, args.port, limits, log_level=args.log_level)
    except WorkerStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # uvicorn exits when it cannot listen; its ERROR line above says why
        if exc.code in (0, None):
            return 0
        print(f"error: cannot listen on {args.host} port {args.port}", file=sys.stderr)
        return 2
    return 0


def check_spec_json(case: Any, spec_file: str, strict: bool) -> Any:
    """``dimsolve check FILE:FACTORY --spec-json SPEC``: trace the case, check the JSON spec (the factory's own
    ``dynamic_shapes`` is not used). Raises ``SpecFileError`` for a spec file that cannot be used."""
    from dimsolve.export.api import trace_guards
    from dimsolve.service.check import ServiceError, check_json

    try:
        data = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise SpecFileError(f"{spec_file}: cannot read a JSON spec: {exc}") from None
    guardset = trace_guards(case.model, case.args, case.kwargs, strict=strict)
    try:
        return check_json(guardset, data, Limits().default_timeout_ms)
    except ServiceError as exc:
        where = (exc.path or "spec").removeprefix("spec").lstrip(".") or "$"
        raise SpecFileError(f"{spec_file}: {where}: {exc.message}") from None


class SpecFileError(ValueError):
    """A ``--spec-json`` file that is missing, not JSON, or not a valid spec."""
