"""Before/after tables from two benchmark runs (``bench/out/<mode>[-<parts>].json``).

    python -m bench.compare BEFORE.json AFTER.json      # markdown on stdout: parts (b) and (c)

Both runs are printed as measured (medians, wall clock; CPU-time speedups next to them), so the
tables show the machine's noise as well as the change: compare runs made under similar load.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from bench.report import _s

B_GROUPS = (("HuggingFace", "hf", "valid"), ("HuggingFace", "hf", "violated"),
            ("small", "small", "valid"), ("small", "small", "violated"))
C_PHASES = (("valid", "build"), ("valid", "fast_path"), ("valid", "verdict"),
            ("violated", "build"), ("violated", "verdict"), ("violated", "synthesis"))


def _geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def _b_rows(run: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for m in run.get("models", []):
        for spec in ("valid", "violated"):
            row = (m.get("b") or {}).get(spec)
            if row:
                out[(m["name"], spec)] = {**row, "kind": "hf" if m["name"].startswith("hf_") else "small"}
    return out


def table_b(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, new = _b_rows(before), _b_rows(after)
    lines = ["| models | spec | speedup before: geo. mean (worst) | after | CPU before | CPU after |",
             "|---|---|---:|---:|---:|---:|"]
    for label, kind, spec in B_GROUPS:
        keys = [k for k in new if k[1] == spec and new[k]["kind"] == kind and k in old]
        if not keys:
            continue
        cells = []
        for rows, field in ((old, "speedup"), (new, "speedup"), (old, "speedup_cpu"), (new, "speedup_cpu")):
            xs = [rows[k][field] for k in keys]
            cells.append(f"{_geomean(xs):.1f}× ({min(xs):.1f}×)")
        lines.append(f"| {label} ({len(keys)}) | {spec} | " + " | ".join(cells) + " |")
    lines += ["", "| model | spec | export before | check_spec before | speedup | export after | check_spec after | speedup |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for key in new:
        if key not in old:
            continue
        o, n = old[key], new[key]
        lines.append(f"| {key[0]} | {key[1]} | {_s(o['export_s'])} | {_s(o['check_spec_s'])} | {o['speedup']:.1f}× | "
                     f"{_s(n['export_s'])} | {_s(n['check_spec_s'])} | {n['speedup']:.1f}× |")
    return lines


def _phase(size: dict[str, Any], track: str, phase: str) -> str:
    t = size.get(track) or {}
    p = (t.get("phases") or {}).get(phase)
    if p is None:
        return "skipped" if t.get("skipped") else "–"
    if "seconds" not in p:
        return f"> {p['timeout_s']:.0f} s" if "timeout_s" in p else "–"
    status = p.get("status") or p.get("outcome")
    return _s(p["seconds"]) + (f" ({status})" if status and status not in ("valid", "unsat", "violated") else "")


def table_c(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old = {(s["guards"], s["symbols"]): s for s in before.get("solver", {}).get("sizes", [])}
    head = " | ".join(f"{track} {phase}" for track, phase in C_PHASES)
    lines = [f"| guards | run | {head} |", "|---:|---|" + "---:|" * len(C_PHASES)]
    for size in after.get("solver", {}).get("sizes", []):
        key = (size["guards"], size["symbols"])
        for label, s in (("before", old.get(key)), ("after", size)):
            if s is not None:
                lines.append(f"| {key[0]} | {label} | " + " | ".join(_phase(s, t, p) for t, p in C_PHASES) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before, after = (json.loads(p.read_text()) for p in (args.before, args.after))
    if after.get("models"):
        print("\n".join(table_b(before, after)) + "\n")
    if after.get("solver"):
        print("\n".join(table_c(before, after)))


if __name__ == "__main__":
    main()
