"""The machine renderer: a report as JSON text, validated through ``json_models.ReportModel``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from dimsolve.diagnostics.json_models import DiagnosticModel, ReportModel
from dimsolve.diagnostics.model import Diagnostic


def report_model(
    diagnostics: Sequence[Diagnostic],
    *,
    ok: bool,
    fix_code: str | None,
    extra: Mapping[str, object] | None = None,
) -> ReportModel:
    """The pydantic model behind ``render_json``; ``extra`` fills ``fixed_spec``, ``symbols`` or new keys."""
    fields: dict[str, object] = dict(extra or {})
    fields.update(
        ok=ok,
        fix_code=fix_code,
        diagnostics=[DiagnosticModel.from_diagnostic(d) for d in diagnostics],
    )
    return ReportModel.model_validate(fields)


def render_json(
    diagnostics: Sequence[Diagnostic],
    *,
    ok: bool,
    fix_code: str | None,
    extra: Mapping[str, object] | None = None,
) -> str:
    """The report as JSON: indented by 2, keys sorted, so equal reports give identical text.

    >>> json.loads(render_json([], ok=True, fix_code=None))["schema_version"]
    1
    """
    data = report_model(diagnostics, ok=ok, fix_code=fix_code, extra=extra).model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def parse_json(text: str) -> ReportModel:
    """Read a report back (``ReportModel``); its ``diagnostics`` convert with ``.to_diagnostic()``."""
    return ReportModel.model_validate_json(text)
