"""A ``Spec`` as versioned JSON, for tools and the service: no torch objects, no Python source.

Schema version 1 (``docs/service.md`` has the worked examples)::

    {
      "schema_version": 1,
      "params": ["x", "y"],                                   # optional: forward's inputs, in order
      "roots": {"dx": {"min": 2, "max": 64}},                 # optional: the named Dims
      "dims": [
        {"input": ["x"], "axis": 0, "kind": "root", "root": "dx", "example": 6},
        {"input": ["x"], "axis": 1, "kind": "static", "value": 4},
        {"input": ["y"], "axis": 0, "kind": "derived", "root": "dx", "coeff": 2, "offset": 1},
        {"input": ["z"], "axis": 0, "kind": "auto", "min": 2, "max": 8}
      ]
    }

- ``input`` is the input's path among forward's arguments: the parameter name, then dict keys
  (strings) and tuple/list indices (integers); ``axis`` is a dimension of that tensor.
- ``kind``: ``static`` (``value``, or the example's size when it is absent or null), ``root``
  (``root``), ``derived`` (``coeff*root + offset``, ``coeff >= 1``), ``auto`` / ``dynamic``
  (``Dim.AUTO`` / ``Dim.DYNAMIC`` with optional ``min``/``max``). Fields that do not belong to
  the kind must be absent or null.
- A root's ``min`` defaults to 0 and ``max`` to null (unbounded), as for ``Dim("dx")``.
- ``example`` is the example input's size. It may be left out when the traced inputs are known
  (``TracedInputs``, which the service reads from the GuardSet); then dims that are not listed
  are static at their example size, and an input none of whose dims is listed is ``None`` in
  the rendered spec.

Reading validates untrusted input: a wrong type, a missing or unknown key, an unknown root or a
dim listed twice raises ``SpecJsonError`` naming the JSON path (``dims[2].root``). Problems of the
spec itself (an empty range, an example outside its range) are not format errors: they are the
DS1xx findings ``dims.check.check_entries`` reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dimsolve.dims._common import key_text
from dimsolve.dims.model import DimKind, DimPath, DimSpec, InputPath, Key, LayoutNode, NodeKind, RootDim, Spec, SpecEntry

SCHEMA_VERSION = 1
TOP = "dynamic_shapes"
MAX_SIZE = 2**63 - 1  # torch sizes are int64
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


class SpecJsonError(ValueError):
    """JSON that is not a valid spec; ``path`` locates the bad value (``dims[2].root``, ``$`` for the root)."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path


@dataclass(frozen=True, slots=True)
class TracedInputs:
    """What the traced example inputs looked like: forward's passed inputs and every pytree leaf.

    ``leaves`` maps each leaf's path to its shape, or None for a leaf that is not a tensor.
    """

    params: tuple[str, ...]
    leaves: tuple[tuple[InputPath, tuple[int, ...] | None], ...]

    def shape(self, path: InputPath) -> tuple[int, ...] | None:
        return dict(self.leaves).get(path)

    @classmethod
    def from_dims(cls, dims: Iterable[tuple[DimPath, int]]) -> TracedInputs | None:
        """From (dimension, example size) pairs, e.g. a GuardSet's symbols; None when an input has a gap."""
        sizes: dict[InputPath, dict[int, int]] = {}
        for path, example in dims:
            if not path.is_scalar:  # an int input's value (Dim.AUTO in the trace) is not a tensor's shape
                sizes.setdefault(path.input, {})[path.axis] = example
        leaves = []
        for ipath, axes in sizes.items():
            if sorted(axes) != list(range(len(axes))):
                return None
            leaves.append((ipath, tuple(axes[a] for a in range(len(axes)))))
        params = tuple(dict.fromkeys(str(p.keys[0]) for p, _ in leaves))
        return cls(params, tuple(leaves))


# --- writing -----------------------------------------------------------------------------------


def spec_to_json(spec: Spec) -> dict[str, Any]:
    """The JSON-ready form of ``spec``.

    >>> spec_to_json(Spec(entries=()))["schema_version"]
    1

    An input the user's spec gives as ``None`` is left out (it is static at its example sizes),
    so ``spec_from_json(spec_to_json(s), inputs)`` rebuilds ``s`` given the traced inputs; without
    them it rebuilds the other entries and the roots. The JSON form does not keep how a tensor's
    dims were written (tuple, list or dict of axis) or list-versus-tuple containers: they come
    back as tuples, which torch reads the same.
    """
    unwritten = _none_inputs(spec.layout) if spec.layout is not None else set()
    return {
        "schema_version": SCHEMA_VERSION,
        "params": list(spec.params or dict.fromkeys(str(e.path.input.keys[0]) for e in spec.entries)),
        "roots": {name: {"min": r.min, "max": r.max} for name, r in spec.roots.items()},
        "dims": [_entry_to_json(e) for e in spec.entries if e.path.input not in unwritten or e.dim.is_dynamic],
    }


