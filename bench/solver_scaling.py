"""Part (c): solver time and peak memory against the number of guards, on synthetic GuardSets.

Each size and spec runs in a child process, so that a slow size is killed at its limit and memory
is measured in a clean process; each phase also has its own time limit. The child prints one JSON
line per finished phase, so the phases done before a time limit are kept:

- valid track:    ``build`` (sympy -> z3, ``build_problem``), ``fast_path`` (``is_valid``: the single
                  solver call that proves a valid spec), ``verdict`` (``check``, what a user waits for)
- violated track: ``build``, ``verdict`` (``check``: validity, then blame guard by guard with
                  counterexamples), ``synthesis`` (``synthesize``: the fix, verified)

then, when the timed phases were short, the same phases again under ``tracemalloc`` for the peak
of Python allocations. z3's own C++ memory is not seen by tracemalloc: it shows in the growth of
the process's peak RSS over the track (reset at the start of each track).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from bench.timing import Timeout, time_limit

FULL_SIZES = ((10, 10), (100, 20), (300, 50), (1000, 100), (3000, 150), (10000, 200))
QUICK_SIZES = ((10, 10), (100, 20), (1000, 100))
MEMORY_IF_UNDER_S = 10.0  # repeat a track under tracemalloc only when its timed phases took less


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> float:
    """Reset the process's peak RSS to its current RSS (Linux ``clear_refs``); the current RSS in MB.

    ``ru_maxrss`` cannot be used: a child started from the benchmark inherits the parent's peak
    (torch and transformers loaded), which hides everything the solver allocates.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    current = _status_mb("VmRSS")
    return current if current is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """The peak RSS since the last reset, in MB."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def _phases(track: str, case: Any) -> list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]]:
    """The phases of a track; each gets the state the earlier ones left and returns its record."""
    from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS
    from dimsolve.solver.check import check, is_valid
    from dimsolve.solver.problem import build_problem
    from dimsolve.solver.synthesis import synthesize

    spec = case.valid if track == "valid" else case.violated

    def build(state: dict[str, Any]) -> dict[str, Any]:
        state["problem"] = build_problem(case.guardset, spec)
        return {"unsupported": len(state["problem"].unsupported)}

    def fast_path(state: dict[str, Any]) -> dict[str, Any]:
        return {"outcome": is_valid(state["problem"], DEFAULT_TIMEOUT_MS).value}

    def verdict(state: dict[str, Any]) -> dict[str, Any]:
        state["verdict"] = v = check(state["problem"], DEFAULT_TIMEOUT_MS)
        return {"status": v.status.value, "violations": len(v.violations), "undecided": len(v.undecided)}

    def synthesis(state: dict[str, Any]) -> dict[str, Any]:
        plan = synthesize(state["problem"], state["verdict"], DEFAULT_TIMEOUT_MS)
        if plan is None:
            return {"fix": None}
        return {"verified": plan.verified, "changes": [repr(c) for c in plan.changes]}

    if track == "valid":
        return [("build", build), ("fast_path", fast_path), ("verdict", verdict)]
    return [("build", build), ("verdict", verdict), ("synthesis", synthesis)]


def run_size(n_guards: int, n_symbols: int, tracks: tuple[str, ...], phase_limit_s: float) -> None:
    """The child's work: for each track, time its phases, then measure memory; one JSON line per result."""
    import importlib

    from bench.synthetic import make_case

    importlib.import_module("dimsolve.solver.synthesis")  # load z3 before the first track's memory baseline
    case = make_case(n_guards, n_symbols)
    _emit({"event": "case", "kinds": case.kinds})
    for track in tracks:
        _run_track(case, track, phase_limit_s)


