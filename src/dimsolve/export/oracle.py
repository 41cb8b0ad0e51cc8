"""torch.export is the oracle: the user's spec is exported first, and every fix before it is verified.

The loop (DESIGN.md): export the spec as written with the guard capture on. When torch exports and
z3 proves every guard and runtime assert of that program for every size the spec admits, the spec
is valid and torch's ExportedProgram is the answer: one trace. Otherwise dimsolve finds and fixes
the problems on its all-dynamic trace (``export.pipeline``) and hands each candidate fix back to
torch (``export.fix_loop``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from dimsolve.dims.model import DimKind, Spec
from dimsolve.export.report import Report
from dimsolve.guards.attempt import Attempt, attempt_export
from dimsolve.guards.model import GuardKind, GuardSet


@dataclass(frozen=True)
class Checked:
    """A report, and torch's ExportedProgram of the user's spec when the spec is valid."""

    report: Report
    program: Any | None


def check_with_torch(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any, spec: Spec,
                     strict: bool, timeout_ms: int, guardset: GuardSet | None = None,
                     options: Mapping[str, Any] | None = None, verify_fix: bool = True) -> Checked:
    """Decide ``spec`` with torch's own export of it; find and fix problems only when there are some.

    ``guardset``: the all-dynamic trace, when the caller has it cached (lint), else traced on demand.
    ``options``: further ``torch.export.export`` arguments (``dimsolve.export``'s), for every export.
    ``verify_fix``: export the fix (else it stays proven by z3, not confirmed by torch).
    """
    from dimsolve.export.api import trace_variant
    from dimsolve.export.fix_loop import confirm_fix
    from dimsolve.export.pipeline import check_against, recheck_zero_one

    verdicts: list[Report] = []
    errors: list[Exception] = []

    def decide(traced: GuardSet) -> bool:  # inside torch.export, once it has solved the constraints
        try:
            verdicts.append(check_against(traced, spec, timeout_ms))
        except Exception as exc:  # dimsolve's own error: raised below, never blamed on the model
            errors.append(exc)
            return True
        return verdicts[-1].ok

    first = attempt_export(model, args, kwargs, dynamic_shapes, strict, decide, options)
    if errors:
        raise errors[0]
    own = None
    if first.exported:
        # the program's index checks join its guards once torch has finalised the graph: decide again with them
        checked_all = verdicts and not any(g.kind is GuardKind.INDEX_BOUND for g in first.guardset.guards)
        own = verdicts[-1] if checked_all else check_against(first.guardset, spec, timeout_ms)
    elif first.rejected:
        own = verdicts[-1]
    if own is not None and own.ok:
        # sizes 0/1 the spec wants dynamic: say what a grown example would need (more traces, 0/1 only)
        own = recheck_zero_one(own, model, args, kwargs, dynamic_shapes, strict, timeout_ms, trace_variant)
        if own.ok and not _warned_fix(own):
            return Checked(replace(own, torch_confirmed=True), first.program)
        if not verify_fix:
            return Checked(own, first.program if own.ok else None)
        confirmed = confirm_fix(own, model, args, kwargs, dynamic_shapes, strict, timeout_ms, options)
        return Checked(confirmed, first.program if own.ok else None)
    report = _findings(model, args, kwargs, dynamic_shapes, spec, strict, timeout_ms, first, own, guardset)
    if not verify_fix:
        return Checked(report, None)
    return Checked(confirm_fix(report, model, args, kwargs, dynamic_shapes, strict, timeout_ms, options), None)


def _findings(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any, spec: Spec,
              strict: bool, timeout_ms: int, first: Attempt, own: Report | None,
              guardset: GuardSet | None) -> Report:
    """What is wrong with ``spec``: the all-dynamic trace's findings, else those of torch's own trace
    of the spec (code paths a static size opens), else torch's objection to a guard that holds."""
    from dimsolve.export.api import trace_variant
    from dimsolve.export.pipeline import check_against, recheck_zero_one
    from dimsolve.export.unproven import unexplained_failure, unproven_report

    report = None
    raised = _objected_roots(first, spec)
    if guardset is None and _complete(first, spec):
        report = check_against(first.guardset, spec, timeout_ms, raised)
        guardset = first.guardset if not _pinned_by_static(report, spec) else None
    if guardset is None:
        guardset = trace_variant(model, args, kwargs, strict=strict)
    if report is None or report.guardset is not guardset:
        report = check_against(guardset, spec, timeout_ms, raised)
    report = recheck_zero_one(report, model, args, kwargs, dynamic_shapes, strict, timeout_ms, trace_variant)
    if not report.ok:
        return report
    if guardset is first.guardset:
        own = report
    elif own is None and first.constraint_violation:
        own = check_against(first.guardset, spec, timeout_ms, raised)
    if own is not None and not own.ok:
        note = ("found in torch.export's trace of the spec as written: its static sizes are constants there, "
                "which change the model's checks (a branch, a bound) from those of a trace with every size dynamic")
        return replace(own, diagnostics=tuple(replace(d, notes=d.notes + (note,)) if d.is_error else d
                                              for d in own.diagnostics), pinned_spec=report.pinned_spec)
    if first.constraint_violation:
        return unproven_report(report, first)
    return unexplained_failure(report, first)


def _objected_roots(first: Attempt, spec: Spec) -> frozenset[str]:
    """The spec's roots torch named when it refused the spec: a finding on them is one torch raises,
    whatever dimsolve's replay of torch's rules predicts."""
    if not first.constraint_violation:
        return frozenset()
    roots = {o.dim_name for o in first.objections if o.dim_name in spec.roots}
    for o in first.objections:
        roots |= {e.dim.root for path in o.dims if (e := spec.entry(path)) is not None and e.dim.root}
    return frozenset(roots)


def _warned_fix(report: Report) -> bool:
    """A warning with a spec fix (DS702: an index past its table, if the inputs hold the example's
    values): the spec exports as written, and the fix goes to torch like any other."""
    from dimsolve.export.index_findings import INDEX_CODES

    return report.fixed_spec is not None and any(d.code in INDEX_CODES and d.fixes for d in report.diagnostics)


def _complete(first: Attempt, spec: Spec) -> bool:
    """torch's trace of the spec reached the end (it raises a constraint violation only after
    tracing) and kept every size the spec wants dynamic a symbol (no 0/1 specialisation, no root
    specialised through its derived dims): its guards are all the findings and synthesis need."""
    from dimsolve.export.zero_one import root_shifts

    gs = first.guardset
    if not (first.exported or first.rejected or first.constraint_violation) or gs.failures or gs.specializations:
        return False
    return not root_shifts(spec) and all(gs.symbol_for(e.path) is not None for e in spec.entries if e.dim.is_dynamic)


def _pinned_by_static(report: Report, spec: Spec) -> bool:
    """A dynamic size pinned to a constant that may come from one of the spec's static sizes: in
    torch's trace of the spec those are constants, so only the all-dynamic trace (one more export)
    tells whether the pin is a relation to one of them (``x + y`` with y static), which is the
    finding to report. A pin to a value no static size divides or is divided by (a vision model's
    height pinned to 32 beside 3 static channels) is a pin whatever the static sizes are: no re-trace."""
    from dimsolve.diagnostics.model import Specialize

    pinned = [c.value for d in report.diagnostics if d.is_error and d.code in ("DS401", "DS402", "DS404")
              for f in d.fixes for c in f.changes if isinstance(c, Specialize)]
    statics = [e.dim.value if e.dim.value is not None else e.example for e in spec.entries
               if e.dim.kind is DimKind.STATIC]
    statics = [s for s in statics if isinstance(s, int) and s > 1]
    if not pinned and any(d.is_error and d.code in ("DS401", "DS402", "DS404") for d in report.diagnostics):
        return bool(statics)  # a pin without a stated value: the all-dynamic trace decides
    return any(p == s or (p > 1 and (p % s == 0 or s % p == 0)) for p in pinned for s in statics)