def _none_inputs(node: LayoutNode) -> set[InputPath]:
    if node.kind is NodeKind.NONE and node.input is not None:
        return {node.input}
    return {p for child in node.children for p in _none_inputs(child)}


def _entry_to_json(entry: SpecEntry) -> dict[str, Any]:
    d = entry.dim
    out: dict[str, Any] = {"input": list(entry.path.input.keys), "axis": entry.path.axis, "kind": d.kind.value,
                           "example": entry.example}
    if d.kind is DimKind.STATIC:
        out["value"] = d.value
    elif d.is_named:
        out.update(root=d.root, coeff=d.coeff, offset=d.offset)
    else:
        out.update(min=d.min, max=d.max)
    return out


# --- reading -----------------------------------------------------------------------------------


def spec_from_json(data: Any, inputs: TracedInputs | None = None) -> Spec:
    """Build a ``Spec`` from the JSON form, validating every field.

    >>> spec = spec_from_json({"schema_version": 1, "roots": {"dx": {"min": 2}},
    ...                        "dims": [{"input": ["x"], "axis": 0, "kind": "root", "root": "dx", "example": 6}]})
    >>> spec.entries[0].spec_path, spec.roots["dx"]
    ('dynamic_shapes["x"][0]', RootDim(name='dx', min=2, max=None))
    """
    top = _Obj(data, "$")
    version = top.integer("schema_version")
    if version != SCHEMA_VERSION:
        raise SpecJsonError(f"unsupported schema version {version} (this dimsolve reads {SCHEMA_VERSION})",
                            "schema_version")
    roots = _read_roots(top.optional("roots", {}), "roots")
    given = _read_dims(top.raw("dims"), "dims", roots)
    params = _read_params(top.optional("params", None), "params")
    top.finish()
    return _Builder(given, roots, params, inputs).build()


def _read_roots(value: Any, path: str) -> dict[str, RootDim]:
    obj = _Obj(value, path)
    roots: dict[str, RootDim] = {}
    for name in list(obj.value):
        where = obj.at(name)
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecJsonError("a root's name must be a Python identifier", where)
        fields = _Obj(obj.raw(name), where)
        low = fields.size("min", default=0)
        high = fields.size("max", default=None)
        fields.finish()
        roots[name] = RootDim(name, 0 if low is None else low, high)
    return roots