def _run_track(case: Any, track: str, phase_limit_s: float) -> None:
    _emit({"event": "track", "track": track, "rss_base_mb": _reset_peak_rss()})
    state: dict[str, Any] = {}
    total = 0.0
    for name, phase in _phases(track, case):
        start = time.perf_counter()
        try:
            with time_limit(phase_limit_s):
                record = phase(state)
        except Timeout:
            _emit({"event": "phase", "track": track, "phase": name, "timeout_s": phase_limit_s, "rss_mb": _rss_mb()})
            return
        seconds = time.perf_counter() - start
        total += seconds
        _emit({"event": "phase", "track": track, "phase": name, "seconds": seconds, "rss_mb": _rss_mb(), **record})
    if total > MEMORY_IF_UNDER_S:
        return
    state = {}
    tracemalloc.start()
    try:
        with time_limit(phase_limit_s):
            for name, phase in _phases(track, case):
                tracemalloc.reset_peak()
                phase(state)
                _emit({"event": "memory", "track": track, "phase": name,
                       "peak_mb": tracemalloc.get_traced_memory()[1] / 2**20})
    except Timeout:
        pass
    finally:
        tracemalloc.stop()


def run_ablation(n_guards: int, n_symbols: int) -> None:
    """Where the valid-spec verdict's time goes: dimsolve's ``is_valid`` (guards the spec settles are
    never sent to z3), then every guard sent to z3 anyway, through z3's default solver and through
    dimsolve's tactic pipeline (``budget.make_solver``), and the default solver with one guard
    family left out at a time."""
    import z3

    from bench.synthetic import make_case
    from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, check, make_solver
    from dimsolve.solver.check import is_valid, requirement
    from dimsolve.solver.problem import build_problem

    case = make_case(n_guards, n_symbols)
    problem = build_problem(case.guardset, case.valid)
    start = time.perf_counter()
    outcome = is_valid(problem, DEFAULT_TIMEOUT_MS)
    _emit({"event": "ablation", "label": f"all, dimsolve is_valid ({len(problem.implied)} settled without z3)",
           "guards": len(problem.guards), "outcome": outcome.value, "seconds": time.perf_counter() - start})
    default = lambda: z3.Solver()  # noqa: E731 - z3's own solver, as dimsolve used before
    families = {"all": None, "no product": "product", "no floordiv": "floordiv", "no mod": "mod"}
    runs = [(f"{label}, every guard to z3's default solver", family, default) for label, family in families.items()]
    runs.insert(1, ("all, every guard to z3.Then(simplify, solve-eqs, propagate-ineqs, smt)", None,
                    lambda: make_solver(DEFAULT_TIMEOUT_MS)))
    for label, family, solver_of in runs:
        guards = tuple(g for g in case.guardset.guards if family is None or _family(g.expr) != family)
        problem = build_problem(replace(case.guardset, guards=guards), case.valid)
        start = time.perf_counter()
        solver = solver_of()
        solver.set("timeout", DEFAULT_TIMEOUT_MS)
        solver.add(*problem.domain)
        solver.add(z3.Not(requirement(problem, [g for _, g in problem.guards])))
        _emit({"event": "ablation", "label": label, "guards": len(guards), "outcome": check(solver).value,
               "seconds": time.perf_counter() - start})


def _family(expr: Any) -> str:
    text = str(expr)
    if "Mod(" in text:
        return "mod"
    if "//" in text:
        return "floordiv"
    if "*s" in text and not text.startswith("Eq("):
        return "product"
    return "range" if "<=" in text else "equality"


# --- the parent ---------------------------------------------------------------------------------------


def _child(args: list[str], limit_s: float) -> tuple[list[dict[str, Any]], str | None]:
    """Run ``python -m bench.solver_scaling ARGS``; its JSON lines, and why it stopped early if it did."""
    cmd = [sys.executable, "-m", "bench.solver_scaling", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s, check=False)
        out, problem = proc.stdout, None if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr[-500:]}"
    except subprocess.TimeoutExpired as exc:
        raw = exc.stdout or ""
        out = raw.decode() if isinstance(raw, bytes) else raw
        problem = f"killed after {limit_s:g} s"
    records = []
    for line in out.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records, problem


def _in_process(fn: Callable[[], None]) -> tuple[list[dict[str, Any]], str | None]:
    """The same records without a child process (the smoke test: no torch import per size)."""
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        fn()
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")], None


