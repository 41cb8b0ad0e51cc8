"""``dimsolve lint`` run as CI runs it: a subprocess on a project with valid, violating and broken cases.

Every run pays torch's import time (seconds), so the cold run goes first and every other run starts
at once against the warm cache (the ``warm`` fixture); each test then checks one of them.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from dimsolve.export.cache import GuardSetCache, Lookup

from lint_repo import CHECKED, COLD_TRACED, EXPECTED, finish, lint, start_lint, write_repo

pytestmark = pytest.mark.torch

SCHEMA = json.loads((Path(__file__).parents[1] / "diagnostics" / "data" / "sarif-schema-2.1.0.json").read_text("utf-8"))
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uri")
def _absolute_uri(value):
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


SUMMARY = re.compile(r"(\d+) cases?, (\d+) with findings, (\d+) errors?; traced (\d+), cached (\d+)")


def summary_of(text):
    match = SUMMARY.search(text)
    assert match, text
    return tuple(int(g) for g in match.groups())


def findings(doc):
    return {c["id"]: (c["status"], [d["code"] for d in (c["report"] or {}).get("diagnostics", [])]) for c in doc["cases"]}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return write_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def cold(repo):
    result = lint(repo, "--report", "json=cold.json")
    return result, json.loads((repo / "cold.json").read_text("utf-8"))


def _corrupt(entries: list[Path]) -> None:
    truncated, wrong_key, tampered = entries
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    data = json.loads(wrong_key.read_text("utf-8"))
    data["key"] = "0" * 64
    wrong_key.write_text(json.dumps(data), "utf-8")
    data = json.loads(tampered.read_text("utf-8"))
    data["guardset"] += " "  # still a valid GuardSet, but no longer the one the checksum was taken of
    tampered.write_text(json.dumps(data), "utf-8")


@pytest.fixture(scope="module")
def warm(repo, cold, tmp_path_factory):
    """Every run after the cold one, started together."""
    scratch = tmp_path_factory.mktemp("scratch")
    corrupt_cache = scratch / "corrupt-cache"
    shutil.copytree(repo / ".dimsolve_cache", corrupt_cache)
    _corrupt(sorted((corrupt_cache / "guardsets").glob("*.json")))
    runs = {
        "warm": tuple(f"--report={fmt}={scratch / name}" for fmt, name in
                      [("json", "warm.json"), ("sarif", "lint.sarif"), ("junit", "lint.xml")]),
        "shard1": ("--format", "json", "--shard", "1/3", "-j", "2"),
        "shard2": ("--format", "json", "--shard", "2/3"),
        "shard3": ("--format", "json", "--shard", "3/3"),
        "clean-file": ("extra/clean_cases.py",),
        "broken-only": ("models/broken/shape_cases.py",),
        "no-verify-fix": ("--format", "json", "--no-verify-fix", "models/add/shape_cases.py"),
    }
    procs = {name: start_lint(repo, *args) for name, args in runs.items()}
    procs["no-cache"] = start_lint(repo, "--no-cache", "--format", "github", f"--report=json={scratch / 'nocache.json'}",
                                   cache_dir=scratch / "unused-cache")
    procs["corrupt"] = start_lint(repo, "--format", "json", cache_dir=corrupt_cache)
    return {name: finish(proc) for name, proc in procs.items()}, scratch


def test_cold_run_traces_and_reports_every_finding(cold):
    result, doc = cold
    assert result.returncode == 1, result.stderr
    assert findings(doc) == EXPECTED
    assert (doc["summary"]["traced"], doc["summary"]["cached"]) == (COLD_TRACED, CHECKED - COLD_TRACED)
    out = result.stdout
    assert summary_of(out.splitlines()[-1]) == (7, 3, 2, COLD_TRACED, CHECKED - COLD_TRACED)
    assert "models/add/shape_cases.py::violating: spec has findings (models/add/shape_cases.py:20)" in out
    assert "error[DS201]" in out and "error[DS301]" in out and "error[DS102]" in out
    assert "models/proj/shape_cases.py::bad_return: error" in out and "must return (model, args, kwargs" in out
    assert "models/broken/shape_cases.py: error" in out and "a_module_that_does_not_exist" in out
    assert "printed by the model" not in out and "::good" not in out
    assert "\r" not in result.stderr  # no progress indicator: stderr is not a terminal


def test_cache_directory_is_marked_and_holds_one_entry_per_trace(repo, cold):
    cache = repo / ".dimsolve_cache"
    assert (cache / "CACHEDIR.TAG").is_file() and (cache / ".gitignore").read_text().strip().endswith("*")
    assert len(list((cache / "guardsets").glob("*.json"))) == COLD_TRACED
    assert not list((cache / "guardsets").glob(".tmp-*"))


def test_second_run_skips_tracing_and_gives_identical_findings(cold, warm):
    results, scratch = warm
    again = results["warm"]
    assert again.returncode == 1, again.stderr
    assert summary_of(again.stdout.splitlines()[-1]) == (7, 3, 2, 0, CHECKED)
    assert again.stdout.splitlines()[:-1] == cold[0].stdout.splitlines()[:-1]
    before = {c["id"]: c for c in cold[1]["cases"]}
    for case in json.loads((scratch / "warm.json").read_text("utf-8"))["cases"]:
        assert (case["status"], case["report"], case["error"]) == tuple(before[case["id"]][k] for k in ("status", "report", "error"))


def test_without_fix_export_the_findings_are_the_same_and_the_fix_only_proven(warm):
    results, scratch = warm
    result = results["no-verify-fix"]
    assert result.returncode == 1, result.stderr
    cases = {c["id"]: c for c in json.loads(result.stdout)["cases"]}
    violating = cases["models/add/shape_cases.py::violating"]["report"]
    assert violating["fix_status"] == "proven" and [d["code"] for d in violating["diagnostics"]] == ["DS201"]
    exported = {c["id"]: c for c in json.loads((scratch / "warm.json").read_text("utf-8"))["cases"]}
    assert exported["models/add/shape_cases.py::violating"]["report"]["fix_status"] == "verified"


def test_json_document(warm):
    results, scratch = warm
    doc = json.loads((scratch / "warm.json").read_text("utf-8"))
    assert doc["schema_version"] == 1 and doc["tool"]["name"] == "dimsolve"
    assert findings(doc) == EXPECTED
    summary = doc["summary"]
    assert (summary["cases"], summary["with_findings"], summary["errors"]) == (7, 3, 2)
    assert (summary["traced"], summary["cached"], summary["cache_rebuilt"]) == (0, CHECKED, 0)
    cases = {c["id"]: c for c in doc["cases"]}
    assert "a_module_that_does_not_exist" in cases["models/broken/shape_cases.py"]["error"]
    assert cases["models/broken/shape_cases.py"]["line"] == 2
    assert cases["models/proj/shape_cases.py::bad_spec"]["source"] == "none"  # a spec error needs no trace


def test_no_cache_traces_everything_and_writes_nothing(warm):
    results, scratch = warm
    doc = json.loads((scratch / "nocache.json").read_text("utf-8"))
    assert (doc["summary"]["traced"], doc["summary"]["cached"]) == (CHECKED, 0)
    assert not (scratch / "unused-cache").exists()
    traced = {c["id"]: c for c in doc["cases"]}["models/proj/shape_cases.py::as_case"]
    assert "printed by the model" in traced["output"]  # captured: stdout stays a clean JSON document


def test_corrupt_cache_entries_are_detected_and_rebuilt(warm):
    results, scratch = warm
    result = results["corrupt"]
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"]["cache_rebuilt"] == 3 and doc["summary"]["traced"] == COLD_TRACED
    reports = {c["id"]: c["report"] for c in json.loads((scratch / "warm.json").read_text("utf-8"))["cases"]}
    assert {c["id"]: c["report"] for c in doc["cases"]} == reports
    cache = GuardSetCache(scratch / "corrupt-cache")
    for entry in (scratch / "corrupt-cache" / "guardsets").glob("*.json"):
        guardset, lookup = cache.load(entry.stem)
        assert lookup is Lookup.HIT and guardset.meta["inputs"]


def test_shards_cover_every_case_exactly_once(warm):
    results = warm[0]
    shards = [json.loads(results[f"shard{i}"].stdout) for i in (1, 2, 3)]
    ids = [[c["id"] for c in doc["cases"]] for doc in shards]
    every = sorted(EXPECTED)
    assert sorted(i for shard in ids for i in shard) == every
    assert ids == [every[0::3], every[1::3], every[2::3]]
    assert [doc["summary"]["shard"] for doc in shards] == ["1/3", "2/3", "3/3"]
    assert summary_of(results["shard2"].stderr)[0] == 2  # stdout is the JSON document: the summary goes to stderr
    for doc in shards:  # each shard reports what the full run does for its cases (-j 2 included)
        assert findings(doc) == {cid: EXPECTED[cid] for cid in findings(doc)}


def test_sarif_is_valid_and_points_at_the_spec_and_the_guard(warm):
    results, scratch = warm
    log = json.loads((scratch / "lint.sarif").read_text("utf-8"))
    jsonschema.Draft4Validator(SCHEMA, format_checker=FORMATS).validate(log)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["DS102", "DS201", "DS301"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    ds201 = by_rule["DS201"]
    spec = ds201["locations"][0]["physicalLocation"]
    assert spec["artifactLocation"]["uri"] == "models/add/shape_cases.py" and spec["region"]["startLine"] == 20
    guard = ds201["relatedLocations"][0]["physicalLocation"]
    assert guard["artifactLocation"]["uri"] == "models/add/shape_cases.py"
    assert guard["region"]["startLine"] == 9 and guard["region"]["snippet"]["text"] == "return x + y"
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert [n["descriptor"]["id"] for n in invocation["toolExecutionNotifications"]] == ["case-error"] * 2


def test_junit_has_one_testcase_per_case(warm):
    results, scratch = warm
    suite = ET.parse(scratch / "lint.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "3", "2")
    cases = {f"{c.get('file')}::{c.get('name')}": c for c in suite.iter("testcase")}
    assert len(cases) == 7
    failure = cases["models/add/shape_cases.py::violating"].find("failure")
    assert failure.get("type") == "DS201" and "error[DS201]: y.shape[0] must equal x.shape[0]" in failure.text
    assert "dynamic_shapes = " in failure.text
    broken = cases["models/broken/shape_cases.py::<import>"].find("error")
    assert "a_module_that_does_not_exist" in broken.get("message")
    assert cases["models/add/shape_cases.py::good"].find("failure") is None


def test_github_annotations_one_line_per_finding(warm):
    result = warm[0]["no-cache"]
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    annotations = [ln for ln in lines if ln.startswith("::")]
    assert annotations == lines  # stdout holds the annotations only
    assert len(annotations) == 5  # DS201, DS301, DS102 and the two cases that could not run
    assert any(a.startswith("::error file=models/add/shape_cases.py,line=20,title=dimsolve DS201::") for a in annotations)
    assert all("%0A" in a for a in annotations if "DS201" in a)
    assert summary_of(result.stderr.splitlines()[-1]) == (7, 3, 2, CHECKED, 0)  # the summary: on stderr


@pytest.mark.parametrize(
    "run, code, cases",
    [
        pytest.param("clean-file", 0, 1, id="named-file-outside-globs-is-clean"),
        pytest.param("broken-only", 2, 1, id="only-errors-exit-2"),
    ],
)
def test_paths_and_exit_codes(warm, run, code, cases):
    result = warm[0][run]
    assert result.returncode == code, result.stdout + result.stderr
    assert summary_of(result.stdout + result.stderr)[0] == cases
