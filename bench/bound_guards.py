"""Growth with one-symbol bound guards (issue 15): N guards ``s77 < 10 + i`` on one input dim.

Each size runs in a child process (killed at its limit, peak RSS of a clean process). Two specs:
``violated`` (``Dim("dx")``: the answer is DS301 "<= 9") and ``valid`` (``Dim("dx", max=9)``). The
guards come in three orders, since the blame walks them in trace order: ``desc`` (every guard is
tighter than the ones before: each is blamed on its own), ``asc`` and ``shuffled``. Two paths:

- ``library``: ``check_against`` on a ``GuardSet`` built in Python (what ``check_spec`` runs);
- ``service``: ``check_request`` on the wire form (what a service worker runs: the codec reads
  every guard, then the same check); ``parse_seconds`` is the codec's share, timed on its own.

A warm-up check on two guards runs first in each child (imports, first-use caches), untimed.

Usage: ``python -m bench.bound_guards [--sizes 100,300,500,1000,5000,10000] [--limit 120]``.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import sympy

SIZES = (100, 300, 500, 1000, 5000, 10000)
ORDERS = ("desc", "asc", "shuffled")


def _bounds(n: int, order: str) -> list[int]:
    bounds = list(range(10, 10 + n))
    if order == "desc":
        bounds.reverse()
    elif order == "shuffled":
        random.Random(0).shuffle(bounds)
    return bounds


def wire_case(n: int, order: str, valid: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The GuardSet and spec in the service's wire form."""
    guardset = {
        "schema_version": 1, "torch_version": "bench", "strict": False,
        "symbols": [{"name": "s77", "paths": [{"input": ["x"], "axis": 0}], "example": 6, "backed": True}],
        "guards": [{"expr": f"s77 < {b}", "kind": "guard", "origin": None} for b in _bounds(n, order)],
        "specializations": [], "failures": [],
    }
    root: dict[str, Any] = {"max": 9} if valid else {}
    spec = {"schema_version": 1, "roots": {"dx": root},
            "dims": [{"input": ["x"], "axis": 0, "kind": "root", "root": "dx"}]}
    return guardset, spec


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(n: int, order: str, valid: bool, path: str) -> dict[str, Any]:
    """The child's work: one check, timed; the codes it answered."""
    from dimsolve.export.pipeline import check_against
    from dimsolve.guards.serialize import guardset_from_dict
    from dimsolve.dims.spec_json import spec_from_json
    from dimsolve.service.check import check_request, traced_inputs

    warm_guardset, warm_spec = wire_case(2, order, valid)  # imports and first-use caches, not timed
    check_request(warm_guardset, warm_spec, 2000)
    guardset_wire, spec_wire = wire_case(n, order, valid)
    extra: dict[str, Any] = {}
    if path == "library":
        guardset = guardset_from_dict(guardset_wire)
        spec = spec_from_json(spec_wire, traced_inputs(guardset))
        start = time.perf_counter()
        report = check_against(guardset, spec, 2000)
        seconds = time.perf_counter() - start
        codes = [d.code for d in report.diagnostics]
        message = report.diagnostics[0].message if report.diagnostics else ""
    else:
        start = time.perf_counter()
        guardset_from_dict(guardset_wire)  # the codec's share of the service path
        extra["parse_seconds"] = round(time.perf_counter() - start, 3)
        sympy.core.cache.clear_cache()  # the check below parses again, as cold as a worker does
        start = time.perf_counter()
        text, _ = check_request(guardset_wire, spec_wire, 2000)
        seconds = time.perf_counter() - start
        diagnostics = json.loads(text)["diagnostics"]
        codes = [d["code"] for d in diagnostics]
        message = diagnostics[0]["message"] if diagnostics else ""
    return {"seconds": round(seconds, 3), **extra, "codes": dict(Counter(codes)), "message": message,
            "peak_rss_mb": round(_peak_rss_mb())}


def _child(n: int, order: str, valid: bool, path: str, limit_s: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bound_guards", "--child", str(n), order, "valid" if valid else "violated", path]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s, check=False)
    except subprocess.TimeoutExpired:
        return {"stopped": f"killed after {limit_s:g} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"stopped": f"exit {proc.returncode}: {proc.stderr[-300:]}"}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--orders", default=",".join(ORDERS))
    parser.add_argument("--paths", default="library,service")
    parser.add_argument("--specs", default="violated,valid")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds per child process")
    parser.add_argument("--child", nargs=4, metavar=("N", "ORDER", "SPEC", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        n, order, spec, path = args.child
        print(json.dumps(run_one(int(n), order, spec == "valid", path)), flush=True)
        return
    for path in args.paths.split(","):
        for spec in args.specs.split(","):
            for order in args.orders.split(","):
                given_up = False
                for n in map(int, args.sizes.split(",")):
                    row: dict[str, Any] = {"path": path, "spec": spec, "order": order, "guards": n}
                    row.update({"stopped": "skipped: a smaller size was killed"} if given_up
                               else _child(n, order, spec == "valid", path, args.limit))
                    given_up = given_up or "stopped" in row
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
