"""Shared machinery for the tests/export suite: an independent reading of a torch ``dynamic_shapes`` spec,
real ``torch.export.export`` verdicts, and the checks every reference case goes through.

Nothing here uses dimsolve's own spec parser: admission of a counterexample is decided from the torch
``Dim`` objects directly, so a dimsolve bug in ``dims/`` cannot hide itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.export import Dim
from torch.export.dynamic_shapes import _DerivedDim, _DimHint

import dimsolve

# ----------------------------------------------------------------------------------------------
# A reference case, as data
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """One expected violation: its code (``"DS106|DS107"`` accepts either), the spec path the fix
    changes, and the statement of the test model's ``forward`` that emitted the guard (None: spec
    error, no source line)."""

    code: str

    def matches(self, code: str) -> bool:
        return code in self.code.split("|")
    path: str | None = None
    statement: str | None = None


@dataclass(frozen=True)
class Case:
    """A model + example inputs + spec, and what dimsolve must say about it."""

    make: Callable[[], tuple[torch.nn.Module, tuple, dict, Any]]
    ok: bool
    expect: tuple[Expect, ...] = ()
    # torch exports, but the exported program rejects inputs the spec admits (dimsolve: DS3xx)
    silent: bool = False
    strict: bool = False

    def build(self) -> tuple[torch.nn.Module, tuple, dict, Any]:
        torch.manual_seed(0)
        return self.make()


# ----------------------------------------------------------------------------------------------
# torch's verdict
# ----------------------------------------------------------------------------------------------

# Errors torch raises for a spec it rejects (constraint violations, spec validation): anything else
# (e.g. an internal crash of dimsolve's test model) must not be mistaken for "torch rejects the spec".
TORCH_SPEC_ERRORS: tuple[type[BaseException], ...] = (
    torch._dynamo.exc.UserError,
    torch.fx.experimental.symbolic_shapes.ConstraintViolationError,
    # torch 2.13 reports a Dim on a non-tensor input / an out-of-rank axis with these
    AssertionError,
    IndexError,
    ValueError,
)


def torch_export(model: torch.nn.Module, args: tuple, kwargs: dict | None, dynamic_shapes: Any,
                 strict: bool = False) -> tuple[Any, BaseException | None]:
    """(ExportedProgram, None) when torch exports; (None, error) when it rejects the spec."""
    try:
        ep = torch.export.export(model, tuple(args), dict(kwargs or {}), dynamic_shapes=dynamic_shapes,
                                 strict=strict)
    except TORCH_SPEC_ERRORS as exc:  # noqa: PERF203 - one call
        return None, exc
    return ep, None


# ----------------------------------------------------------------------------------------------
# An independent reading of the spec
# ----------------------------------------------------------------------------------------------


def bound_inputs(model: Any, args: tuple, kwargs: dict | None) -> dict[str, Any]:
    fn = model.forward if hasattr(model, "forward") else model
    ba = inspect.signature(fn).bind(*args, **(kwargs or {}))
    return dict(ba.arguments)


def _per_input(model: Any, args: tuple, kwargs: dict | None, dynamic_shapes: Any) -> dict[str, Any]:
    names = list(bound_inputs(model, args, kwargs))
    if dynamic_shapes is None:
        return {n: None for n in names}
    if isinstance(dynamic_shapes, dict):
        return {n: dynamic_shapes.get(n) for n in names}
    return dict(zip(names, dynamic_shapes))


@dataclass(frozen=True)
class Entry:
    path: str  # "x.shape[0]", the vocabulary of dimsolve's counterexamples
    spec: Any  # Dim / derived Dim / int / None / DimHint
    example: int


def spec_entries(model: Any, args: tuple, kwargs: dict | None, dynamic_shapes: Any) -> Iterator[Entry]:
    per = _per_input(model, args, kwargs, dynamic_shapes)
    for name, value in bound_inputs(model, args, kwargs).items():
        if not isinstance(value, torch.Tensor):
            continue
        dims = per.get(name)
        for axis, size in enumerate(value.shape):
            if dims is None:
                entry = None
            elif isinstance(dims, dict):
                entry = dims.get(axis)
            else:
                entry = dims[axis]
            yield Entry(f"{name}.shape[{axis}]", entry, int(size))


def _is_named(e: Any) -> bool:
    return isinstance(e, Dim) and not isinstance(e, _DimHint)


def _linear(e: Any) -> tuple[Any, int, int]:
    """(root Dim, A, B) with e = A*root + B."""
    if isinstance(e, _DerivedDim):
        b = int(e.fn(0))
        return e.root, int(e.fn(1)) - b, b
    return e, 1, 0


def _in_range(value: int, lo: Any, hi: Any) -> bool:
    """``lo <= value <= hi``; torch spells "unbounded" as None or int_oo (not an ``int``)."""
    lo = lo if isinstance(lo, int) else 0
    return value >= lo and (not isinstance(hi, int) or value <= hi)


def admitted_sizes(model: Any, args: tuple, kwargs: dict | None, dynamic_shapes: Any,
                   partial: dict[str, int]) -> dict[str, int] | None:
    """Complete ``partial`` (sizes by path) into a full input-shape assignment the spec admits, taking
    every root not pinned by ``partial`` from the example inputs; None if the spec admits no such shape."""
    entries = list(spec_entries(model, args, kwargs, dynamic_shapes))
    known = {e.path for e in entries}
    assert set(partial) <= known, f"counterexample names unknown paths: {set(partial) - known}"
    roots: dict[str, int] = {}
    for from_partial in (True, False):
        for e in entries:
            if not _is_named(e.spec):
                continue
            root, a, b = _linear(e.spec)
            value = partial.get(e.path) if from_partial else e.example
            if value is None or (not from_partial and root.__name__ in roots):
                continue
            if (value - b) % a:
                return None
            r = (value - b) // a
            if roots.setdefault(root.__name__, r) != r:
                return None
    sizes: dict[str, int] = {}
    for e in entries:
        if e.spec is None:
            value = e.example
        elif isinstance(e.spec, int):
            value = e.spec
        elif isinstance(e.spec, _DimHint):
            value = partial.get(e.path, e.example)
            if not _in_range(value, e.spec.min, e.spec.max):
                return None
        else:
            root, a, b = _linear(e.spec)
            r = roots[root.__name__]
            if not _in_range(r, root.min, root.max):
                return None
            value = a * r + b
            if not _in_range(value, e.spec.min, e.spec.max):
                return None
        if e.path in partial and partial[e.path] != value:
            return None
        sizes[e.path] = value
    return sizes


def hint_paths(model: Any, args: tuple, kwargs: dict | None, dynamic_shapes: Any) -> set[str]:
    """Paths given Dim.AUTO / Dim.DYNAMIC: their relations are inferred by torch, not written in the spec."""
    return {e.path for e in spec_entries(model, args, kwargs, dynamic_shapes) if isinstance(e.spec, _DimHint)}


def inputs_of_sizes(model: Any, args: tuple, kwargs: dict | None, sizes: dict[str, int]) -> tuple[tuple, dict]:
    """New (args, kwargs) like the examples, every tensor resized to ``sizes``."""
    bound = bound_inputs(model, args, kwargs)
    n_args = len(args)
    out: dict[str, Any] = {}
    for name, value in bound.items():
        if isinstance(value, torch.Tensor):
            shape = [sizes[f"{name}.shape[{i}]"] for i in range(value.dim())]
            if value.dtype.is_floating_point:
                value = torch.randn(shape, dtype=value.dtype)
            else:
                value = torch.ones(shape, dtype=value.dtype)
        out[name] = value
    names = list(out)
    return tuple(out[n] for n in names[:n_args]), {n: out[n] for n in names[n_args:]}


# ----------------------------------------------------------------------------------------------
# dimsolve, cached per case (tracing is the slow part)
# ----------------------------------------------------------------------------------------------

_REPORTS: dict[tuple[str, bool], Any] = {}


def report_for(case_id: str, case: Case, strict: bool | None = None) -> Any:
    strict = case.strict if strict is None else strict
    key = (case_id, strict)
    if key not in _REPORTS:
        model, args, kwargs, ds = case.build()
        _REPORTS[key] = dimsolve.check_dynamic_shapes(model, args, kwargs, dynamic_shapes=ds, strict=strict)
    return _REPORTS[key]


# ----------------------------------------------------------------------------------------------
# The checks
# ----------------------------------------------------------------------------------------------


def forward_line(model: Any, statement: str) -> tuple[str, int]:
    """(file, line) of the one line of ``type(model).forward`` that contains ``statement``."""
    fn = type(model).forward
    lines, start = inspect.getsourcelines(fn)
    hits = [start + i for i, text in enumerate(lines) if statement in text]
    assert len(hits) == 1, f"{statement!r} must occur once in {type(model).__name__}.forward, found {hits}"
    return inspect.getsourcefile(fn) or "", hits[0]


def find_violation(report: Any, expect: Expect) -> Any:
    candidates = [v for v in report.violations if expect.matches(v.code)]
    if expect.path is not None:
        candidates = [v for v in candidates if expect.path in v.paths]
    assert candidates, f"no {expect.code} at {expect.path} in:\n{report}"
    return candidates[0]


def assert_codes(report: Any, expects: tuple[Expect, ...]) -> None:
    """The report's error codes are exactly the expected ones (as a multiset)."""
    left = [v.code for v in report.violations]
    for e in expects:
        hit = next((c for c in left if e.matches(c)), None)
        assert hit is not None, f"expected {e.code}, got {[v.code for v in report.violations]}:\n{report}"
        left.remove(hit)
    assert not left, f"unexpected findings {left}:\n{report}"


