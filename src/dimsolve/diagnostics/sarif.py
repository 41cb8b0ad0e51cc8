"""SARIF 2.1.0 for code scanning in CI: one run, one rule per diagnostic code used, one result each.

SARIF ``fixes`` need byte ranges in the file being fixed, which dimsolve does not know for a spec
written anywhere in user code; fixes therefore travel in the result message (``fix: dy = dx``)
and, structured, in the result's ``properties.fixes``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dimsolve.diagnostics.changes import change_to_dict, render_change
from dimsolve.diagnostics.codes import CODES, Code, doc_path
from dimsolve.diagnostics.model import Diagnostic, Fix, Label, Severity
from dimsolve.diagnostics.text import counterexample_text, display_path

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _rule_for(code_id: str, fallback: Severity, help_base: str | None) -> dict[str, Any]:
    registered = CODES.get(code_id) or Code(code_id, code_id, fallback, f"diagnostic {code_id}")
    doc = doc_path(code_id)
    rule: dict[str, Any] = {
        "id": registered.id,
        "name": registered.name,
        "shortDescription": {"text": registered.summary},
    }
    if help_base:
        rule["helpUri"] = f"{help_base.rstrip('/')}/{code_id}.md"
    rule["help"] = {"text": f"{registered.summary}; see {doc} or run `dimsolve explain {code_id}`"}
    rule["defaultConfiguration"] = {"level": _LEVEL[registered.severity]}
    rule["properties"] = {"docPath": doc}
    return rule


def artifact_uri(file: str) -> str:
    """A relative POSIX path for files below the working directory, else a ``file://`` URI."""
    shown = display_path(file)
    return Path(shown).as_uri() if os.path.isabs(shown) else Path(shown).as_posix()


def _message(d: Diagnostic) -> str:
    lines = [d.message]
    if "counterexample" in d.facts:
        lines.append(f"counterexample: {counterexample_text(d.facts['counterexample'])}")
    lines += [f"help: {h}" for h in d.help]
    lines += [f"fix: {render_change(c)}" for f in d.fixes for c in f.changes]
    return "\n".join(lines)


def _primary_locations(d: Diagnostic, spec_uri: str | None) -> list[dict[str, Any]]:
    location: dict[str, Any] = {}
    if spec_uri is not None:
        location["physicalLocation"] = {"artifactLocation": {"uri": spec_uri}}
    if d.paths:
        location["logicalLocations"] = [
            {"name": p, "fullyQualifiedName": p, "kind": "variable"} for p in d.paths
        ]
    return [location] if location else []


def _related(i: int, label: Label) -> dict[str, Any]:
    loc = label.location
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(loc.file)}}
    if loc.line >= 1:  # SARIF lines are 1-based; 0 means "unknown line"
        region: dict[str, Any] = {"startLine": loc.line}
        if loc.code.strip():
            region["snippet"] = {"text": loc.code.strip()}
        physical["region"] = region
    text = label.message or (f"guard emitted in {loc.function}" if loc.function else "guard emitted here")
    return {"id": i, "physicalLocation": physical, "message": {"text": text}}


def _fix_properties(fix: Fix) -> dict[str, Any]:
    return {
        "title": fix.title,
        "applicability": fix.applicability.value,
        "changes": [change_to_dict(c) for c in fix.changes],
        "python": [render_change(c) for c in fix.changes],
    }


def _result(d: Diagnostic, rule_index: int, spec_uri: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": _LEVEL[d.severity],
        "message": {"text": _message(d)},
    }
    locations = _primary_locations(d, spec_uri)
    if locations:
        result["locations"] = locations
    if d.labels:
        result["relatedLocations"] = [_related(i, lb) for i, lb in enumerate(d.labels)]
    result["properties"] = {
        "paths": list(d.paths),
        "notes": list(d.notes),
        "help": list(d.help),
        "facts": dict(d.facts),
        "fixes": [_fix_properties(f) for f in d.fixes],
    }
    return result


def render_sarif(
    diagnostics: Sequence[Diagnostic],
    *,
    spec_uri: str | None = None,
    tool_version: str,
    help_base: str | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log (a JSON-ready dict) for ``diagnostics``.

    ``spec_uri`` is the file that holds the ``dynamic_shapes`` spec; without it results carry only
    logical locations (the spec paths), which some code-scanning services do not display.
    ``help_base`` is where the code pages are published (the URL of the repository's
    ``docs/codes`` directory): each rule's ``helpUri`` becomes ``<help_base>/<ID>.md``. SARIF
    requires ``helpUri`` to be an absolute URI, so without ``help_base`` it is left out and the
    rule carries the repository-relative ``docs/codes/<ID>.md`` in ``help`` and
    ``properties.docPath`` instead.

    >>> render_sarif([], tool_version="0.1.0")["runs"][0]["tool"]["driver"]["name"]
    'dimsolve'
    """
    used = sorted({d.code for d in diagnostics})
    first_severity = {d.code: d.severity for d in reversed(diagnostics)}
    rules = [_rule_for(cid, first_severity[cid], help_base) for cid in used]
    index = {cid: i for i, cid in enumerate(used)}
    driver = {"name": "dimsolve", "version": tool_version, "rules": rules}
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "results": [_result(d, index[d.code], spec_uri) for d in diagnostics],
            }
        ],
    }
