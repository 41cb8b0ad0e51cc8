"""Reading a ``GuardSet`` back from JSON (schema in ``guards.serialize``), validating every field.

The document is untrusted (a cache entry anyone could have written, a service request), so every
expression goes through the codec's parser with the symbols' recorded assumptions, and any wrong
type, missing or unknown key is a ``GuardSetFormatError`` naming its JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy
from sympy.core.assumptions import _assume_defined

from dimsolve.diagnostics.model import SourceLocation
from dimsolve.dims.model import AttrKey, DimPath, InputPath, Key
from dimsolve.guards.codec import CodecError, parse_expr
from dimsolve.guards.model import (
    GuardKind,
    GuardRecord,
    GuardSet,
    IndexDetail,
    Specialization,
    SymbolInfo,
    TraceFailure,
    ValueRange,
)
from dimsolve.guards.serialize_fields import (
    SCHEMA_VERSION,
    GuardSetFormatError,
    JsonObject,
    expect_int,
    expect_str,
    type_name,
)
from dimsolve.json_fields import load_json


def from_json(text: str | bytes) -> GuardSet:
    """Read a ``GuardSet`` written by ``to_json``; any problem is a ``GuardSetFormatError``."""
    return guardset_from_dict(load_json(text, GuardSetFormatError))


def guardset_from_dict(d: Any) -> GuardSet:
    """Rebuild a ``GuardSet`` from ``guardset_to_dict``'s form, validating every field.

    >>> guardset_from_dict({"schema_version": 2})
    Traceback (most recent call last):
    ...
    dimsolve.guards.serialize_fields.GuardSetFormatError: schema_version: unsupported schema version 2 (this dimsolve reads 1)
    """
    top = JsonObject(d, "$")
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


def _read_key(value: Any, path: str) -> Key:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):  # {"attr": "name"}: a field of a namedtuple or dataclass
        obj = JsonObject(value, path)
        name = AttrKey(obj.string("attr"))
        obj.finish()
        return name
    return expect_int(value, path)


def _read_path(value: Any, path: str) -> DimPath:
    obj = JsonObject(value, path)
    keys = obj.array("input", _read_key)
    if not keys:
        raise GuardSetFormatError("an input path needs at least the argument name", obj.at("input"))
    result = DimPath(InputPath(tuple(keys)), obj.integer("axis"))
    obj.finish()
    return result


def _read_origin(value: Any, path: str) -> SourceLocation | None:
    if value is None:
        return None
    obj = JsonObject(value, path)
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
    obj = JsonObject(value, path)
    example = obj.raw("example")
    result = SymbolInfo(
        name=obj.string("name"),
        paths=tuple(obj.array("paths", _read_path)),
        example=None if example is None else expect_int(example, obj.at("example")),
        backed=obj.boolean("backed"),
        label=obj.string("label", ""),
        origin=_read_origin(obj.optional("origin", None), obj.at("origin")),
        lower=_optional_int(obj.optional("lower", None), obj.at("lower")),
        upper=_optional_int(obj.optional("upper", None), obj.at("upper")),
    )
    obj.finish()
    return result


def _optional_int(value: Any, path: str) -> int | None:
    return None if value is None else expect_int(value, path)


def _read_expr(value: Any, path: str, symbols: Mapping[str, sympy.Symbol]) -> sympy.Basic:
    text = expect_str(value, path)
    try:
        return parse_expr(text, symbols=symbols)
    except CodecError as exc:
        raise GuardSetFormatError(f"invalid expression: {exc}", path) from None


def _read_guard(value: Any, path: str, symbols: Mapping[str, sympy.Symbol]) -> GuardRecord:
    obj = JsonObject(value, path)
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
    obj = JsonObject(value, path)

    def expr(key: str) -> sympy.Basic | None:
        raw = obj.optional(key, None)
        return None if raw is None else _read_expr(raw, obj.at(key), symbols)

    def value_range(v: Any, p: str) -> ValueRange:
        item = JsonObject(v, p)
        stated = item.raw("stated")
        if not isinstance(stated, bool):
            raise GuardSetFormatError(f"expected true or false, got {type_name(stated)}", item.at("stated"))
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
    obj = JsonObject(value, path)
    result = Specialization(
        path=_read_path(obj.raw("path"), obj.at("path")), value=obj.integer("value"), reason=obj.string("reason", "")
    )
    obj.finish()
    return result


def _read_failure(value: Any, path: str, symbols: Mapping[str, sympy.Symbol]) -> TraceFailure:
    obj = JsonObject(value, path)
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
    obj = JsonObject(value, path)
    symbols: dict[str, sympy.Symbol] = {}
    for name in list(obj.value):
        expect_str(name, path)
        flags = JsonObject(obj.raw(name), obj.at(name))
        for flag, setting in flags.value.items():
            if flag not in _assume_defined or not isinstance(setting, bool):
                raise GuardSetFormatError("expected a sympy assumption set to true or false", flags.at(str(flag)))
        try:
            symbols[name] = sympy.Symbol(name, **flags.value)
        except Exception:  # noqa: BLE001 - sympy raises InconsistentAssumptions and others, with its whole table
            given = ", ".join(f"{flag}={str(setting).lower()}" for flag, setting in flags.value.items())
            raise GuardSetFormatError(f"invalid assumptions: {given} contradict each other", obj.at(name)) from None
    return symbols


def _read_meta(value: Any, path: str) -> dict[str, str]:
    obj = JsonObject(value, path)
    return {expect_str(name, path): obj.string(name) for name in list(obj.value)}
