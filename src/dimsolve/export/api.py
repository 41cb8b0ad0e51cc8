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


class InvalidArgument(DimsolveError, TypeError):
    """A dimsolve function was called with an argument of the wrong type or value (spec problems are
    not this: they are DS1xx findings in the report)."""


MAX_TIMEOUT_MS = 2**31 - 1  # z3 keeps its timeout in an unsigned 32-bit int


def _check_call(args: Any, kwargs: Any, timeout_ms: Any = DEFAULT_TIMEOUT_MS) -> None:
    """Refuse misuse before any work: ``args`` a tuple/list, ``kwargs`` a str-keyed mapping or None,
    ``timeout_ms`` a positive int."""
    if not isinstance(args, (tuple, list)):
        raise InvalidArgument(f"args must be a tuple of the example inputs, got {type(args).__name__}; "
                              "for one input write (x,)")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise InvalidArgument(f"kwargs must be a dict of keyword inputs or None, got {type(kwargs).__name__}; "
                              "put positional inputs in args")
    bad_key = next((k for k in (kwargs or {}) if not isinstance(k, str)), None)
    if bad_key is not None:
        raise InvalidArgument(f"kwargs keys must be parameter names (str), got {bad_key!r}")
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or not 0 < timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidArgument(f"timeout_ms must be an int from 1 to {MAX_TIMEOUT_MS} (milliseconds per solver query), "
                              f"got {timeout_ms!r}")


def _check_flags(**flags: Any) -> None:
    """``strict``, ``verify_fix``: True or False, never a string that is merely truthy (``"False"``)."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise InvalidArgument(f"{name} must be True or False, got {value!r}")


def _check_value_ranges(model: Any, args: Any, kwargs: Any, value_ranges: Any) -> None:
    """``value_ranges`` maps integer tensor inputs, by their path (``attention_mask``,
    ``inputs["ids"]``), to ``(lowest, highest)``: a name that is no such input would be ignored
    silently and the assumption it was meant to replace kept, so it is refused."""
    if value_ranges is None:
        return
    if not isinstance(value_ranges, Mapping):
        raise InvalidArgument(f"value_ranges must be a dict of input path -> (lowest, highest), got "
                              f"{type(value_ranges).__name__}; e.g. value_ranges={{'attention_mask': (0, 1)}}")
    for name, bounds in value_ranges.items():
        pair = tuple(bounds) if isinstance(bounds, (tuple, list)) else None
        if (not isinstance(name, str) or pair is None or len(pair) != 2
                or not all(isinstance(b, int) and not isinstance(b, bool) for b in pair) or pair[0] > pair[1]):
            raise InvalidArgument(f"value_ranges[{name!r}] must be (lowest, highest) ints with lowest <= highest, "
                                  f"got {bounds!r}")
    names = _integer_tensor_inputs(model, args, kwargs)
    unknown = sorted(n for n in value_ranges if names is not None and n not in names)
    if unknown:
        known = ", ".join(sorted(names or ())) or "none"
        raise InvalidArgument(f"value_ranges names {', '.join(map(repr, unknown))}, which is not an integer tensor "
                              f"input; the integer tensor inputs are: {known}")


def _integer_tensor_inputs(model: Any, args: Any, kwargs: Any) -> set[str] | None:
    """The paths of the example's integer tensor inputs; None when the inputs do not bind (DS101 later)."""
    import torch

    from dimsolve.guards.trace import bind_inputs, input_leaves

    try:
        leaves = input_leaves(bind_inputs(model, tuple(args), kwargs))
    except (TypeError, ValueError):
        return None
    return {str(leaf.path) for leaf in leaves
            if isinstance(leaf.value, torch.Tensor) and not leaf.value.is_floating_point()
            and not leaf.value.is_complex()}


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
    _check_call(args, kwargs)
    return trace_variant(model, tuple(args), kwargs, strict=strict)


def trace_variant(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, *, strict: bool,
                  size_oblivious: bool = False) -> GuardSet:
    """``trace_guards``, or with sizes 0/1 kept symbolic (``size_oblivious``, see ``export.zero_one``)."""
    from dimsolve.export.inputs import CONTAINERS, container_kinds
    from dimsolve.guards.trace import bind_inputs, input_leaves, trace_guards as _trace

    guardset = _trace(model, tuple(args), kwargs, strict=strict, size_oblivious=size_oblivious)
    bound = bind_inputs(model, tuple(args), kwargs)
    leaves = [_leaf_record(leaf.path.keys, leaf.value) for leaf in input_leaves(bound)]
    meta = dict(guardset.meta)
    meta["inputs"] = json.dumps({"params": _param_names(model), "leaves": leaves})
    meta[CONTAINERS] = container_kinds(bound)
    return GuardSet(guardset.symbols, guardset.guards, guardset.specializations, guardset.failures,
                    guardset.strict, guardset.torch_version, meta)


