"""The benchmark's results as markdown tables, target verdicts and the part (c) plot."""

from __future__ import annotations

import statistics
from typing import Any

from bench import one_trace

# the targets of issue #5
SOLVE_OVER_TRACE_MAX = 0.05  # (a) solving adds <= 5% to tracing on the real (HuggingFace) models
RECHECK_SPEEDUP_MIN = 100.0  # (b) re-checking a cached GuardSet >= 100x faster than export
VERDICT_10K_MAX_S = 1.0  # (c) a 10k-guard GuardSet decided in < 1 s
ONE_ROUND = 1  # (d) dimsolve's fixes export in one round


def _s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def _x(ratio: float | None) -> str:
    return "–" if ratio is None else (f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×")


def _pct(ratio: float | None) -> str:
    return "–" if ratio is None else f"{100 * ratio:.1f}%"


def _geomean(values: list[float]) -> float | None:
    values = [v for v in values if v > 0]
    return statistics.geometric_mean(values) if values else None


def _rows(results: dict[str, Any], part: str) -> list[dict[str, Any]]:
    return [r for r in results.get("models", []) if part in r]


# --- targets ----------------------------------------------------------------------------------------


def _verdict_text(wall_met: bool, cpu_met: bool) -> str:
    if wall_met and cpu_met:
        return "met"
    if not wall_met and not cpu_met:
        return "**missed**"
    return "met on CPU time, **missed** on wall time" if cpu_met else "met on wall time, **missed** on CPU time"


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target: the measured value and its verdict (wall-clock medians, CPU time as a cross-check)."""
    out: dict[str, dict[str, Any]] = {}
    hf = [r["a"] for r in _rows(results, "a") if r["kind"] == "hf"]
    if hf:
        worst = max(a["solve_over_trace"] for a in hf)
        worst_cpu = max(a["solve_over_trace_cpu"] for a in hf)
        out["a"] = {"target": "solving adds <= 5% to tracing (HuggingFace models, worst case)",
                    "value": f"worst {_pct(worst)} (CPU {_pct(worst_cpu)}), median "
                             f"{_pct(statistics.median(a['solve_over_trace'] for a in hf))}",
                    "verdict": _verdict_text(worst <= SOLVE_OVER_TRACE_MAX, worst_cpu <= SOLVE_OVER_TRACE_MAX)}
    b = _rows(results, "b")
    groups = (("b", ("hf",), ("valid",), "HuggingFace models, valid spec: the verdict"),
              ("b", ("hf",), ("violated",), "HuggingFace models, violated spec: verdict + verified fix"),
              ("b", ("small",), ("valid", "violated"), "small models, both specs"))
    for part, kinds, labels, what in groups:
        cells = [r["b"][k] for r in b if r["kind"] in kinds for k in labels if k in r["b"]]
        if not cells:
            continue
        wall = [c["speedup"] for c in cells]
        cpu = [c["speedup_cpu"] for c in cells]
        out[f"{part}: {what}"] = {
            "target": f"re-check a cached GuardSet >= 100x faster than export ({what})",
            "value": f"worst {_x(min(wall))} (CPU {_x(min(cpu))}), geometric mean {_x(_geomean(wall))} "
                     f"(CPU {_x(_geomean(cpu))})",
            "verdict": _verdict_text(min(wall) >= RECHECK_SPEEDUP_MIN, min(cpu) >= RECHECK_SPEEDUP_MIN)}
    sizes = results.get("solver", {}).get("sizes", [])
    big = [s for s in sizes if s["guards"] >= 10000]
    if big:
        verdict = _verdict_s(big[-1]["valid"])
        met = verdict is not None and verdict < VERDICT_10K_MAX_S
        out["c"] = {"target": "a 10k-guard GuardSet decided in < 1 s (valid spec: build + check)",
                    "value": _s(verdict) if verdict is not None else _status(big[-1]["valid"]),
                    "verdict": "met" if met else "**missed**"}
    d = _rows(results, "d")
    if d:
        ok = [r for r in d if r["d"]["dimsolve"]["passed"] and r["d"]["dimsolve"]["rounds"] <= ONE_ROUND]
        torch_ok = [r for r in d if r["d"]["torch"]["passed"]]
        out["d"] = {"target": "dimsolve's fixes make export pass in one round (every violating case)",
                    "value": f"{len(ok)}/{len(d)} (torch's own fixes: {len(torch_ok)}/{len(d)} pass)",
                    "verdict": "met" if len(ok) == len(d) else "**missed**"}
    out.update(one_trace.targets(results))
    return out


def _verdict_s(track: dict[str, Any]) -> float | None:
    phases = track.get("phases", {})
    if any("timeout_s" in p for p in phases.values()) or "verdict" not in phases:
        return None
    return phases["build"]["seconds"] + phases["verdict"]["seconds"]


def _status(track: dict[str, Any]) -> str:
    if track.get("skipped"):
        return "skipped (" + track["skipped"] + ")"
    for name, p in track.get("phases", {}).items():
        if "timeout_s" in p:
            return f"{name} timed out (> {p['timeout_s']:g} s)"
    return track.get("stopped", "no result")


# --- tables -------------------------------------------------------------------------------------------


def table_a(results: dict[str, Any]) -> list[str]:
    lines = [
        ("| model | guards | torch.export | check_dynamic_shapes | = trace_guards | + check_spec | solve / trace |"
         " (CPU) | verdicts agree |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in _rows(results, "a"):
        a = r["a"]
        lines.append(f"| {r['name']} | {a['guards']} | {_s(a['export_s'])} | {_s(a['check_dynamic_shapes_s'])} | "
                     f"{_s(a['trace_guards_s'])} | {_s(a['check_spec_s'])} | {_pct(a['solve_over_trace'])} | "
                     f"{_pct(a['solve_over_trace_cpu'])} | "
                     f"{'yes' if a['agree'] else 'NO'} |")
    return lines


def table_b(results: dict[str, Any]) -> list[str]:
    lines = [
        ("| model | spec | torch.export again | check_spec (cached) | speedup | (CPU) | from_json + check_spec |"
         " speedup | (CPU) |"),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in _rows(results, "b"):
        for label in ("valid", "violated"):
            b = r["b"].get(label)
            if b is None:
                continue
            lines.append(f"| {r['name']} | {label} | {_s(b['export_s'])} | {_s(b['check_spec_s'])} | "
                         f"{_x(b['speedup'])} | {_x(b['speedup_cpu'])} | {_s(b['from_json_check_spec_s'])} | "
                         f"{_x(b['speedup_from_json'])} | {_x(b['speedup_from_json_cpu'])} |")
    return lines


def table_c(results: dict[str, Any]) -> list[str]:
    solver = results.get("solver", {})
    lines = [
        ("| guards | symbols | valid: build | is_valid | check (verdict) | violated: build | check (verdict) |"
         " synthesis | fix | peak tracemalloc (Python) | peak RSS growth (incl. z3) |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]

    def cell(track: dict[str, Any], phase: str) -> str:
        p = track.get("phases", {}).get(phase)
        if p is None:
            return "skipped" if track.get("skipped") else "–"
        if "timeout_s" in p:
            return f"> {p['timeout_s']:g} s"
        extra = p.get("status") or p.get("outcome") or ""
        if extra in ("valid", "unsat"):
            extra = ""
        return _s(p["seconds"]) + (f" ({extra})" if extra else "")

    for s in solver.get("sizes", []):
        v, w = s["valid"], s["violated"]
        synth = w.get("phases", {}).get("synthesis", {})
        fix = "–" if "verified" not in synth else (
            ("verified: " if synth["verified"] else "UNVERIFIED: ") + ", ".join(c.split("(")[0] for c in synth["changes"]))
        mem = max([*v.get("memory_peak_mb", {}).values(), *w.get("memory_peak_mb", {}).values()], default=None)
        rss = max([t["rss_growth_mb"] for t in (v, w) if "rss_growth_mb" in t], default=None)
        lines.append(
            f"| {s['guards']} | {s['symbols']} | {cell(v, 'build')} | {cell(v, 'fast_path')} | {cell(v, 'verdict')} | "
            f"{cell(w, 'build')} | {cell(w, 'verdict')} | {cell(w, 'synthesis')} | {fix} | "
            f"{'–' if mem is None else f'{mem:.2f} MB'} | {'–' if rss is None else f'{rss:.1f} MB'} |")
    ablation = solver.get("ablation")
    if ablation:
        lines += ["", (f"Where the valid-spec verdict's time goes at {ablation['guards']} guards "
                       "(the validity query alone, dimsolve's 2 s solver budget):"), "",
                  "| guards kept, decided by | guards | outcome | time |", "|---|---:|---|---:|"]
        for r in ablation["rows"]:
            lines.append(f"| {r['label']} | {r['guards']} | {r['outcome']} | {_s(r['seconds'])} |")
    return lines


def table_d(results: dict[str, Any]) -> list[str]:
    lines = [
        ("| model | dynamic dims written | dimsolve: rounds | dynamic dims kept | time | torch fixes: rounds |"
         " dynamic dims kept | time |"),
        "|---|---:|---|---:|---:|---|---:|---:|",
    ]

    def outcome(x: dict[str, Any], silent: bool = False) -> str:
        if x["passed"]:
            text = str(x["rounds"])
            return text + (" (exports as written, narrows silently)" if silent and x["rounds"] == 0 else "")
        return f"FAIL after {x['rounds']}: {x['why'][:140]}"

    for r in _rows(results, "d"):
        d = r["d"]
        ds, tc = d["dimsolve"], d["torch"]
        lines.append(
            f"| {r['name']} | {d['dynamic_dims_written']} | {outcome(ds)} | {ds.get('dynamic_dims_after', '–')} | "
            f"{_s(ds.get('seconds'))} | {outcome(tc, d['torch_silent'])} | {tc.get('dynamic_dims_after', '–')} | "
            f"{_s(tc.get('seconds'))} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [
        f"# dimsolve benchmark ({results['mode']})", "",
        (f"{m.get('cpu', '')}, {m['cpus']} CPUs, {m.get('memory_gb', '?')} GB; Python {m['python']}, "
         f"torch {m['torch']} ({m['torch_threads']} threads), transformers {m.get('transformers', '?')}, "
         f"z3 {m.get('z3', '?')}; load average at start {m['load_average_at_start']}; "
         f"total {results['total_s']:.0f} s, warm-up {results.get('warm_up_s', 0):.1f} s."), "",
        "## Targets", "", "| part | target | measured | |", "|---|---|---|---|",
    ]
    for part, t in targets(results).items():
        out.append(f"| {part.split(':')[0]} | {t['target']} | {t['value']} | {t['verdict']} |")
    errors = [r for r in results.get("models", []) if "error" in r]
    if errors:
        out += ["", "Cases that did not finish: " + "; ".join(f"{r['name']}: {r['error'][:200]}" for r in errors)]
    sections = [("a", "(a) check_dynamic_shapes vs torch.export (valid spec, medians)", table_a),
                ("b", "(b) re-checking a changed spec against the cached GuardSet", table_b),
                ("c", "(c) solver time and memory vs number of guards (synthetic)", table_c),
                ("d", "(d) rounds until export passes, from the violating spec", table_d),
                ("e", "(e) one trace: valid spec vs torch.export, violated spec vs torch's loop", one_trace.table_e)]
    for part, title, table in sections:
        if part in results["parts"]:
            out += ["", f"## {title}", "", *table(results)]
    return "\n".join(out) + "\n"


# --- the plot -----------------------------------------------------------------------------------------


def plot(results: dict[str, Any], path: str) -> None:
    """Part (c): time (log-log) and memory against the number of guards; timeouts as open markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    solver = results["solver"]
    sizes = solver["sizes"]
    limit = solver["phase_limit_s"]
    series = [("valid", "build", "build_problem (valid spec)", "tab:gray"),
              ("valid", "fast_path", "is_valid (valid spec)", "tab:blue"),
              ("valid", "verdict", "check: verdict (valid spec)", "tab:green"),
              ("violated", "verdict", "check: verdict + blame (violated spec)", "tab:orange"),
              ("violated", "synthesis", "synthesize: fix (violated spec)", "tab:red")]
    fig, (ax, mem_ax) = plt.subplots(1, 2, figsize=(12, 4.8))
    for track, phase, label, color in series:
        xs, ys, tx = [], [], []
        for s in sizes:
            p = s[track].get("phases", {}).get(phase)
            if p is None:
                continue
            if "timeout_s" in p:
                tx.append(s["guards"])
            else:
                xs.append(s["guards"])
                ys.append(max(p["seconds"], 1e-4))
                if "unknown" in (p.get("outcome"), p.get("status")):
                    ax.annotate("unknown: solver budget spent", (xs[-1], ys[-1]), textcoords="offset points",
                                xytext=(-150, 8), fontsize=7, color=color)
        ax.plot(xs, ys, "o-", color=color, label=label)
        if tx:
            ax.plot(tx, [limit] * len(tx), "o", mfc="none", color=color, markersize=10)
    ax.axhline(VERDICT_10K_MAX_S, color="black", linestyle=":", linewidth=1)
    ax.text(sizes[0]["guards"], VERDICT_10K_MAX_S * 1.15, "target: 1 s at 10k guards", fontsize=8)
    ax.axhline(limit, color="tab:red", linestyle="--", linewidth=0.8)
    ax.text(sizes[0]["guards"], limit * 1.15, f"time limit {limit:g} s (open marker: timed out)", fontsize=8)
    ax.set(xscale="log", yscale="log", xlabel="guards", ylabel="seconds", title="solver time vs guards")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, 0.9))
    ax.grid(True, which="both", alpha=0.3)
    for track, label, color in (("valid", "valid spec", "tab:green"), ("violated", "violated spec", "tab:orange")):
        points = [(s["guards"], max(s[track]["memory_peak_mb"].values())) for s in sizes
                  if s[track].get("memory_peak_mb")]
        if points:
            mem_ax.plot(*zip(*points), "o-", color=color, label=f"tracemalloc peak (Python), {label}")
    for track, label, color in (("valid", "valid spec", "tab:green"), ("violated", "violated spec", "tab:orange")):
        rss = [(s["guards"], max(s[track]["rss_growth_mb"], 0.1)) for s in sizes if "rss_growth_mb" in s[track]]
        if rss:
            mem_ax.plot(*zip(*rss), "s--", color=color, label=f"peak RSS growth (z3 included), {label}")
    mem_ax.set(xscale="log", yscale="log", xlabel="guards", ylabel="MB", title="memory vs guards")
    mem_ax.legend(fontsize=7)
    mem_ax.grid(True, which="both", alpha=0.3)
    m = results["machine"]
    fig.suptitle(f"dimsolve solver scaling (synthetic GuardSets; {m['cpus']} CPUs, z3 {m.get('z3', '')})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
