"""Reading a ``Spec`` from JSON (schema in ``dims.spec_json``), validating every field.

Only the format is judged here: a wrong type, a missing or unknown key, an unknown root or a dim
listed twice is a ``SpecJsonError`` naming its JSON path. Problems of the spec itself (an empty
range, an example outside its range) are left to ``dims.check``, as for a spec written in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dimsolve.dims.model import DimKind, DimPath, DimSpec, RootDim, Spec
from dimsolve.dims.spec_json_build import GivenDim, SpecBuilder
from dimsolve.dims.spec_json_fields import (MAX_SIZE, SCHEMA_VERSION, JsonObject, SpecJsonError, expect_list, expect_str,
                                            read_input_path)
from dimsolve.dims.traced_inputs import TracedInputs

MAX_RANK = 64
_KINDS = {k.value: k for k in DimKind}
_DIM_FIELDS = ("input", "axis", "kind", "example", "value", "root", "coeff", "offset", "min", "max")
_FIELDS_OF = {
    DimKind.STATIC: {"value"},
    DimKind.ROOT: {"root", "coeff", "offset"},
    DimKind.DERIVED: {"root", "coeff", "offset"},
    DimKind.AUTO: {"min", "max"},
    DimKind.DYNAMIC: {"min", "max"},
}


def spec_from_json(data: Any, inputs: TracedInputs | None = None) -> Spec:
    """Build a ``Spec`` from the JSON form, validating every field.

    >>> spec = spec_from_json({"schema_version": 1, "roots": {"dx": {"min": 2}},
    ...                        "dims": [{"input": ["x"], "axis": 0, "kind": "root", "root": "dx", "example": 6}]})
    >>> spec.entries[0].spec_path, spec.roots["dx"]
    ('dynamic_shapes["x"][0]', RootDim(name='dx', min=2, max=None))
    """
    top = JsonObject(data, "$")
    version = top.integer("schema_version")
    if version != SCHEMA_VERSION:
        raise SpecJsonError(f"unsupported schema version {version} (this dimsolve reads {SCHEMA_VERSION})",
                            "schema_version")
    roots = _read_roots(top.optional("roots", {}), "roots")
    given = _read_dims(top.raw("dims"), "dims", roots)
    params = _read_params(top.optional("params", None), "params")
    top.finish()
    return SpecBuilder(given, roots, params, inputs).build()


def _read_roots(value: Any, path: str) -> dict[str, RootDim]:
    obj = JsonObject(value, path)
    roots: dict[str, RootDim] = {}
    for name in list(obj.value):
        where = obj.at(name)
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecJsonError("a root's name must be a Python identifier", where)
        fields = JsonObject(obj.raw(name), where)
        low = fields.size("min", default=0)
        high = fields.size("max", default=None)
        fields.finish()
        roots[name] = RootDim(name, 0 if low is None else low, high)
    return roots


def _read_params(value: Any, path: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = expect_list(value, path)
    names = tuple(expect_str(v, f"{path}[{i}]") for i, v in enumerate(items))
    for i, name in enumerate(names):
        if name in names[:i]:
            raise SpecJsonError(f"parameter {name!r} is listed twice", f"{path}[{i}]")
    return names


def _read_dims(value: Any, path: str, roots: Mapping[str, RootDim]) -> list[GivenDim]:
    out: list[GivenDim] = []
    seen: dict[DimPath, str] = {}
    for i, item in enumerate(expect_list(value, path)):
        given = _read_dim(item, f"{path}[{i}]", roots)
        if given.path in seen:
            raise SpecJsonError(f"`{given.path}` is already given at {seen[given.path]}", given.where)
        seen[given.path] = given.where
        out.append(given)
    return out


def _read_dim(value: Any, path: str, roots: Mapping[str, RootDim]) -> GivenDim:
    obj = JsonObject(value, path)
    ipath = read_input_path(obj, "input")
    axis = obj.integer("axis")
    if not 0 <= axis < MAX_RANK:
        raise SpecJsonError(f"axis must be from 0 to {MAX_RANK - 1}", obj.at("axis"))
    kind_text = obj.string("kind")
    kind = _KINDS.get(kind_text)
    if kind is None:
        raise SpecJsonError(f"unknown kind {kind_text!r} (one of {', '.join(_KINDS)})", obj.at("kind"))
    for name in _DIM_FIELDS[3:]:
        if name != "example" and name not in _FIELDS_OF[kind] and obj.value.get(name) is not None:
            raise SpecJsonError(f"{_article(kind.value)} {kind.value} dim has no {name!r}", obj.at(name))
    example = obj.size("example", default=None)
    dim = _read_dim_spec(obj, kind, roots)
    if example is None and dim.kind is DimKind.STATIC:
        example = dim.value
    obj.finish(allowed=_DIM_FIELDS)
    return GivenDim(DimPath(ipath, axis), dim, example, path)


def _read_dim_spec(obj: JsonObject, kind: DimKind, roots: Mapping[str, RootDim]) -> DimSpec:
    if kind is DimKind.STATIC:
        return DimSpec(kind, value=obj.size("value", default=None))
    if kind in (DimKind.AUTO, DimKind.DYNAMIC):
        return DimSpec(kind, min=obj.size("min", default=None), max=obj.size("max", default=None))
    root = obj.string("root")
    if root not in roots:
        known = ", ".join(roots) or "none"
        raise SpecJsonError(f"unknown root {root!r}; add it to \"roots\" (declared: {known})", obj.at("root"))
    coeff = obj.integer("coeff", default=1)
    offset = obj.integer("offset", default=0)
    if not 1 <= coeff <= MAX_SIZE:
        raise SpecJsonError("coeff must be a positive integer: derived dims are increasing", obj.at("coeff"))
    if abs(offset) > MAX_SIZE:
        raise SpecJsonError(f"offset must be within +-{MAX_SIZE}", obj.at("offset"))
    if kind is DimKind.ROOT and (coeff, offset) != (1, 0):
        raise SpecJsonError('a root dim has coeff 1 and offset 0; use kind "derived"', obj.at("kind"))
    # the torch spelling 1*dx + 0 is a root, as dims.parse reads it
    kind = DimKind.ROOT if (coeff, offset) == (1, 0) else DimKind.DERIVED
    return DimSpec(kind, root=root, coeff=coeff, offset=offset)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
