"""One check, end to end: solver verdict, fix synthesis, hint resolution, findings, report.

``api`` is the public facade; this module is the sequence of steps behind it, shared by
``check_dynamic_shapes`` (after tracing), ``check_spec`` (cached guards) and the service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dimsolve.diagnostics.model import Diagnostic, Label, Severity
from dimsolve.dims.model import Spec
from dimsolve.export.report import Report
from dimsolve.guards.model import GuardSet, TraceFailure


def _failure_diagnostic(f: TraceFailure) -> Diagnostic:
    return Diagnostic(
        code="DS903", severity=Severity.ERROR, message=f"tracing stopped: {f.message}",
        labels=(Label(f.origin, "here"),) if f.origin else (),
        help=("fix the model so that torch.export can trace it with these example inputs",),
    )


def check_against(guardset: GuardSet, spec: Spec, timeout_ms: int) -> Report:
    """Every finding of ``spec`` against ``guardset``, with the fixed and pinned specs."""
    from dimsolve.export.findings import solver_limit_diagnostics, violation_diagnostics, zero_one_diagnostics
    from dimsolve.export.hints import apply_hint_fixes, resolve_hints
    from dimsolve.export.unbacked import data_dependent_diagnostics
    from dimsolve.solver.check import Status, check
    from dimsolve.solver.problem import build_problem
    from dimsolve.solver.synthesis import synthesize

    problem = build_problem(guardset, spec)
    verdict = check(problem, timeout_ms)
    diagnostics: list[Diagnostic] = [_failure_diagnostic(f) for f in guardset.failures if not f.kind.startswith("data_dependent")]
    diagnostics += data_dependent_diagnostics(guardset)
    diagnostics += zero_one_diagnostics(problem)
    fixed = None
    verified = False
    if verdict.status is Status.VIOLATED:
        plan = synthesize(problem, verdict, timeout_ms)
        diagnostics += violation_diagnostics(problem, verdict, plan)
        if plan is not None:
            fixed, verified = plan.fixed_spec, plan.verified
    diagnostics += solver_limit_diagnostics(problem, verdict, guardset)
    resolution = resolve_hints(guardset, spec, timeout_ms)
    diagnostics += resolution.diagnostics
    hint_fixed = apply_hint_fixes(fixed or spec, resolution.diagnostics)
    if hint_fixed is not None:
        fixed = hint_fixed
        verified = build_and_verify(guardset, hint_fixed, timeout_ms)
    return Report(tuple(diagnostics), spec, fixed, guardset, verified, resolution.pinned)


def build_and_verify(guardset: GuardSet, spec: Spec, timeout_ms: int) -> bool:
    """A fixed spec is verified when it re-solves as valid and its hints need no further fix."""
    from dimsolve.export.hints import resolve_hints
    from dimsolve.solver.check import Status, check
    from dimsolve.solver.problem import build_problem

    if check(build_problem(guardset, spec), timeout_ms).status is not Status.VALID:
        return False
    return not any(d.is_error for d in resolve_hints(guardset, spec, timeout_ms).diagnostics)


def recheck_zero_one(report: Report, model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any,
                     strict: bool, timeout_ms: int, trace: Callable[..., GuardSet]) -> Report:
    """With 0/1 examples torch specialises: check again with those sizes grown, report both."""
    from dataclasses import replace

    from dimsolve.dims.parse import parse_spec
    from dimsolve.export.zero_one import bump_inputs, describe_sizes, specialised_dims

    if report.spec is None or report.guardset is None:
        return report
    bump = bump_inputs(model, args, kwargs, report.spec, specialised_dims(report.spec, report.guardset))
    if bump is None:
        return report
    parsed = parse_spec(model, bump.args, bump.kwargs, dynamic_shapes)
    if parsed.spec is None:
        return report
    bumped = check_against(trace(model, bump.args, bump.kwargs, strict=strict), parsed.spec, timeout_ms)
    sizes = describe_sizes(bump.sizes)
    verdict = (f"with {sizes} the spec is valid" if bumped.ok
               else f"with {sizes} dimsolve finds the problems below; fix them too")
    zero_one = [replace(d, help=d.help + (verdict,)) for d in report.diagnostics if d.code == "DS403"]
    others = [replace(d, notes=d.notes + (f"found with the grown example ({sizes})",))
              for d in bumped.diagnostics if d.code != "DS403"]
    return Report(tuple(zero_one + others), report.spec, bumped.fixed_spec, bumped.guardset, bumped.fix_verified,
                  bumped.pinned_spec)
