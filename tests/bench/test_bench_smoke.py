"""Smoke test of the benchmark code (bench/): part (c) end to end at tiny sizes, in-process.

The real runs are ``python -m bench.run --quick`` / ``--full`` (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import report, run  # noqa: E402 - after the sys.path entry for bench
from bench.synthetic import make_case  # noqa: E402 - after the sys.path entry for bench

PHASES = {"valid": {"build", "fast_path", "verdict"}, "violated": {"build", "verdict", "synthesis"}}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert run.main(["--quick", "--parts", "c", "--sizes", "8x3,20x5", "--phase-limit", "15", "--in-process",
                     "--no-plot", "--out", str(out)]) == 0
    return json.loads((out / "quick-c.json").read_text()), (out / "quick-c.md").read_text()


def test_json_has_every_phase_of_every_size(results):
    data, _ = results
    assert {"mode", "parts", "machine", "total_s", "solver"} <= set(data)
    assert {"cpus", "torch", "python"} <= set(data["machine"])
    sizes = data["solver"]["sizes"]
    assert [(s["guards"], s["symbols"]) for s in sizes] == [(8, 3), (20, 5)]
    for size in sizes:
        assert sum(size["kinds"].values()) == size["guards"]
        for track, phases in PHASES.items():
            recorded = size[track]["phases"]
            assert set(recorded) == phases, (track, recorded)
            assert all(p["seconds"] >= 0 for p in recorded.values())
            assert size[track]["memory_peak_mb"], track
            assert size[track]["rss_growth_mb"] >= 0
        assert size["valid"]["phases"]["verdict"]["status"] == "valid"
        assert size["violated"]["phases"]["verdict"]["status"] == "violated"
        assert size["violated"]["phases"]["synthesis"]["verified"] is True


def test_markdown_has_the_solver_table(results):
    _, text = results
    assert "## (c) solver time and memory" in text
    assert "| 20 | 5 |" in text


def test_synthetic_case_is_exactly_the_requested_size_and_valid_spec_admits_the_example():
    case = make_case(50, 12)
    assert len(case.guardset.guards) == 50 and len(case.guardset.symbols) == 12
    assert {"equality", "range", "product", "floordiv", "mod"} <= set(case.kinds)
    examples = {s.paths[0]: s.example for s in case.guardset.symbols}
    for entry in case.valid.entries:
        root = case.valid.roots[entry.dim.root]
        value, rest = divmod(examples[entry.path] - entry.dim.offset, entry.dim.coeff)
        assert rest == 0 and root.admits(value)
    assert case.violated.roots != case.valid.roots


def test_targets_and_tables_for_the_model_parts():
    a = {"export_s": 0.1, "export_cpu_s": 0.1, "check_dynamic_shapes_s": 0.12, "trace_guards_s": 0.1,
         "check_spec_s": 0.002, "solve_over_trace": 0.02, "solve_over_trace_cpu": 0.02, "guards": 2, "agree": True}
    b = {"valid": {"export_s": 0.1, "check_spec_s": 0.002, "from_json_check_spec_s": 0.003, "speedup": 50.0,
                   "speedup_cpu": 60.0, "speedup_from_json": 33.0, "speedup_from_json_cpu": 40.0}}
    d = {"dynamic_dims_written": 2, "torch_silent": False,
         "dimsolve": {"passed": True, "rounds": 1, "seconds": 0.3, "dynamic_dims_after": 2},
         "torch": {"passed": False, "rounds": 0, "why": "refine crashed: AttributeError"}}
    data = {"mode": "quick", "parts": "abd", "total_s": 1.0, "machine": {"cpus": 2, "python": "3", "torch": "2",
            "torch_threads": 1, "load_average_at_start": [0.0]}, "models": [
                {"name": "m", "kind": "hf", "what": "", "a": a, "b": b, "d": d}]}
    t = report.targets(data)
    b = [v for k, v in t.items() if k.startswith("b")]
    assert t["a"]["verdict"] == "met" and t["d"]["verdict"] == "met"
    assert [v["verdict"] for v in b] == ["**missed**"]
    text = report.markdown(data)
    assert "refine crashed" in text and "| m | valid |" in text


def test_plot_is_written(results, tmp_path):
    pytest.importorskip("matplotlib")
    data, _ = results
    report.plot(data, str(tmp_path / "plot.png"))
    assert (tmp_path / "plot.png").stat().st_size > 10_000
