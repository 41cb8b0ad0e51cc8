"""Smoke test of part (e), the "one trace" benchmark (bench/one_trace.py): structure, not timings.

Two small models, one repeat: ``broadcast_add`` (torch's loop converges) and ``mixed_auto`` (its
violated spec has ``Dim.AUTO``, on which torch's fixer crashes). The real run is
``python -m bench.run --quick --parts e`` (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import one_trace, report, run  # noqa: E402 - after the sys.path entry for bench

MODELS = ["broadcast_add", "mixed_auto"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_e")
    assert run.main(["--quick", "--parts", "e", "--models", ",".join(MODELS), "--repeats", "1",
                     "--out", str(out)]) == 0
    return json.loads((out / "quick-e.json").read_text()), (out / "quick-e.md").read_text()


def test_json_has_both_halves_for_every_model(results):
    data, _ = results
    part = data["one_trace"]
    assert [r["name"] for r in part["models"]] == MODELS
    for row in part["models"]:
        assert "error" not in row, row.get("traceback")
        valid = row["valid"]
        for key in ("torch", "check", "export"):
            assert valid[f"{key}_s"] > 0 and valid[f"{key}_cpu_s"] >= 0
            assert valid[f"{key}_error"] is None, valid[f"{key}_error"]
        assert valid["check_ok"] is True
        violated = row["violated"]
        assert {"exported", "fix_verified", "ok", "seconds", "why"} <= set(violated["dimsolve"])
        assert {"exported", "rounds", "silent", "seconds", "why"} <= set(violated["torch_loop"])
        assert violated["dimsolve"]["ok"] is False
        assert violated["dimsolve"]["exported"] is True, violated["dimsolve"]["why"]
        assert violated["bug"] is False
    summary = part["summary"]
    assert summary["violated_cases"] == 2 and summary["dimsolve_exported"] == 2
    assert summary["bugs"] == []
    assert {"check_over_torch", "export_over_torch", "dimsolve_over_torch_loop", "torch_gave_up"} <= set(summary)


def test_markdown_has_the_part_e_tables_and_targets(results):
    data, text = results
    assert "## (e) one trace" in text
    assert "| e | valid spec:" in text
    for name in MODELS:
        assert text.count(f"| {name} |") == 2  # one row in each table
    assert "\n".join(one_trace.table_e(data)) in text  # the docs' table regenerates from the json


def test_calls_are_interleaved_with_a_rotating_order():
    calls: list[str] = []
    times, last = one_trace.interleaved({k: (lambda k=k: calls.append(k) or k) for k in "abc"}, 3)
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")  # warm-up, then rotated rounds
    assert set(times) == set("abc") and last == {"a": "a", "b": "b", "c": "c"}


def test_a_verified_fix_torch_refuses_is_listed_as_a_bug():
    ok = {"exported": True, "fix_verified": True, "ok": False, "seconds": 1.0, "why": None}
    loop = {"exported": False, "rounds": 0, "silent": False, "seconds": 0.5, "why": "refine crashed"}
    valid = {"torch_s": 1.0, "check_s": 1.0, "export_s": 1.0, "check_over_torch": 1.0, "export_over_torch": 1.0,
             "torch_error": None, "check_error": None, "export_error": None, "check_ok": True}
    models = [{"name": "m", "kind": "small", "valid": valid, "violated": {
        "dimsolve": {**ok, "exported": False, "why": "UserError"}, "torch_loop": loop,
        "dimsolve_over_torch_loop": 2.0, "bug": True}}]
    summary = one_trace.summary(models)
    assert summary["bugs"] == ["m: fix_verified but torch refused it (UserError)"]
    assert summary["torch_gave_up"] == 1 and summary["dimsolve_over_torch_loop"] is None
    data = {"mode": "quick", "parts": "e", "total_s": 1.0, "machine": {"cpus": 2, "python": "3", "torch": "2",
            "torch_threads": 1, "load_average_at_start": [0.0]}, "one_trace": {"models": models, "summary": summary}}
    assert report.targets(data)["e: valid"]["verdict"] == "met"
    text = report.markdown(data)
    assert "gave up: refine crashed" in text and "fix_verified but torch refused it" in text