def _read_params(value: Any, path: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = _expect_list(value, path)
    names = tuple(_expect_str(v, f"{path}[{i}]") for i, v in enumerate(items))
    for i, name in enumerate(names):
        if name in names[:i]:
            raise SpecJsonError(f"parameter {name!r} is listed twice", f"{path}[{i}]")
    return names


@dataclass(frozen=True, slots=True)
class _Given:
    path: DimPath
    dim: DimSpec
    example: int | None
    where: str


def _read_dims(value: Any, path: str, roots: Mapping[str, RootDim]) -> list[_Given]:
    out: list[_Given] = []
    seen: dict[DimPath, str] = {}
    for i, item in enumerate(_expect_list(value, path)):
        given = _read_dim(item, f"{path}[{i}]", roots)
        if given.path in seen:
            raise SpecJsonError(f"`{given.path}` is already given at {seen[given.path]}", given.where)
        seen[given.path] = given.where
        out.append(given)
    return out


def _read_dim(value: Any, path: str, roots: Mapping[str, RootDim]) -> _Given:
    obj = _Obj(value, path)
    keys = _expect_list(obj.raw("input"), obj.at("input"))
    if not keys:
        raise SpecJsonError("an input path needs at least the parameter name", obj.at("input"))
    ipath = InputPath(tuple(_read_key(k, f"{obj.at('input')}[{j}]", first=j == 0) for j, k in enumerate(keys)))
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
    return _Given(DimPath(ipath, axis), dim, example, path)


def _read_dim_spec(obj: _Obj, kind: DimKind, roots: Mapping[str, RootDim]) -> DimSpec:
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


def _read_key(value: Any, path: str, *, first: bool) -> Key:
    if isinstance(value, str):
        return value
    if first:
        raise SpecJsonError(f"expected the parameter name (a string), got {_type_name(value)}", path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecJsonError(f"expected a string or an integer, got {_type_name(value)}", path)
    if not 0 <= value < MAX_SIZE:
        raise SpecJsonError("an index must be a non-negative integer", path)
    return value


class _Builder:
    """Given dims + traced inputs -> entries in the order ``dims.parse`` gives them, and a layout."""

    def __init__(self, given: list[_Given], roots: dict[str, RootDim], params: tuple[str, ...] | None,
                 inputs: TracedInputs | None) -> None:
        self.given = {g.path: g for g in given}
        self.roots = roots
        self.inputs = inputs
        self.shapes = self._shapes(given)
        listed = dict.fromkeys(str(g.path.input.keys[0]) for g in given)
        known = inputs.params if inputs is not None else tuple(listed)
        self.params = params if params is not None else known + tuple(p for p in listed if p not in known)
        for g in given:
            if g.path.input.keys[0] not in self.params:
                shown = ", ".join(self.params)
                raise SpecJsonError(f"`{g.path.input.keys[0]}` is not among the inputs ({shown})", f"{g.where}.input")

    def _shapes(self, given: list[_Given]) -> dict[InputPath, tuple[int, ...] | None]:
        if self.inputs is not None:
            shapes = dict(self.inputs.leaves)
            for g in given:
                _check_against(g, shapes)
            return shapes
        by_input: dict[InputPath, dict[int, _Given]] = {}
        for g in given:
            by_input.setdefault(g.path.input, {})[g.path.axis] = g
        shapes = {}
        for ipath, axes in by_input.items():
            missing = [a for a in range(max(axes) + 1) if a not in axes]
            if missing:
                where = axes[max(axes)].where
                raise SpecJsonError(f"`{ipath}` lists axis {max(axes)} but not axis {missing[0]}: without the traced "
                                    'inputs every axis must be listed (static ones with kind "static")', where)
            for g in axes.values():
                if g.example is None:
                    raise SpecJsonError("missing required field (the traced inputs are not known)", f"{g.where}.example")
            shapes[ipath] = tuple(axes[a].example or 0 for a in range(len(axes)))
        return shapes

    def build(self) -> Spec:
        entries: list[SpecEntry] = []
        children = tuple(self._node((name,), entries) for name in self.params)
        layout = LayoutNode(NodeKind.DICT, keys=self.params, children=children)
        return Spec(tuple(entries), dict(self.roots), layout, self.params)

    def _node(self, prefix: tuple[Key, ...], entries: list[SpecEntry]) -> LayoutNode:
        ipath = InputPath(prefix)
        if ipath in self.shapes:
            shape = self.shapes[ipath]
            if shape is None:
                return LayoutNode(NodeKind.NONE, input=ipath)
            written = any(DimPath(ipath, a) in self.given for a in range(len(shape)))
            entries.extend(self._entry(ipath, axis, size) for axis, size in enumerate(shape))
            if not written:
                return LayoutNode(NodeKind.NONE, input=ipath)
            return LayoutNode(NodeKind.TENSOR, style="tuple", axes=tuple(range(len(shape))), input=ipath)
        below = [p for p in self.shapes if p.keys[: len(prefix)] == prefix and len(p.keys) > len(prefix)]
        if not below:
            return LayoutNode(NodeKind.NONE, input=ipath)
        keys = tuple(dict.fromkeys(p.keys[len(prefix)] for p in below))
        kind = NodeKind.TUPLE if all(isinstance(k, int) for k in keys) else NodeKind.DICT
        return LayoutNode(kind, keys=keys, children=tuple(self._node(prefix + (k,), entries) for k in keys))

    def _entry(self, ipath: InputPath, axis: int, size: int) -> SpecEntry:
        path = DimPath(ipath, axis)
        spec_path = TOP + "".join(key_text(k) for k in ipath.keys) + key_text(axis)
        given = self.given.get(path)
        if given is None:
            return SpecEntry(path, spec_path, DimSpec(DimKind.STATIC, value=size), size)
        dim = given.dim
        if dim.kind is DimKind.STATIC and dim.value is None:
            dim = DimSpec(DimKind.STATIC, value=size)
        return SpecEntry(path, spec_path, dim, size)


def _check_against(g: _Given, shapes: Mapping[InputPath, tuple[int, ...] | None]) -> None:
    ipath = g.path.input
    if ipath not in shapes:
        tensors = ", ".join(f"`{p}`" for p, s in shapes.items() if s is not None) or "none"
        raise SpecJsonError(f"`{ipath}` is not a tensor input of the traced model (tensor inputs: {tensors})",
                            f"{g.where}.input")
    shape = shapes[ipath]
    if shape is None:
        raise SpecJsonError(f"`{ipath}` is not a tensor: only tensors take a shape spec", f"{g.where}.input")
    if g.path.axis >= len(shape):
        raise SpecJsonError(f"`{ipath}` has rank {len(shape)} (shape {list(shape)})", f"{g.where}.axis")
    if g.example is not None and g.example != shape[g.path.axis]:
        raise SpecJsonError(f"the traced example has `{g.path}` = {shape[g.path.axis]}, not {g.example}",
                            f"{g.where}.example")


# --- the traced inputs as recorded by ``dimsolve.trace_guards`` (GuardSet.meta["inputs"]) --------


def traced_inputs_from_meta(text: str) -> TracedInputs:
    """Read ``{"params": [...], "leaves": [{"path": [...], "shape": [...] | null}]}``; errors name the path."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SpecJsonError(f"not valid JSON: {exc}", "$") from None
    top = _Obj(data, "$")
    params = tuple(_expect_str(v, f"params[{i}]") for i, v in enumerate(_expect_list(top.raw("params"), "params")))
    leaves = []
    for i, item in enumerate(_expect_list(top.raw("leaves"), "leaves")):
        leaf = _Obj(item, f"leaves[{i}]")
        keys = _expect_list(leaf.raw("path"), leaf.at("path"))
        if not keys:
            raise SpecJsonError("an input path needs at least the parameter name", leaf.at("path"))
        ipath = InputPath(tuple(_read_key(k, f"{leaf.at('path')}[{j}]", first=j == 0) for j, k in enumerate(keys)))
        shape = leaf.raw("shape")
        if shape is not None:
            sizes = _expect_list(shape, leaf.at("shape"))
            shape = tuple(_expect_size(v, f"{leaf.at('shape')}[{j}]") for j, v in enumerate(sizes))
        leaf.finish(allowed=("value",))  # an int input's example value (export.api records it)
        leaves.append((ipath, shape))
    top.finish()
    passed = {str(p.keys[0]) for p, _ in leaves}
    return TracedInputs(tuple(p for p in params if p in passed), tuple(leaves))


# --- typed access with the JSON path in every error ---------------------------------------------


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _expect_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise SpecJsonError(f"expected an array, got {_type_name(value)}", path)
    return value


def _expect_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise SpecJsonError(f"expected a string, got {_type_name(value)}", path)
    return value


def _expect_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecJsonError(f"expected an integer, got {_type_name(value)}", path)
    return value


def _expect_size(value: Any, path: str) -> int:
    size = _expect_int(value, path)
    if not 0 <= size <= MAX_SIZE:
        raise SpecJsonError(f"a size must be from 0 to {MAX_SIZE}", path)
    return size


class _Obj:
    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise SpecJsonError(f"expected an object, got {_type_name(value)}", path)
        self.value: dict[Any, Any] = value
        self.path = path
        self.used: set[str] = set()

    def at(self, key: object) -> str:
        return str(key) if self.path == "$" else f"{self.path}.{key}"

    def raw(self, key: str) -> Any:
        if key not in self.value:
            raise SpecJsonError("missing required field", self.at(key))
        self.used.add(key)
        return self.value[key]

    def optional(self, key: str, default: Any) -> Any:
        return self.raw(key) if key in self.value else default

    def integer(self, key: str, default: int | None = None) -> int:
        """A required integer, or with ``default`` an optional one (absent or null gives the default)."""
        value = self.raw(key) if default is None else self.optional(key, None)
        if value is None and default is not None:
            return default
        return _expect_int(value, self.at(key))

    def size(self, key: str, default: int | None) -> int | None:
        value = self.optional(key, None)
        return default if value is None else _expect_size(value, self.at(key))

    def string(self, key: str) -> str:
        return _expect_str(self.raw(key), self.at(key))

    def finish(self, allowed: Sequence[str] = ()) -> None:
        unknown = sorted(str(k) for k in self.value if k not in self.used and k not in allowed)
        if unknown:
            raise SpecJsonError(f"unknown field {unknown[0]!r}", self.at(unknown[0]))