def _size(n_guards: int, n_symbols: int, tracks: tuple[str, ...], phase_limit_s: float,
          isolate: bool) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    # one process per track: each track's peak RSS then starts from the same baseline
    for chunk in ([(t,) for t in tracks] if isolate else [tracks]):
        if isolate:
            args = ["--tracks", ",".join(chunk), "--guards", str(n_guards), "--symbols", str(n_symbols),
                    "--phase-limit", str(phase_limit_s)]
            got, problem = _child(args, limit_s=6 * phase_limit_s + 60)
        else:
            got, problem = _in_process(partial(run_size, n_guards, n_symbols, chunk, phase_limit_s))
        records += got
        problems += [problem] if problem else []
    problem = "; ".join(problems)
    row: dict[str, Any] = {"guards": n_guards, "symbols": n_symbols}
    for track in ("valid", "violated"):
        row[track] = {"phases": {}, "memory_peak_mb": {}}
    for r in records:
        event = r.pop("event")
        if event == "case":
            row["kinds"] = r["kinds"]
        elif event == "track":
            row[r["track"]]["rss_base_mb"] = r["rss_base_mb"]
        elif event == "phase":
            track, phase = r.pop("track"), r.pop("phase")
            row[track]["phases"][phase] = r
            row[track]["rss_growth_mb"] = r["rss_mb"] - row[track]["rss_base_mb"]
        elif event == "memory":
            row[r["track"]]["memory_peak_mb"][r["phase"]] = r["peak_mb"]
    if problem:
        row["stopped"] = problem
    return row


def run_sizes(sizes: tuple[tuple[int, int], ...], phase_limit_s: float, isolate: bool = True,
              ablation: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Part (c) for every size; a track with a phase that timed out is not run at larger sizes."""
    rows: list[dict[str, Any]] = []
    timed_out: dict[str, str] = {}  # track -> "phase timed out at N guards"
    for n_guards, n_symbols in sizes:
        start = time.perf_counter()
        tracks = tuple(t for t in ("valid", "violated") if t not in timed_out)
        row: dict[str, Any] = _size(n_guards, n_symbols, tracks, phase_limit_s, isolate) if tracks else {
            "guards": n_guards, "symbols": n_symbols, "valid": {"phases": {}}, "violated": {"phases": {}}}
        for track in ("valid", "violated"):
            if track in timed_out:
                row[track]["skipped"] = timed_out[track]
            for phase, rec in row[track]["phases"].items():
                if "timeout_s" in rec:
                    timed_out[track] = f"{phase} timed out at {n_guards} guards"
        rows.append(row)
        log(f"  c: {n_guards:>6} guards / {n_symbols:>3} symbols ({time.perf_counter() - start:5.1f} s): "
            f"valid spec: {_summary(row['valid'])}; violated spec: {_summary(row['violated'])}")
    out: dict[str, Any] = {"phase_limit_s": phase_limit_s, "sizes": rows}
    if ablation and sizes:
        n_guards, n_symbols = sizes[-1]
        args = ["--ablation", "--guards", str(n_guards), "--symbols", str(n_symbols)]
        records, problem = (_child(args, limit_s=300) if isolate
                            else _in_process(lambda: run_ablation(n_guards, n_symbols)))
        out["ablation"] = {"guards": n_guards, "symbols": n_symbols,
                           "rows": [{k: v for k, v in r.items() if k != "event"} for r in records]}
        if problem:
            out["ablation"]["stopped"] = problem
        log(f"  c: ablation at {n_guards} guards: " + ", ".join(
            f"{r['label']}={r['outcome']} {r['seconds']:.2f}s" for r in out["ablation"]["rows"]))
    return out


def _summary(track: dict[str, Any]) -> str:
    parts = []
    for phase, rec in track["phases"].items():
        if "timeout_s" in rec:
            parts.append(f"{phase} TIMEOUT")
        else:
            extra = rec.get("status") or rec.get("outcome") or ("verified" if rec.get("verified") else "")
            parts.append(f"{phase} {rec['seconds']:.3f}s" + (f" {extra}" if extra else ""))
    return ", ".join(parts) or track.get("skipped", "no result")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="part (c) child process: one synthetic size")
    parser.add_argument("--tracks", default="valid,violated")
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--guards", type=int, required=True)
    parser.add_argument("--symbols", type=int, required=True)
    parser.add_argument("--phase-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.ablation:
        run_ablation(args.guards, args.symbols)
    else:
        run_size(args.guards, args.symbols, tuple(args.tracks.split(",")), args.phase_limit)


if __name__ == "__main__":
    main()
