"""Run dimsolve's benchmarks (issue #5) and write the results.

    python -m bench.run --quick      # < 2 minutes: 5 small models + GPT-2, solver sizes up to 1k guards
    python -m bench.run --full       # < 15 minutes: 27 small + 5 HuggingFace models, up to 10k guards

Parts (``--parts``, default abcd): (a) check_dynamic_shapes vs torch.export and trace/solve split,
(b) re-check a cached GuardSet vs export again, (c) solver scaling on synthetic GuardSets,
(d) rounds until export passes; and only when named (it doubles a --quick run), (e) one trace:
dimsolve vs torch.export on the valid spec and vs torch's own fix loop on the violated one
(``bench/one_trace.py``). Writes ``bench/out/<mode>.json`` and ``bench/out/<mode>.md``, and the
part (c) plot (``docs/bench_solver_scaling.png`` for ``--full``, ``bench/out/`` otherwise); a run of
some parts only writes ``<mode>-<parts>.json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DOC_PLOT = ROOT / "docs" / "bench_solver_scaling.png"


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    """``10x10,100x20``: (guards, symbols) pairs."""
    pairs = []
    for item in text.split(","):
        guards, symbols = item.lower().split("x")
        pairs.append((int(guards), int(symbols)))
    return tuple(pairs)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer models and sizes (the default)")
    mode.add_argument("--full", action="store_true", help="every model and size")
    parser.add_argument("--parts", default="abcd", help="which parts to run, e.g. 'ab' or 'c' (default: abcd)")
    parser.add_argument("--models", help="comma-separated model names (see bench/models.py)")
    parser.add_argument("--sizes", type=_sizes, help="part (c) sizes as GUARDSxSYMBOLS,... (e.g. 10x10,100x20)")
    parser.add_argument("--repeats", type=int, help="timed repeats per measurement (median)")
    parser.add_argument("--phase-limit", type=float, help="part (c): seconds per phase before it counts as timed out")
    parser.add_argument("--case-limit", type=float, default=240.0, help="seconds per model case (default 240)")
    parser.add_argument("--in-process", action="store_true", help="part (c) without child processes (tests)")
    parser.add_argument("--no-ablation", action="store_true", help="part (c): skip the per-family breakdown")
    parser.add_argument("--out", type=Path, default=OUT, help="directory for <mode>.json and <mode>.md")
    parser.add_argument("--plot", type=Path, help="where to save the part (c) plot")
    parser.add_argument("--no-plot", action="store_true", help="skip the plot (matplotlib not needed)")
    return parser.parse_args(argv)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.timing import machine

    mode = "full" if args.full else "quick"
    results: dict[str, Any] = {"mode": mode, "parts": args.parts, "machine": machine()}
    start = time.perf_counter()
    if set(args.parts) & set("abd"):
        results.update(_models(args, mode == "quick"))
    if "c" in args.parts:
        from bench.solver_scaling import FULL_SIZES, QUICK_SIZES, run_sizes

        sizes = args.sizes or (QUICK_SIZES if mode == "quick" else FULL_SIZES)
        limit = args.phase_limit or (10.0 if mode == "quick" else 45.0)
        _log(f"part c: {len(sizes)} sizes, {limit:g} s per phase")
        results["solver"] = run_sizes(sizes, limit, isolate=not args.in_process,
                                      ablation=mode == "full" and not args.no_ablation, log=_log)
    if "e" in args.parts:
        from bench.models import suite
        from bench.one_trace import run_part

        cases = suite(mode == "quick", args.models.split(",") if args.models else None)
        results["one_trace"] = run_part(cases, args.repeats or 3, args.case_limit, _log)
        results.setdefault("warm_up_s", results["one_trace"]["warm_up_s"])
    results["total_s"] = time.perf_counter() - start
    return results


def _models(args: argparse.Namespace, quick: bool) -> dict[str, Any]:
    from bench.model_bench import run_case, warm_up
    from bench.models import suite

    cases = suite(quick, args.models.split(",") if args.models else None)
    _log(f"parts {''.join(p for p in args.parts if p in 'abd')}: {len(cases)} models; warming up torch")
    out: dict[str, Any] = {"warm_up_s": warm_up(), "models": []}
    for case in cases:
        repeats = args.repeats or (1 if quick and case.kind == "hf" else 3)
        start = time.perf_counter()
        row = run_case(case, args.parts, repeats, args.case_limit)
        row["repeats"] = repeats
        out["models"].append(row)
        _log(f"  {case.name:22s} {time.perf_counter() - start:6.1f} s  {_line(row)}")
    return out


def _line(row: dict[str, Any]) -> str:
    if "error" in row:
        return "ERROR " + row["error"][:200]
    parts = []
    if "a" in row:
        a = row["a"]
        parts.append(f"export {a['export_s']:.3f}s trace {a['trace_guards_s']:.3f}s "
                     f"check {a['check_spec_s'] * 1000:.1f}ms ({100 * a['solve_over_trace']:.1f}%)")
    if "b" in row:
        parts.append("re-check " + "/".join(f"{v['speedup']:.0f}x" for k, v in row["b"].items()
                                            if k in ("valid", "violated")))
    if "d" in row:
        d = row["d"]
        parts.append(f"rounds dimsolve {d['dimsolve']['rounds']}{'' if d['dimsolve']['passed'] else ' FAIL'} "
                     f"torch {d['torch']['rounds']}{'' if d['torch']['passed'] else ' FAIL'}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench.report import markdown, plot

    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    # a run of some parts only does not overwrite the results of a complete run
    stem = results["mode"] if set("abcd") <= set(args.parts) else f"{results['mode']}-{args.parts}"
    json_path = args.out / f"{stem}.json"
    md_path = args.out / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=1))
    text = markdown(results)
    md_path.write_text(text)
    if "solver" in results and results["solver"]["sizes"] and not args.no_plot:
        complete = results["mode"] == "full" and set("abcd") <= set(args.parts)
        plot_path = args.plot or (DOC_PLOT if complete else args.out / f"{stem}_solver_scaling.png")
        plot(results, str(plot_path))
        _log(f"plot: {plot_path}")
    _log(f"results: {json_path}, {md_path}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
