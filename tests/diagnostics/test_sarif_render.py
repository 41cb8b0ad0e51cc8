import json
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from dimsolve.diagnostics.codes import CODES
from dimsolve.diagnostics.model import Diagnostic, Label, Severity, SourceLocation
from dimsolve.diagnostics.sarif import artifact_uri, render_sarif

from .cases import ALL, CASES
from .snapshot import assert_snapshot

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
HELP_BASE = "https://example.invalid/dimsolve/blob/main/docs/codes"

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uri")
def _absolute_uri(value):
    # draft-04 "uri" is an absolute URI; jsonschema only checks it when rfc3987 is installed
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


def _validate(log):
    jsonschema.Draft4Validator(SCHEMA, format_checker=FORMATS).validate(log)


def _dump(log):
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def test_full_log_matches_snapshot():
    log = render_sarif(ALL, spec_uri="export_model.py", tool_version="0.1.0", help_base=HELP_BASE)
    assert_snapshot("sarif/full_log.sarif.json", _dump(log))


def test_minimal_log_matches_snapshot():
    assert_snapshot("sarif/ds201_minimal.sarif.json", _dump(render_sarif([CASES["ds201"]], tool_version="0.1.0")))


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"spec_uri": "export_model.py", "help_base": HELP_BASE}, id="spec-uri-and-help"),
        pytest.param({}, id="bare"),
    ],
)
def test_log_validates_against_sarif_schema(kwargs):
    _validate(render_sarif(ALL, tool_version="0.1.0", **kwargs))
    _validate(render_sarif([], tool_version="0.1.0", **kwargs))


def test_schema_check_is_not_vacuous():
    log = render_sarif(ALL, tool_version="0.1.0")
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        _validate(log)
    log = render_sarif(ALL, tool_version="0.1.0", help_base="docs/codes")  # relative: not a URI
    with pytest.raises(jsonschema.ValidationError):
        _validate(log)


def test_driver_and_rules():
    log = render_sarif(ALL, tool_version="0.1.0", help_base=HELP_BASE)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")
    driver = log["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("dimsolve", "0.1.0")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == sorted({d.code for d in ALL})
    for r in rules:
        code = CODES[r["id"]]
        assert r["name"] == code.name
        assert r["shortDescription"]["text"] == code.summary
        assert r["helpUri"] == f"{HELP_BASE}/{code.id}.md"
        assert r["properties"]["docPath"] == f"docs/codes/{code.id}.md"
        assert r["defaultConfiguration"]["level"] == {"error": "error", "warning": "warning", "info": "note"}[code.severity.value]


def test_results_point_at_rules_and_locations():
    log = render_sarif(ALL, spec_uri="export_model.py", tool_version="0.1.0")
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    results = log["runs"][0]["results"]
    assert len(results) == len(ALL)
    for d, r in zip(ALL, results):
        assert r["ruleId"] == d.code == rules[r["ruleIndex"]]["id"]
        assert r["level"] == {"error": "error", "warning": "warning", "info": "note"}[d.severity.value]
        assert r["message"]["text"].startswith(d.message)
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "export_model.py"
        logical = [loc["name"] for loc in r["locations"][0].get("logicalLocations", [])]
        assert logical == list(d.paths)
        related = r.get("relatedLocations", [])
        assert [(x["physicalLocation"]["artifactLocation"]["uri"], x["physicalLocation"]["region"]["startLine"]) for x in related] == [
            (lb.location.file, lb.location.line) for lb in d.labels
        ]


def test_fixes_travel_in_message_and_properties():
    r = render_sarif([CASES["ds501"]], tool_version="0.1.0")["runs"][0]["results"][0]
    assert r["message"]["text"].splitlines()[-2:] == ['fix: _n = Dim("_n", min=2, max=128)', "fix: n = 8*_n"]
    fix = r["properties"]["fixes"][0]
    assert fix["applicability"] == "verified"
    assert fix["changes"][1] == {"type": "relate", "target": "n", "root": "_n", "coeff": 8, "offset": 0}
    assert r["properties"]["facts"]["counterexample"] == {"x.shape[0]": 17}


def test_no_locations_without_paths_or_spec_uri():
    r = render_sarif([CASES["ds601"]], tool_version="0.1.0")["runs"][0]["results"][0]
    assert "locations" not in r
    assert r["relatedLocations"][0]["message"]["text"] == "guard emitted in forward"


def test_unknown_line_has_no_region_and_unregistered_codes_still_get_a_rule():
    d = Diagnostic("DS999", Severity.WARNING, "m", labels=(Label(SourceLocation("m.py", 0)),))
    log = render_sarif([d], tool_version="0.1.0")
    _validate(log)
    assert "region" not in log["runs"][0]["results"][0]["relatedLocations"][0]["physicalLocation"]
    assert log["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] == "warning"


def test_artifact_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert artifact_uri(str(tmp_path / "pkg" / "m.py")) == "pkg/m.py"
    assert artifact_uri("/elsewhere/m.py").startswith("file:///")
    assert artifact_uri("m.py") == "m.py"