def assert_location(report: Any, model: Any, expect: Expect) -> None:
    v = find_violation(report, expect)
    if expect.statement is None:
        assert v.location is None
        return
    file, line = forward_line(model, expect.statement)
    assert v.location is not None, f"{v.code} has no source location"
    assert expect.statement in v.location.code, (v.location, expect.statement)
    assert v.location.line == line, (v.location, line)
    assert v.location.file == file, (v.location.file, file)
    assert v.location.function == "forward"


def assert_counterexamples_admitted(report: Any, model: Any, args: tuple, kwargs: dict, ds: Any) -> None:
    """Each error finding about the model's guards carries a counterexample the original spec admits,
    and which the fixed spec (being valid) no longer admits."""
    fixed = report.fixed_dynamic_shapes
    inferred = hint_paths(model, args, kwargs, fixed) if fixed is not None else set()
    for v in report.violations:
        assert v.counterexample, f"{v.code} has no counterexample: {v}"
        assert all(isinstance(n, int) and n >= 0 for n in v.counterexample.values()), v.counterexample
        assert admitted_sizes(model, args, kwargs, ds, v.counterexample) is not None, (
            f"{v.code}: counterexample {v.counterexample} is not admitted by the original spec")
        if fixed is not None and not set(v.counterexample) & inferred:
            assert admitted_sizes(model, args, kwargs, fixed, v.counterexample) is None, (
                f"{v.code}: the fixed spec still admits the counterexample {v.counterexample}")


