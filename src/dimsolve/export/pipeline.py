"""One check, end to end: solver verdict, fix synthesis, hint resolution, findings, report.

``api`` is the public facade; this module is the sequence of steps behind it, shared by
``check_dynamic_shapes`` (after tracing), ``check_spec`` (cached guards) and the service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dimsolve.diagnostics.model import Diagnostic, Label, Severity
from dimsolve.dims.model import Spec
from dimsolve.export.report import FixedExample, Report
from dimsolve.guards.model import GuardSet, TraceFailure


def _failure_diagnostic(f: TraceFailure) -> Diagnostic:
    return Diagnostic(
        code="DS903", severity=Severity.ERROR, message=f"tracing stopped: {f.message}",
        labels=(Label(f.origin, "here"),) if f.origin else (),
        help=("fix the model so that torch.export can trace it with these example inputs",),
    )


def _search_exhausted() -> Diagnostic:
    return Diagnostic(
        code="DS901", severity=Severity.ERROR,
        message="the fix search ran out of its budget before it found the weakest fix",
        help=("raise the budget with timeout_ms=..., or simplify the spec (fewer dynamic dims); the violations "
              "reported with it are certain, only their fix is unknown",),
    )


def check_against(guardset: GuardSet, spec: Spec, timeout_ms: int, raised_roots: frozenset[str] = frozenset()) -> Report:
    """Every finding of ``spec`` against ``guardset``, with the fixed and pinned specs. ``raised_roots``:
    the roots torch's export of ``spec`` objected to, when dimsolve has seen it raise."""
    from dimsolve.export.static_ties import free_static_ties

    report = _check_against(guardset, spec, timeout_ms, raised_roots)
    freed = free_static_ties(spec, report, lambda s: _check_against(guardset, s, timeout_ms, raised_roots),
                             lambda s: build_and_verify(guardset, s, timeout_ms))
    return freed or report


def _check_against(guardset: GuardSet, spec: Spec, timeout_ms: int, raised_roots: frozenset[str]) -> Report:
    from dimsolve.dims.apply import apply_changes
    from dimsolve.export.findings import (root_shift_diagnostics, solver_limit_diagnostics, violation_diagnostics,
                                          zero_one_diagnostics)
    from dimsolve.export.guard_defects import defect_diagnostics
    from dimsolve.export.hints import apply_hint_fixes, resolve_hints
    from dimsolve.export.index_findings import example_findings
    from dimsolve.export.rule_repairs import with_torch_rules
    from dimsolve.export.size_one import size_one_findings
    from dimsolve.export.unbacked import data_dependent_diagnostics
    from dimsolve.solver.check import Status, check
    from dimsolve.solver.problem import build_problem
    from dimsolve.solver.synthesis import synthesize

    problem = build_problem(guardset, spec)
    verdict = check(problem, timeout_ms)
    diagnostics: list[Diagnostic] = [_failure_diagnostic(f) for f in guardset.failures if not f.kind.startswith("data_dependent")]
    diagnostics += data_dependent_diagnostics(guardset)
    diagnostics += zero_one_diagnostics(problem)
    diagnostics += defect_diagnostics(problem)
    broken_example = example_findings(problem)
    if broken_example:  # no spec admitting this example runs it: synthesis and hints have nothing to say
        return Report(tuple(diagnostics + broken_example), spec, None, guardset, False, None)
    fixed = None
    verified = False
    if verdict.status is Status.VIOLATED:
        plan = synthesize(problem, verdict, timeout_ms)
        if plan is not None and plan.exhausted:  # out of budget: the violations stand, their fix is unknown
            plan = None
            diagnostics.append(_search_exhausted())
        diagnostics += violation_diagnostics(problem, verdict, plan, raised_roots)
        if plan is not None:
            fixed, verified = plan.fixed_spec, plan.verified
    if verdict.status is Status.VALID or fixed is not None:  # the program also checks sizes of 1 a Dim admits
        ones = size_one_findings(guardset, fixed or spec, timeout_ms)
        if ones is not None:
            diagnostics += ones.diagnostics
            fixed, verified = ones.fixed_spec, build_and_verify(guardset, ones.fixed_spec, timeout_ms)
    diagnostics += solver_limit_diagnostics(problem, verdict, guardset)
    resolution = resolve_hints(guardset, spec, timeout_ms)
    diagnostics += resolution.diagnostics
    hint_fixed = apply_hint_fixes(fixed or spec, resolution.diagnostics)
    if hint_fixed is not None:
        fixed = hint_fixed
        verified = build_and_verify(guardset, hint_fixed, timeout_ms)
    shifts = root_shift_diagnostics(spec)
    if shifts:
        diagnostics += shifts
        fixed = _shift_roots(fixed or spec)
        verified = build_and_verify(guardset, fixed, timeout_ms)
    base = fixed or spec
    capped = [c for c in dict.fromkeys(c for d in diagnostics if d.code == "DS403" for f in d.fixes for c in f.changes)
              if getattr(c, "target", None) in base.roots]
    if capped:  # a Dim that stops below 2 can only be static
        fixed = apply_changes(base, capped)
        verified = build_and_verify(guardset, fixed, timeout_ms)
    if fixed is not None:  # torch's rules on a Dim (a derived min >= 0, ...): the fix torch reads
        diagnostics, fixed = with_torch_rules(diagnostics, fixed)
    return Report(_without_contradicted_notes(diagnostics, spec), spec, fixed, guardset, verified, resolution.pinned)


