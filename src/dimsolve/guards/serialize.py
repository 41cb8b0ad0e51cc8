"""A ``GuardSet`` as versioned JSON, read back with dimsolve's own expression grammar.

Schema version 1 (every key is required unless marked optional)::

    {
      "schema_version": 1,
      "torch_version": "2.13.0",
      "strict": false,
      "symbols": [
        {"name": "s0", "paths": [{"input": ["x"], "axis": 0}], "example": 8, "backed": true}
      ],
      "assumptions": {"s0": {"integer": true, "positive": true}},        # optional
      "guards": [
        {"expr": "Eq(s0, s1)", "kind": "guard",
         "origin": {"file": "model.py", "line": 12, "function": "forward", "code": "x + y", "op": ""}},
        {"expr": "s1 <= 64", "kind": "index_bound", "origin": {...},
         "index": {"op": "embedding", "table": "wpe.weight", "size": "64", "lower": "0", "upper": "s1 - 1",
                   "builder": {...}, "values": [{"input": "mask", "lower": 0, "upper": 1, "stated": false}]}}
      ],
      "specializations": [{"path": {"input": ["y"], "axis": 1}, "value": 1, "reason": ""}],
      "failures": [{"message": "...", "expr": "u0 > 2", "origin": null, "kind": "error"}],
      "meta": {"key": "value"}                                             # optional
    }

- ``input`` keys are strings (argument names, dict keys) or integers (tuple/list indices).
- ``example``, ``origin`` and a failure's ``expr`` may be null; in ``origin`` only ``file`` and
  ``line`` are required, and a specialization's ``reason`` is optional.
- ``expr`` is the text ``guards.codec.format_expr`` writes (``kind`` is a ``GuardKind`` value).
- ``index`` (optional, ``index_bound`` guards only): dimsolve's own index check, its bounds and
  ``size`` in the same expression text (``lower``/``upper`` may be null: unbounded).
- ``assumptions`` maps each symbol name used in an expression to the sympy assumptions of its
  symbol (torch's sizes are ``integer`` and ``positive``), so expressions read back compare equal
  to the traced ones; a name not listed becomes ``Symbol(name, integer=True)``.

Reading validates untrusted input: any wrong type, missing or unknown key raises
``GuardSetFormatError`` naming the JSON path (``guards[3].expr``), never a ``KeyError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import sympy
from sympy.core.assumptions import _assume_defined

from dimsolve.diagnostics.model import SourceLocation
from dimsolve.dims.model import DimPath, InputPath, Key
from dimsolve.guards.codec import CodecError, format_expr, parse_expr
from dimsolve.guards.model import (GuardKind, GuardRecord, GuardSet, IndexDetail, Specialization, SymbolInfo,
                                   TraceFailure, ValueRange)

SCHEMA_VERSION = 1

T = TypeVar("T")


class GuardSetFormatError(ValueError):
    """JSON that is not a valid ``GuardSet``; ``path`` locates the bad value (``guards[3].expr``, ``$`` for the root)."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path


# --- writing -----------------------------------------------------------------------------------


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
    return {"input": list(path.input.keys), "axis": path.axis}


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


# --- reading -----------------------------------------------------------------------------------


