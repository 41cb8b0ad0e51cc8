"""Writing a ``GuardSet`` as JSON (schema in ``guards.serialize``).

Writing is where two sympy symbols with the same name but different assumptions are caught: the
text carries names only, so they would read back as one symbol and the GuardSet would change.
The assumptions actually used are written once, compactly, beside the expressions.
"""

from __future__ import annotations

import json
from typing import Any

import sympy

from dimsolve.diagnostics.model import SourceLocation
from dimsolve.dims.model import AttrKey, DimPath
from dimsolve.guards.codec import CodecError, format_expr
from dimsolve.guards.model import GuardRecord, GuardSet, IndexDetail, Specialization, SymbolInfo, TraceFailure
from dimsolve.guards.serialize_fields import SCHEMA_VERSION, GuardSetFormatError


def guardset_to_dict(gs: GuardSet) -> dict[str, Any]:
    """The JSON-ready form of ``gs`` (schema version 1).

    >>> guardset_to_dict(GuardSet(symbols=(), guards=()))["schema_version"]
    1
    """
    assumptions: dict[str, sympy.Symbol] = {}
    return {
        "schema_version": SCHEMA_VERSION,
        "torch_version": gs.torch_version,
        "strict": gs.strict,
        "symbols": [_symbol_to_dict(s) for s in gs.symbols],
        "guards": [_guard_to_dict(g, f"guards[{i}]", assumptions) for i, g in enumerate(gs.guards)],
        "specializations": [_specialization_to_dict(s) for s in gs.specializations],
        "failures": [_failure_to_dict(f, f"failures[{i}]", assumptions) for i, f in enumerate(gs.failures)],
        "assumptions": {name: _assumptions_of(sym) for name, sym in sorted(assumptions.items())},
        "meta": dict(gs.meta),
    }


def to_json(gs: GuardSet, *, indent: int | None = 2) -> str:
    """``gs`` as a JSON document (see the module docstring for the schema)."""
    return json.dumps(guardset_to_dict(gs), indent=indent)


def _path_to_dict(path: DimPath) -> dict[str, Any]:
    keys = [{"attr": str(k)} if isinstance(k, AttrKey) else k for k in path.input.keys]
    return {"input": keys, "axis": path.axis}


def _origin_to_dict(origin: SourceLocation | None) -> dict[str, Any] | None:
    if origin is None:
        return None
    return {"file": origin.file, "line": origin.line, "function": origin.function, "code": origin.code, "op": origin.op}


def _symbol_to_dict(symbol: SymbolInfo) -> dict[str, Any]:
    paths = [_path_to_dict(p) for p in symbol.paths]
    out: dict[str, Any] = {"name": symbol.name, "paths": paths, "example": symbol.example, "backed": symbol.backed}
    if not symbol.backed:
        out.update(label=symbol.label, origin=_origin_to_dict(symbol.origin), lower=symbol.lower, upper=symbol.upper)
    return out


def _expr_to_text(expr: sympy.Basic, where: str, seen: dict[str, sympy.Symbol]) -> str:
    for symbol in expr.free_symbols:
        if not isinstance(symbol, sympy.Symbol):
            continue
        other = seen.setdefault(symbol.name, symbol)
        if other != symbol:
            raise GuardSetFormatError(f"two different symbols are both named {symbol.name!r}", where)
    try:
        return format_expr(expr)
    except CodecError as exc:
        raise GuardSetFormatError(exc.message, where) from None


def _guard_to_dict(guard: GuardRecord, where: str, seen: dict[str, sympy.Symbol]) -> dict[str, Any]:
    expr = _expr_to_text(guard.expr, f"{where}.expr", seen)
    out = {"expr": expr, "kind": guard.kind.value, "origin": _origin_to_dict(guard.origin)}
    if guard.index is not None:
        out["index"] = _index_to_dict(guard.index, f"{where}.index", seen)
    return out


def _index_to_dict(d: IndexDetail, where: str, seen: dict[str, sympy.Symbol]) -> dict[str, Any]:
    def text(e: sympy.Basic | None, key: str) -> str | None:
        return None if e is None else _expr_to_text(e, f"{where}.{key}", seen)

    return {"op": d.op, "table": d.table, "size": text(d.size, "size"), "lower": text(d.lower, "lower"),
            "upper": text(d.upper, "upper"), "builder": _origin_to_dict(d.builder),
            "values": [{"input": v.input, "lower": v.lower, "upper": v.upper, "stated": v.stated} for v in d.values]}


def _specialization_to_dict(spec: Specialization) -> dict[str, Any]:
    return {"path": _path_to_dict(spec.path), "value": spec.value, "reason": spec.reason}


def _failure_to_dict(failure: TraceFailure, where: str, seen: dict[str, sympy.Symbol]) -> dict[str, Any]:
    expr = None if failure.expr is None else _expr_to_text(failure.expr, f"{where}.expr", seen)
    value = None if failure.value is None else _expr_to_text(failure.value, f"{where}.value", seen)
    return {"message": failure.message, "expr": expr, "origin": _origin_to_dict(failure.origin), "kind": failure.kind,
            "value": value}


_COMPACT_ASSUMPTIONS: tuple[dict[str, bool], ...] = (
    {"integer": True},
    {"integer": True, "positive": True},
    {"integer": True, "nonnegative": True},
    {},
)


def _assumptions_of(symbol: sympy.Symbol) -> dict[str, bool]:
    """The fewest assumptions that rebuild an equal symbol (sympy derives the rest)."""
    for candidate in _COMPACT_ASSUMPTIONS:
        if sympy.Symbol(symbol.name, **candidate) == symbol:
            return candidate
    return {k: bool(v) for k, v in sorted(symbol.assumptions0.items()) if v is not None}