def _without_contradicted_notes(diagnostics: list[Diagnostic], spec: Spec) -> tuple[Diagnostic, ...]:
    """Drop "no guard constrains it" (DS405) for an AUTO size another finding's fix changes: that
    finding (an index bound dimsolve checks, a size-1 check) is what constrains it."""
    targets = {getattr(c, "target", None) for d in diagnostics if d.severity is not Severity.INFO
               for f in d.fixes for c in f.changes}
    changed = {e.spec_path for e in spec.entries if str(e.path) in targets or (e.dim.root and e.dim.root in targets)}
    return tuple(d for d in diagnostics if not (d.facts.get("unconstrained") and d.paths and d.paths[0] in changed))


def _shift_roots(spec: Spec) -> Spec:
    """``spec`` with every root that is 0/1 at the example re-spelled around a root that is 2."""
    from dimsolve.dims.apply import apply_changes
    from dimsolve.export.zero_one import root_shifts

    for shift in root_shifts(spec):
        spec = apply_changes(spec, shift.changes(spec))
    return spec


def build_and_verify(guardset: GuardSet, spec: Spec, timeout_ms: int) -> bool:
    """A fixed spec is verified when it re-solves as valid and its hints need no further fix."""
    from dimsolve.export.hints import resolve_hints
    from dimsolve.solver.check import Status, check
    from dimsolve.solver.problem import build_problem

    if check(build_problem(guardset, spec), timeout_ms).status is not Status.VALID:
        return False
    return not any(d.is_error for d in resolve_hints(guardset, spec, timeout_ms).diagnostics)


def _grown_example(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, report: Report, strategy: str,
                   strict: bool, timeout_ms: int, trace: Callable[..., GuardSet]) -> Any:
    """Example inputs with the 0/1 dims grown, by one of three strategies (None if it has none):
    grow those dims alone, shift every hinted dim together, or ask the solver for the sizes nearest
    the example that a trace without 0/1 specialisation admits."""
    from dimsolve.export.zero_one import bump_inputs, resized_inputs, solved_sizes, specialised_dims

    assert report.spec is not None and report.guardset is not None  # checked by the caller
    if strategy != "solved":
        dims = specialised_dims(report.spec, report.guardset)
        return bump_inputs(model, args, kwargs, report.spec, dims, strategy == "shift")
    oblivious = trace(model, args, kwargs, strict=strict, size_oblivious=True)
    if oblivious.failures:
        return None
    sizes = solved_sizes(report.spec, oblivious, timeout_ms)
    return resized_inputs(model, args, kwargs, sizes) if sizes else None


def _bumped_report(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any, strict: bool,
                   timeout_ms: int, trace: Callable[..., GuardSet], report: Report,
                   strategy: str) -> tuple[Report, FixedExample] | None:
    from dimsolve.dims.parse import parse_spec

    bump = _grown_example(model, args, kwargs, report, strategy, strict, timeout_ms, trace)
    if bump is None:
        return None
    parsed = parse_spec(model, bump.args, bump.kwargs, dynamic_shapes)
    if parsed.spec is None:
        return None
    guardset = trace(model, bump.args, bump.kwargs, strict=strict)
    if guardset.failures:  # a grown copy torch cannot trace says nothing about the user's model
        return None
    return check_against(guardset, parsed.spec, timeout_ms), FixedExample(dict(bump.sizes), bump.args, bump.kwargs)


def _score(report: Report) -> tuple[int, int]:
    """Fewer errors, then fewer dims pinned static: the grown example that disturbs the model least."""
    static = sum(1 for d in report.diagnostics if d.code in ("DS405", "DS404") and "is static" in d.message)
    return sum(1 for d in report.diagnostics if d.is_error), static


def recheck_zero_one(report: Report, model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any,
                     strict: bool, timeout_ms: int, trace: Callable[..., GuardSet]) -> Report:
    """With 0/1 examples torch specialises: check again with those sizes grown, report both.

    The pinned spec stays the one for the user's own example: it pins what export does today.
    """
    from dataclasses import replace

    from dimsolve.export.zero_one import specialised_dims

    if report.spec is None or report.guardset is None or not specialised_dims(report.spec, report.guardset):
        return report
    found: list[tuple[Report, FixedExample]] = []
    for strategy in ("alone", "shift", "solved"):
        tried = _bumped_report(model, args, kwargs, dynamic_shapes, strict, timeout_ms, trace, report, strategy)
        if tried is not None:
            found.append(tried)
            if _score(tried[0]) == (0, 0):  # nothing to improve on: skip the remaining traces
                break
    zero_one = [d for d in report.diagnostics if d.code == "DS403"]
    if not found:
        note = "dimsolve could not trace a grown copy of the example; try one with these sizes >= 2 yourself"
        return replace(report, diagnostics=tuple(replace(d, help=d.help + (note,)) for d in zero_one)
                       + tuple(d for d in report.diagnostics if d.code != "DS403"))
    bumped, example = min(found, key=lambda t: _score(t[0]))
    sizes = example.describe()
    verdict = (f"with {sizes} the spec is valid" if bumped.ok
               else f"with {sizes} dimsolve finds the problems below; fix them too")
    grown = [replace(d, help=d.help + (verdict,)) for d in zero_one]
    others = [replace(d, notes=d.notes + (f"found with the grown example ({sizes})",))
              for d in bumped.diagnostics if d.code != "DS403"]
    # a spec that is valid once the example grows is its own fix: torch exports it with the grown
    # example before it is called verified (``export.fix_loop``)
    fixed = bumped.fixed_spec if bumped.fixed_spec is not None else (report.spec if bumped.ok else None)
    return Report(tuple(grown + others), report.spec, fixed, bumped.guardset, bumped.fix_verified,
                  report.pinned_spec, fixed_example=example if fixed is not None else None)
