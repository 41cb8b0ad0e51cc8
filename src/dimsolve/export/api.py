"""The public API: trace once, check a spec, export only when the spec is valid."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dimsolve.diagnostics.model import Diagnostic, Label, Severity
from dimsolve.dims.model import Spec
from dimsolve.guards.model import GuardSet, TraceFailure
from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS
from dimsolve.export.report import Report


class DimsolveError(Exception):
    """The root of dimsolve's exceptions."""


class ConstraintViolation(DimsolveError):
    """Raised by ``dimsolve.export`` before torch finalises a graph; ``.report`` has the findings and fixes."""

    def __init__(self, report: Report):
        self.report = report
        super().__init__(str(report))


@dataclass(frozen=True)
class Case:
    """What ``dimsolve check file.py:factory`` expects a factory to return."""

    model: Any
    args: tuple
    kwargs: dict[str, Any] = field(default_factory=dict)
    dynamic_shapes: Any = None
    strict: bool = False


def trace_guards(model: Any, args: tuple, kwargs: Mapping[str, Any] | None = None, *, dynamic_shapes: Any = None,
                 strict: bool = False) -> GuardSet:
    """Trace ``model`` once with every dimension dynamic; the GuardSet can then check any spec.

    ``dynamic_shapes`` is accepted for symmetry with torch.export and ignored: tracing does not
    depend on the spec (every dimension is a fresh symbol), which is what makes re-checks cheap.

    >>> gs = dimsolve.trace_guards(model, (x, y))          # doctest: +SKIP
    >>> dimsolve.check_spec(gs, {"x": (dx,), "y": (dx,)})  # doctest: +SKIP
    """
    from dimsolve.guards.trace import bind_inputs, input_leaves, trace_guards as _trace

    guardset = _trace(model, tuple(args), kwargs, strict=strict)
    bound = bind_inputs(model, tuple(args), kwargs)
    leaves = [
        {"path": list(leaf.path.keys), "shape": list(leaf.value.shape) if hasattr(leaf.value, "shape") else None}
        for leaf in input_leaves(bound)
    ]
    meta = dict(guardset.meta)
    meta["inputs"] = json.dumps({"params": _param_names(model), "leaves": leaves})
    return GuardSet(guardset.symbols, guardset.guards, guardset.specializations, guardset.failures,
                    guardset.strict, guardset.torch_version, meta)


def _param_names(model: Any) -> list[str]:
    import inspect

    fn = model.forward if hasattr(model, "forward") else model
    return list(inspect.signature(fn).parameters)


def _failure_diagnostic(f: TraceFailure) -> Diagnostic:
    code = "DS601" if f.kind == "data_dependent" else "DS903"
    help_text = (
        "add torch._check(...) for the data-dependent value before this line"
        if code == "DS601"
        else "fix the model so that torch.export can trace it with these example inputs"
    )
    return Diagnostic(
        code=code, severity=Severity.ERROR, message=f"tracing stopped: {f.message}",
        labels=(Label(f.origin, "here"),) if f.origin else (), help=(help_text,),
    )


def _check(guardset: GuardSet, spec: Spec, timeout_ms: int) -> Report:
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


def check_dynamic_shapes(model: Any, args: tuple, kwargs: Mapping[str, Any] | None = None, *, dynamic_shapes: Any,
                         strict: bool = False, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Report:
    """Decide ``dynamic_shapes`` for ``model`` on these example inputs; spec errors come before tracing.

    >>> report = dimsolve.check_dynamic_shapes(Foo(), (x, y), dynamic_shapes={"x": (dx, d1), "y": (dy, d1)})  # doctest: +SKIP
    >>> report.ok, report.fix_code                                                                            # doctest: +SKIP
    """
    from dimsolve.dims.parse import parse_spec

    parsed = parse_spec(model, tuple(args), kwargs, dynamic_shapes)
    if parsed.spec is None:
        return Report(parsed.diagnostics)
    guardset = trace_guards(model, tuple(args), kwargs, strict=strict)
    report = _check(guardset, parsed.spec, timeout_ms)
    return _recheck_zero_one(report, model, tuple(args), kwargs, dynamic_shapes, strict, timeout_ms)


def _recheck_zero_one(report: Report, model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any,
                      strict: bool, timeout_ms: int) -> Report:
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
    bumped = _check(trace_guards(model, bump.args, bump.kwargs, strict=strict), parsed.spec, timeout_ms)
    sizes = describe_sizes(bump.sizes)
    verdict = (f"with {sizes} the spec is valid" if bumped.ok
               else f"with {sizes} dimsolve finds the problems below; fix them too")
    zero_one = [replace(d, help=d.help + (verdict,)) for d in report.diagnostics if d.code == "DS403"]
    others = [replace(d, notes=d.notes + (f"found with the grown example ({sizes})",))
              for d in bumped.diagnostics if d.code != "DS403"]
    return Report(tuple(zero_one + others), report.spec, bumped.fixed_spec, bumped.guardset, bumped.fix_verified,
                  bumped.pinned_spec)


def check_spec(guards: GuardSet, dynamic_shapes: Any, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Report:
    """Re-check a spec against a cached GuardSet, without tracing (milliseconds, not seconds)."""
    from dimsolve.dims.parse import parse_spec
    from dimsolve.export.inputs import stand_in_inputs

    stand_in = stand_in_inputs(guards)
    if stand_in is None:
        raise DimsolveError("this GuardSet does not record its inputs; create it with dimsolve.trace_guards")
    signature, args, kwargs = stand_in
    parsed = parse_spec(signature, args, kwargs, dynamic_shapes)
    if parsed.spec is None:
        return Report(parsed.diagnostics)
    return _check(guards, parsed.spec, timeout_ms)


def export(model: Any, args: tuple, kwargs: Mapping[str, Any] | None = None, *, dynamic_shapes: Any,
           strict: bool = False, **torch_export_kwargs: Any) -> Any:
    """Check first; raise ``ConstraintViolation`` with the report, else return torch's ExportedProgram.

    >>> ep = dimsolve.export(model, (x, y), dynamic_shapes={"x": (dx,), "y": (dx,)})  # doctest: +SKIP
    """
    import torch

    report = check_dynamic_shapes(model, args, kwargs, dynamic_shapes=dynamic_shapes, strict=strict)
    if not report.ok:
        raise ConstraintViolation(report)
    return torch.export.export(model, tuple(args), dict(kwargs or {}), dynamic_shapes=dynamic_shapes, strict=strict,
                               **torch_export_kwargs)