def exec_fix_code(code: str, names: dict[str, Any] | None = None) -> Any:
    """``dynamic_shapes`` as the fix's source defines it; ``names``: the user's own classes it uses (a namedtuple)."""
    namespace: dict[str, Any] = dict(names or {})
    exec(compile(code, "<fix_code>", "exec"), namespace)  # noqa: S102 - dimsolve's generated source, by design
    return namespace["dynamic_shapes"]


def assert_one_round_fix(report: Any, model: Any, args: tuple, kwargs: dict, strict: bool = False,
                         names: dict[str, Any] | None = None) -> Any:
    """The fixed spec and the executed fix_code both export with torch in one round, and dimsolve
    finds nothing left to fix in them. Returns the ExportedProgram of the fixed spec."""
    fixed = report.fixed_dynamic_shapes
    assert fixed is not None and report.fix_code, f"no fix offered:\n{report}"
    ep, err = torch_export(model, args, kwargs, fixed, strict)
    assert err is None, f"fixed_dynamic_shapes {fixed} still fails torch.export: {err}"
    from_code = exec_fix_code(report.fix_code, names)
    ep2, err2 = torch_export(model, args, kwargs, from_code, strict)
    assert err2 is None, f"fix_code does not export:\n{report.fix_code}\n{err2}"
    again = dimsolve.check_dynamic_shapes(model, args, kwargs, dynamic_shapes=fixed, strict=strict)
    assert again.ok, f"dimsolve rejects its own fix:\n{again}"
    return ep


def assert_silent_narrowing(report: Any, model: Any, args: tuple, kwargs: dict, ds: Any, ep: Any) -> None:
    """torch exported; each counterexample is an admitted input that eager runs and the program rejects."""
    assert ep is not None
    assert any(v.code.startswith("DS3") for v in report.violations), str(report)
    for v in report.violations:
        sizes = admitted_sizes(model, args, kwargs, ds, v.counterexample)
        assert sizes is not None
        new_args, new_kwargs = inputs_of_sizes(model, args, kwargs, sizes)
        with torch.no_grad():
            model(*new_args, **new_kwargs)  # the model itself is fine with these sizes
        try:
            ep.module()(*new_args, **new_kwargs)
        except Exception:  # noqa: BLE001 - torch raises AssertionError/RuntimeError depending on the guard
            continue
        raise AssertionError(f"{v.code}: the exported program accepted the counterexample {sizes}")


def root_dims(dynamic_shapes: Any) -> dict[str, Any]:
    """Every root Dim reachable in a torch spec, by name."""
    out: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, (tuple, list)):
            for v in node:
                walk(v)
        elif _is_named(node):
            root, _, _ = _linear(node)
            out[root.__name__] = root

    walk(dynamic_shapes)
    return out


def linear_form(dim: Any) -> tuple[str, int, int]:
    """(root name, A, B) of a Dim or derived Dim."""
    root, a, b = _linear(dim)
    return root.__name__, a, b


# ----------------------------------------------------------------------------------------------
# Models more than one test file uses
# ----------------------------------------------------------------------------------------------


class CatStrideLinear(torch.nn.Module):
    """Linear on cat([x, x[::2]]): with x.shape[1] static torch emits a divisibility guard on
    x.shape[0] that always holds but that it cannot prove for a named Dim (DS503)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.lin(torch.cat([x, x[::2]]))


class TokensAndMask(torch.nn.Module):
    """A HuggingFace model as users export it: ``forward(input_ids, attention_mask)`` -> its first
    output (last hidden state or logits), tuple outputs; ``extra`` keyword arguments go to every call
    (``use_cache=False`` keeps a cache object out of the outputs)."""

    def __init__(self, lm: torch.nn.Module, **extra: Any) -> None:
        super().__init__()
        self.lm, self.extra = lm, extra

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.lm(input_ids=input_ids, attention_mask=attention_mask, return_dict=False, **self.extra)[0]
