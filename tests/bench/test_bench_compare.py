"""``bench.compare``: before/after tables from two benchmark results (the JSON ``bench.run`` writes)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.compare import table_b, table_c  # noqa: E402 - after the sys.path entry for bench


def _model(name, check_s, export_s):
    row = {"check_spec_s": check_s, "export_s": export_s, "speedup": export_s / check_s,
           "speedup_cpu": export_s / check_s}
    return {"name": name, "b": {"valid": row, "violated": {**row, "check_spec_s": 2 * check_s,
                                                              "speedup": export_s / (2 * check_s),
                                                              "speedup_cpu": export_s / (2 * check_s)}}}


def _size(guards, verdict):
    return {"guards": guards, "symbols": 10,
            "valid": {"phases": {"build": {"seconds": 0.01}, "fast_path": {"seconds": 0.002, "outcome": "unsat"},
                                 "verdict": verdict}},
            "violated": {"skipped": "verdict timed out at 1000 guards", "phases": {}}}


def test_b_groups_hf_and_small_models_with_geometric_means():
    before = {"models": [_model("tutorial", 0.010, 0.030), _model("hf_gpt2", 0.004, 0.800)]}
    after = {"models": [_model("tutorial", 0.001, 0.030), _model("hf_gpt2", 0.002, 0.800)]}
    lines = table_b(before, after)
    assert "| HuggingFace (1) | valid | 200.0× (200.0×) | 400.0× (400.0×) | 200.0× (200.0×) | 400.0× (400.0×) |" in lines
    assert "| small (1) | violated | 1.5× (1.5×) | 15.0× (15.0×) | 1.5× (1.5×) | 15.0× (15.0×) |" in lines
    assert any(line.startswith("| tutorial | valid | 30 ms | 10 ms | 3.0× | 30 ms |") for line in lines)


def test_c_pairs_each_size_and_shows_timeouts_and_skips():
    before = {"solver": {"sizes": [_size(10000, {"timeout_s": 45.0})]}}
    after = {"solver": {"sizes": [_size(10000, {"seconds": 0.005, "status": "valid"})]}}
    lines = table_c(before, after)
    assert lines[2].startswith("| 10000 | before |") and "> 45 s" in lines[2] and "skipped" in lines[2]
    assert lines[3].startswith("| 10000 | after |") and "> 45 s" not in lines[3]
