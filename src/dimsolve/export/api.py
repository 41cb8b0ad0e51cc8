"""The public API: trace once, check a spec, export only when the spec is valid."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dimsolve.guards.model import GuardSet
from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS
from dimsolve.export.pipeline import check_against as _check
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
    return trace_variant(model, tuple(args), kwargs, strict=strict)


def trace_variant(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, *, strict: bool,
                  size_oblivious: bool = False) -> GuardSet:
    """``trace_guards``, or with sizes 0/1 kept symbolic (``size_oblivious``, see ``export.zero_one``)."""
    from dimsolve.guards.trace import bind_inputs, input_leaves, trace_guards as _trace

    guardset = _trace(model, tuple(args), kwargs, strict=strict, size_oblivious=size_oblivious)
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


def check_dynamic_shapes(model: Any, args: tuple, kwargs: Mapping[str, Any] | None = None, *, dynamic_shapes: Any,
                         strict: bool = False, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Report:
    """Decide ``dynamic_shapes`` for ``model`` on these example inputs; spec errors come before tracing.

    torch.export of the spec as written comes first: when torch exports it and z3 proves every
    guard and runtime assert of that program, the spec is valid after one trace. Otherwise the
    findings come with a fix that torch.export has exported (``report.fix_verified``).

    >>> report = dimsolve.check_dynamic_shapes(Foo(), (x, y), dynamic_shapes={"x": (dx, d1), "y": (dy, d1)})  # doctest: +SKIP
    >>> report.ok, report.fix_code                                                                            # doctest: +SKIP
    """
    return _checked(model, args, kwargs, dynamic_shapes, strict, timeout_ms).report


def _checked(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any, strict: bool,
             timeout_ms: int, options: Mapping[str, Any] | None = None) -> Any:
    from dimsolve.dims.parse import parse_spec
    from dimsolve.export.oracle import Checked, check_with_torch

    parsed = parse_spec(model, tuple(args), kwargs, dynamic_shapes)
    if parsed.spec is None:
        return Checked(Report(parsed.diagnostics), None)
    return check_with_torch(model, tuple(args), kwargs, dynamic_shapes, parsed.spec, strict, timeout_ms,
                            options=options)


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
    """Check inside torch's own export: raise ``ConstraintViolation`` with the report, else return the
    ExportedProgram of that same export (no second trace). ``torch_export_kwargs`` go to that export
    and to every export of a candidate fix.

    >>> ep = dimsolve.export(model, (x, y), dynamic_shapes={"x": (dx,), "y": (dx,)})  # doctest: +SKIP
    """
    checked = _checked(model, args, kwargs, dynamic_shapes, strict, DEFAULT_TIMEOUT_MS, torch_export_kwargs)
    if not checked.report.ok or checked.program is None:
        raise ConstraintViolation(checked.report)
    return checked.program
