"""Render lint results: text, JSON, SARIF 2.1.0, JUnit XML, GitHub workflow annotations.

Pure functions of the results and the summary. Findings of severity info (what a ``Dim.AUTO``
resolved to) are in the text report of a failing case and in JSON; SARIF, JUnit and GitHub
annotations carry errors and warnings only, so a clean case never produces an alert.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from dimsolve.cli.runner import ERROR, FINDINGS, CaseResult, Summary

FORMATS = ("text", "json", "sarif", "junit", "github")
JSON_SCHEMA_VERSION = 1


def render(fmt: str, results: Sequence[CaseResult], summary: Summary) -> str:
    renderer = {"text": render_text, "json": render_json, "sarif": render_sarif_log, "junit": render_junit,
                "github": render_github}[fmt]
    return renderer(results, summary)


def _reported(result: CaseResult) -> list[Any]:
    return [d for d in result.diagnostics if d.severity.value in ("error", "warning")]


# --- text --------------------------------------------------------------------------------------


def render_text(results: Sequence[CaseResult], summary: Summary) -> str:
    blocks = []
    for r in results:
        if r.status == FINDINGS:
            blocks.append(f"{r.ref.id}: spec has findings ({r.ref.relpath}:{r.ref.line})\n\n{r.text.rstrip()}\n")
        elif r.status == ERROR:
            body = "\n".join("  " + line for line in r.text.rstrip().splitlines())
            printed = ("\n  output:\n" + "\n".join("    " + ln for ln in r.output.rstrip().splitlines())
                       if r.output.strip() else "")
            blocks.append(f"{r.ref.id}: error ({r.ref.relpath}:{r.ref.line})\n{body}{printed}\n")
    return "\n".join(blocks) + ("\n" if blocks else "") + summary.line() + "\n"


# --- JSON --------------------------------------------------------------------------------------


def summary_dict(summary: Summary) -> dict[str, Any]:
    return {
        "cases": summary.cases,
        "with_findings": summary.with_findings,
        "errors": summary.errors,
        "traced": summary.traced,
        "cached": summary.cached,
        "cache_rebuilt": summary.rebuilt,
        "seconds": round(summary.seconds, 3),
        "shard": summary.shard,
    }


def case_dict(r: CaseResult) -> dict[str, Any]:
    return {
        "id": r.ref.id,
        "file": r.ref.relpath,
        "function": r.ref.function,
        "line": r.ref.line,
        "status": r.status,
        "source": r.source,
        "seconds": round(r.seconds, 3),
        "report": r.report,
        "error": r.text if r.status == ERROR else None,
        "output": r.output,
    }


def render_json(results: Sequence[CaseResult], summary: Summary) -> str:
    from dimsolve._version import __version__

    data = {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": {"name": "dimsolve", "version": __version__},
        "summary": summary_dict(summary),
        "cases": [case_dict(r) for r in results],
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- SARIF -------------------------------------------------------------------------------------


def _spec_location(r: CaseResult) -> dict[str, Any]:
    from dimsolve.diagnostics.sarif import artifact_uri

    return {"artifactLocation": {"uri": artifact_uri(r.ref.file)}, "region": {"startLine": max(r.ref.line, 1)}}


def render_sarif_log(results: Sequence[CaseResult], summary: Summary) -> str:
    """One SARIF run for all cases: results point at the case (the spec), related locations at the guards."""
    from dimsolve._version import __version__
    from dimsolve.diagnostics.sarif import render_sarif

    rules: dict[str, dict[str, Any]] = {}
    sarif_results: list[dict[str, Any]] = []
    log: dict[str, Any] = render_sarif([], tool_version=__version__)
    for r in results:
        diagnostics = _reported(r)
        if not diagnostics:
            continue
        part = render_sarif(diagnostics, tool_version=__version__)["runs"][0]
        for rule in part["tool"]["driver"]["rules"]:
            rules.setdefault(rule["id"], rule)
        for item in part["results"]:
            location = item.get("locations", [{}])[0]
            location["physicalLocation"] = _spec_location(r)
            item["locations"] = [location]
            item["message"]["text"] = f"{item['message']['text']}\ncase: {r.ref.id}"
            item["properties"]["case"] = r.ref.id
            sarif_results.append(item)
    ordered = sorted(rules)
    for item in sarif_results:
        item["ruleIndex"] = ordered.index(item["ruleId"])
    run = log["runs"][0]
    run["tool"]["driver"]["rules"] = [rules[i] for i in ordered]
    run["results"] = sarif_results
    run["invocations"] = [_invocation(results, summary)]
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _invocation(results: Sequence[CaseResult], summary: Summary) -> dict[str, Any]:
    notes = []
    for r in results:
        if r.status != ERROR:
            continue
        notes.append({
            "level": "error",
            "message": {"text": f"{r.ref.id}: {r.text}"},
            "locations": [{"physicalLocation": _spec_location(r)}],
            "descriptor": {"id": "case-error"},
        })
    return {
        "executionSuccessful": summary.errors == 0,
        "toolExecutionNotifications": notes,
        "properties": summary_dict(summary),
    }


# --- JUnit -------------------------------------------------------------------------------------

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("?", text)


def _classname(relpath: str) -> str:
    return relpath[:-3].replace("/", ".") if relpath.endswith(".py") else relpath.replace("/", ".")


def render_junit(results: Sequence[CaseResult], summary: Summary) -> str:
    """One ``testcase`` per case; a failure carries the rendered report, an error the reason it did not run."""
    attrs = {"tests": str(summary.cases), "failures": str(summary.with_findings), "errors": str(summary.errors),
             "skipped": "0", "time": f"{summary.seconds:.3f}"}
    suites = ET.Element("testsuites", {"name": "dimsolve lint", **attrs})
    suite = ET.SubElement(suites, "testsuite", {"name": "dimsolve", **attrs})
    for r in results:
        case = ET.SubElement(suite, "testcase", {
            "classname": _classname(r.ref.relpath), "name": r.ref.function or "<import>",
            "file": r.ref.relpath, "line": str(r.ref.line), "time": f"{r.seconds:.3f}",
        })
        if r.status == FINDINGS:
            errors = [d for d in r.diagnostics if d.is_error]
            first = errors[0] if errors else None
            message = f"{first.code}: {first.message}" if first else "the spec has findings"
            if len(errors) > 1:
                message += f" (and {len(errors) - 1} more)"
            failure = ET.SubElement(case, "failure", {"message": _xml_text(message),
                                                      "type": first.code if first else "dimsolve"})
            failure.text = _xml_text(r.text)
        elif r.status == ERROR:
            error = ET.SubElement(case, "error", {"message": _xml_text(r.text.splitlines()[0] if r.text else "error"),
                                                  "type": "case-error"})
            error.text = _xml_text(r.text)
        if r.output:
            ET.SubElement(case, "system-out").text = _xml_text(r.output)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# --- GitHub workflow commands ------------------------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(level: str, r: CaseResult, title: str, message: str) -> str:
    from dimsolve.diagnostics.text import display_path

    props = f"file={_escape_property(display_path(r.ref.file))},line={max(r.ref.line, 1)},title={_escape_property(title)}"
    return f"::{level} {props}::{_escape_data(message)}"


def _finding_message(d: Any) -> str:
    from dimsolve.diagnostics.changes import render_change
    from dimsolve.diagnostics.text import counterexample_text

    lines = [d.message]
    if "counterexample" in d.facts:
        lines.append(f"counterexample: {counterexample_text(d.facts['counterexample'])}")
    lines += [f"help: {h}" for h in d.help]
    lines += [f"fix: {render_change(c)}" for f in d.fixes for c in f.changes]
    return "\n".join(lines)


def render_github(results: Sequence[CaseResult], summary: Summary) -> str:
    """``::error file=...,line=...::message`` per finding, at the case that holds the spec."""
    from dimsolve.diagnostics.text import display_path

    lines = []
    for r in results:
        if r.status == ERROR:
            lines.append(_annotation("error", r, f"dimsolve: {r.ref.id} could not run", r.text))
            continue
        for d in _reported(r):
            where = [f"guard at {display_path(lb.location.file)}:{lb.location.line}" for lb in d.labels]
            message = "\n".join([_finding_message(d), *where, f"case: {r.ref.id}"])
            lines.append(_annotation("error" if d.is_error else "warning", r, f"dimsolve {d.code}", message))
    return "".join(line + "\n" for line in lines)  # the summary goes to stderr, as for every machine format