def _leaf_record(keys: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """One input leaf in ``meta["inputs"]``: its path and shape, and an int input's value (a spec
    may make that int dynamic; its example is then the value)."""
    record: dict[str, Any] = {"path": list(keys), "shape": list(value.shape) if hasattr(value, "shape") else None}
    if isinstance(value, int) and not isinstance(value, bool):
        record["value"] = value
    return record


def _param_names(model: Any) -> list[str]:
    import inspect

    fn = model.forward if hasattr(model, "forward") else model
    return list(inspect.signature(fn).parameters)


def check_dynamic_shapes(model: Any, args: tuple, kwargs: Mapping[str, Any] | None = None, *, dynamic_shapes: Any,
                         strict: bool = False, timeout_ms: int = DEFAULT_TIMEOUT_MS,
                         value_ranges: Mapping[str, tuple[int, int]] | None = None,
                         verify_fix: bool = True) -> Report:
    """Decide ``dynamic_shapes`` for ``model`` on these example inputs; spec errors come before tracing.

    torch.export of the spec as written comes first: when torch exports it and z3 proves every
    guard and runtime assert of that program, the spec is valid after one trace. Otherwise the
    findings come with a fix that torch.export has exported (``report.fix_verified``).

    ``verify_fix=False``: the verdict and findings as above, but the fix is not exported (it is
    "proven": z3 shows it against the guards seen, ``report.torch_confirmed`` is False). A violated
    spec then costs one export, not two: for a linter that only needs the verdict.

    ``value_ranges``: the values integer inputs hold (``{"attention_mask": (0, 1)}``), for the index
    checks (DS7xx); without it dimsolve assumes the example's values and says so (DS702).

    >>> report = dimsolve.check_dynamic_shapes(Foo(), (x, y), dynamic_shapes={"x": (dx, d1), "y": (dy, d1)})  # doctest: +SKIP
    >>> report.ok, report.fix_code                                                                            # doctest: +SKIP
    """
    from dimsolve.guards.index_bounds import stated_value_ranges

    _check_call(args, kwargs, timeout_ms)
    _check_flags(strict=strict, verify_fix=verify_fix)
    _check_value_ranges(model, args, kwargs, value_ranges)
    with stated_value_ranges(value_ranges):
        return _checked(model, args, kwargs, dynamic_shapes, strict, timeout_ms, verify_fix=verify_fix).report


def _checked(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any, strict: bool,
             timeout_ms: int, options: Mapping[str, Any] | None = None, verify_fix: bool = True) -> Any:
    from dimsolve.dims.parse import parse_spec
    from dimsolve.export.oracle import Checked, check_with_torch

    _check_call(args, kwargs, timeout_ms)
    parsed = parse_spec(model, tuple(args), kwargs, dynamic_shapes)
    if parsed.spec is None:
        return Checked(Report(parsed.diagnostics), None)
    return check_with_torch(model, tuple(args), kwargs, dynamic_shapes, parsed.spec, strict, timeout_ms,
                            options=options, verify_fix=verify_fix)


def check_spec(guards: GuardSet, dynamic_shapes: Any, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Report:
    """Re-check a spec against a cached GuardSet, without tracing (milliseconds, not seconds)."""
    from dimsolve.dims.parse import parse_spec
    from dimsolve.export.inputs import stand_in_inputs

    if not isinstance(guards, GuardSet):
        hint = ("; read a GuardSet's JSON with dimsolve.guards.serialize.from_json"
                if isinstance(guards, (str, bytes, dict)) else "")
        raise InvalidArgument(f"guards must be a GuardSet from dimsolve.trace_guards, got {type(guards).__name__}{hint}")
    _check_call((), None, timeout_ms)
    stand_in = stand_in_inputs(guards)
    if stand_in is None:
        raise DimsolveError("this GuardSet has no readable record of its inputs (meta['inputs']); "
                            "create it with dimsolve.trace_guards")
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
    _check_flags(strict=strict)
    checked = _checked(model, args, kwargs, dynamic_shapes, strict, DEFAULT_TIMEOUT_MS, torch_export_kwargs)
    if not checked.report.ok or checked.program is None:
        raise ConstraintViolation(checked.report)
    return checked.program