def from_json(text: str | bytes) -> GuardSet:
    """Read a ``GuardSet`` written by ``to_json``; any problem is a ``GuardSetFormatError``."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise GuardSetFormatError(f"not valid JSON: {exc}", "$") from None
    return guardset_from_dict(data)


def guardset_from_dict(d: Any) -> GuardSet:
    """Rebuild a ``GuardSet`` from ``guardset_to_dict``'s form, validating every field.

    >>> guardset_from_dict({"schema_version": 2})
    Traceback (most recent call last):
    ...
    dimsolve.guards.serialize.GuardSetFormatError: schema_version: unsupported schema version 2 (this dimsolve reads 1)
    """
    top = _Obj(d, "$")
    version = top.integer("schema_version")
    if version != SCHEMA_VERSION:
        raise GuardSetFormatError(
            f"unsupported schema version {version} (this dimsolve reads {SCHEMA_VERSION})", "schema_version"
        )
    symbols = _read_assumptions(top.optional("assumptions", {}), "assumptions")
    result = GuardSet(
        symbols=tuple(top.array("symbols", _read_symbol)),
        guards=tuple(top.array("guards", lambda v, p: _read_guard(v, p, symbols))),
        specializations=tuple(top.array("specializations", _read_specialization)),
        failures=tuple(top.array("failures", lambda v, p: _read_failure(v, p, symbols))),
        strict=top.boolean("strict"),
        torch_version=top.string("torch_version"),
        meta=_read_meta(top.optional("meta", {}), "meta"),
    )
    top.finish()
    return result


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return key if path == "$" else f"{path}.{key}"


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _expect_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GuardSetFormatError(f"expected an integer, got {_type_name(value)}", path)
    return value


def _expect_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise GuardSetFormatError(f"expected a string, got {_type_name(value)}", path)
    return value


class _Obj:
    """A JSON object being read: typed field access with the JSON path in every error."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise GuardSetFormatError(f"expected an object, got {_type_name(value)}", path)
        self.value: dict[Any, Any] = value
        self.path = path
        self.used: set[str] = set()

    def at(self, key: str) -> str:
        return _join(self.path, key)

    def raw(self, key: str) -> Any:
        if key not in self.value:
            raise GuardSetFormatError("missing required field", self.at(key))
        self.used.add(key)
        return self.value[key]

    def optional(self, key: str, default: Any) -> Any:
        if key not in self.value:
            return default
        return self.raw(key)

    def integer(self, key: str) -> int:
        return _expect_int(self.raw(key), self.at(key))

    def string(self, key: str, default: str | None = None) -> str:
        value = self.raw(key) if default is None else self.optional(key, default)
        return _expect_str(value, self.at(key))

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise GuardSetFormatError(f"expected true or false, got {_type_name(value)}", self.at(key))
        return value

    def array(self, key: str, read: Callable[[Any, str], T]) -> list[T]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise GuardSetFormatError(f"expected an array, got {_type_name(value)}", self.at(key))
        return [read(item, _join(self.at(key), i)) for i, item in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(str(k) for k in self.value if k not in self.used)
        if unknown:
            raise GuardSetFormatError(f"unknown field {unknown[0]!r}", self.at(unknown[0]))


def _read_key(value: Any, path: str) -> Key:
    if isinstance(value, str):
        return value
    return _expect_int(value, path)


def _read_path(value: Any, path: str) -> DimPath:
    obj = _Obj(value, path)
    keys = obj.array("input", _read_key)
    if not keys:
        raise GuardSetFormatError("an input path needs at least the argument name", obj.at("input"))
    result = DimPath(InputPath(tuple(keys)), obj.integer("axis"))
    obj.finish()
    return result


def _read_origin(value: Any, path: str) -> SourceLocation | None:
    if value is None:
        return None
    obj = _Obj(value, path)
    result = SourceLocation(
        file=obj.string("file"),
        line=obj.integer("line"),
        function=obj.string("function", ""),
        code=obj.string("code", ""),
        op=obj.string("op", ""),
    )
    obj.finish()
    return result


def _read_symbol(value: Any, path: str) -> SymbolInfo:
    obj = _Obj(value, path)
    example = obj.raw("example")
    result = SymbolInfo(
        name=obj.string("name"),
        paths=tuple(obj.array("paths", _read_path)),
        example=None if example is None else _expect_int(example, obj.at("example")),
        backed=obj.boolean("backed"),
        label=obj.string("label", ""),
        origin=_read_origin(obj.optional("origin", None), obj.at("origin")),
        lower=_optional_int(obj.optional("lower", None), obj.at("lower")),
        upper=_optional_int(obj.optional("upper", None), obj.at("upper")),
    )
    obj.finish()
    return result


def _optional_int(value: Any, path: str) -> int | None:
    return None if value is None else _expect_int(value, path)


def _read_expr(value: Any, path: str, symbols: Mapping[str, sympy.Symbol]) -> sympy.Basic:
    text = _expect_str(value, path)
    try:
        return parse_expr(text, symbols=symbols)
    except CodecError as exc:
        raise GuardSetFormatError(f"invalid expression: {exc}", path) from None


def _read_guard(value: Any, path: str, symbols: Mapping[str, sympy.Symbol]) -> GuardRecord:
    obj = _Obj(value, path)
    kind_text = obj.string("kind")
    try:
        kind = GuardKind(kind_text)
    except ValueError:
        choices = ", ".join(k.value for k in GuardKind)
        raise GuardSetFormatError(f"unknown guard kind {kind_text!r} (one of {choices})", obj.at("kind")) from None
    expr = _read_expr(obj.raw("expr"), obj.at("expr"), symbols)
    index = obj.optional("index", None)
    result = GuardRecord(expr=expr, kind=kind, origin=_read_origin(obj.raw("origin"), obj.at("origin")),
                         index=None if index is None else _read_index(index, obj.at("index"), symbols))
    obj.finish()
    return result


def _read_index(value: Any, path: str, symbols: Mapping[str, sympy.Symbol]) -> IndexDetail:
    obj = _Obj(value, path)

    def expr(key: str) -> sympy.Basic | None:
        raw = obj.optional(key, None)
        return None if raw is None else _read_expr(raw, obj.at(key), symbols)

    def value_range(v: Any, p: str) -> ValueRange:
        item = _Obj(v, p)
        stated = item.raw("stated")
        if not isinstance(stated, bool):
            raise GuardSetFormatError(f"expected true or false, got {_type_name(stated)}", item.at("stated"))
        out = ValueRange(item.string("input"), item.integer("lower"), item.integer("upper"), stated)
        item.finish()
        return out

    size = expr("size")
    if size is None:
        raise GuardSetFormatError("missing required field", obj.at("size"))
    result = IndexDetail(op=obj.string("op"), table=obj.string("table"), size=size, lower=expr("lower"),
                         upper=expr("upper"), builder=_read_origin(obj.optional("builder", None), obj.at("builder")),
                         values=tuple(obj.array("values", value_range)) if "values" in obj.value else ())
    obj.finish()
    return result


def _read_specialization(value: Any, path: str) -> Specialization:
    obj = _Obj(value, path)
    result = Specialization(
        path=_read_path(obj.raw("path"), obj.at("path")), value=obj.integer("value"), reason=obj.string("reason", "")
    )
    obj.finish()
    return result


def _read_failure(value: Any, path: str, symbols: Mapping[str, sympy.Symbol]) -> TraceFailure:
    obj = _Obj(value, path)
    expr = obj.raw("expr")
    result = TraceFailure(
        message=obj.string("message"),
        expr=None if expr is None else _read_expr(expr, obj.at("expr"), symbols),
        origin=_read_origin(obj.raw("origin"), obj.at("origin")),
        kind=obj.string("kind"),
        value=None if obj.optional("value", None) is None else _read_expr(obj.raw("value"), obj.at("value"), symbols),
    )
    obj.finish()
    return result


def _read_assumptions(value: Any, path: str) -> dict[str, sympy.Symbol]:
    obj = _Obj(value, path)
    symbols: dict[str, sympy.Symbol] = {}
    for name in list(obj.value):
        _expect_str(name, path)
        flags = _Obj(obj.raw(name), obj.at(name))
        for flag, setting in flags.value.items():
            if flag not in _assume_defined or not isinstance(setting, bool):
                raise GuardSetFormatError("expected a sympy assumption set to true or false", flags.at(str(flag)))
        try:
            symbols[name] = sympy.Symbol(name, **flags.value)
        except Exception as exc:  # noqa: BLE001 - sympy raises InconsistentAssumptions and others
            raise GuardSetFormatError(f"invalid assumptions: {exc}", obj.at(name)) from None
    return symbols


def _read_meta(value: Any, path: str) -> dict[str, str]:
    obj = _Obj(value, path)
    return {_expect_str(name, path): obj.string(name) for name in list(obj.value)}
