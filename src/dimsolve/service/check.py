"""A GuardSet and a spec, both in JSON form, checked into a ``Report``: the service's work, minus HTTP.

This is what runs in a worker process for ``POST /v1/check`` and what ``dimsolve check --spec-json``
runs after tracing. Nothing here imports a web framework or torch (a guard using torch's own
sympy functions, ``FloorDiv`` and the like, makes ``guards.codec`` load them; that is library
code, never the user's).
"""

from __future__ import annotations

from typing import Any

from dimsolve.dims.check import check_entries
from dimsolve.dims.spec_json import SpecJsonError, TracedInputs, spec_from_json, traced_inputs_from_meta
from dimsolve.export.pipeline import check_against
from dimsolve.export.report import Report
from dimsolve.guards.model import GuardSet
from dimsolve.guards.serialize import GuardSetFormatError, guardset_from_dict
from dimsolve.service.errors import ServiceError, invalid, join_path, limit_exceeded
from dimsolve.service.validate import check_paths_exist

UNDECIDED_CODE = "DS901"  # a solver timeout: not worth caching, a rerun with more budget may decide it


def traced_inputs(guardset: GuardSet) -> TracedInputs | None:
    """The example inputs' structure, as ``dimsolve.trace_guards`` records it (else from the symbols)."""
    raw = guardset.meta.get("inputs")
    if raw is not None:
        try:
            return traced_inputs_from_meta(raw)
        except SpecJsonError as exc:
            raise invalid(f"the recorded inputs are malformed: {exc.message}",
                          join_path("guardset.meta.inputs", exc.path)) from None
    dims = [(p, s.example) for s in guardset.symbols if s.example is not None for p in s.paths]
    dims += [(s.path, s.value) for s in guardset.specializations]
    return TracedInputs.from_dims(dims)


def check_json(guardset: GuardSet, spec_data: Any, timeout_ms: int) -> Report:
    """Check the spec (JSON form, ``dims.spec_json``) against ``guardset``; a malformed spec is a ``ServiceError``.

    >>> report = check_json(guardset, {"schema_version": 1, "dims": []}, 2000)  # doctest: +SKIP
    """
    inputs = traced_inputs(guardset)
    if inputs is not None and guardset.meta.get("inputs") is not None:  # the recorded inputs, not the symbols'
        check_paths_exist(((s.name, s.paths) for s in guardset.symbols), (s.path for s in guardset.specializations),
                          dict(inputs.leaves))
    try:
        spec = spec_from_json(spec_data, inputs)
    except SpecJsonError as exc:
        raise invalid(exc.message, join_path("spec", exc.path)) from None
    found = check_entries(spec.entries, spec.roots)
    if found:  # as check_spec: DS1xx findings of the spec itself come before any solving
        return Report(tuple(found))
    return check_against(guardset, spec, timeout_ms)


def refuse_large_guards(guardset: GuardSet) -> None:
    """422 for a guard whose expansion is over ``max_expr_terms`` (``solver.size``): refused before
    anything expands it. The library reports such a guard as DS902 instead; a service answers first."""
    from dimsolve.solver.size import MAX_EXPANDED_TERMS, expanded_terms

    exprs = [(f"guardset.guards[{i}].expr", g.expr) for i, g in enumerate(guardset.guards)]
    exprs += [(f"guardset.failures[{i}].expr", f.expr) for i, f in enumerate(guardset.failures) if f.expr is not None]
    for path, expr in exprs:
        if expanded_terms(expr) > MAX_EXPANDED_TERMS:
            raise limit_exceeded(f"the expression expands to more than {MAX_EXPANDED_TERMS} terms (max_expr_terms)",
                                 path, "max_expr_terms", MAX_EXPANDED_TERMS)


def check_request(guardset_data: Any, spec_data: Any, timeout_ms: int) -> tuple[str, bool]:
    """Both halves of a request as JSON values -> (the report's JSON, whether it may be cached)."""
    try:
        guardset = guardset_from_dict(guardset_data)
    except GuardSetFormatError as exc:
        raise invalid(exc.message, join_path("guardset", exc.path)) from None
    refuse_large_guards(guardset)
    report = check_json(guardset, spec_data, timeout_ms)
    cacheable = not any(d.code == UNDECIDED_CODE for d in report.diagnostics)
    return report.model_dump_json(), cacheable


__all__ = ["ServiceError", "check_json", "check_request", "traced_inputs"]
