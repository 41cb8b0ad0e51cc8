"""Turning the dims a JSON spec lists into a ``Spec``: entries in ``dims.parse``'s order, and a layout.

The JSON form lists dims one by one; a ``Spec`` has an entry for every axis of every tensor input
and a layout that renders back to the nested ``dynamic_shapes`` torch reads. The traced inputs'
shapes (when known) supply the unlisted axes and are checked against every listed one; without
them every axis must be listed, with its example size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dimsolve.dims._common import key_text
from dimsolve.dims.model import DimKind, DimPath, DimSpec, InputPath, Key, LayoutNode, NodeKind, RootDim, Spec, SpecEntry
from dimsolve.dims.spec_json_fields import SpecJsonError
from dimsolve.dims.traced_inputs import TracedInputs

TOP = "dynamic_shapes"


@dataclass(frozen=True, slots=True)
class GivenDim:
    """One dim as the JSON lists it; ``where`` is its JSON path, for errors."""

    path: DimPath
    dim: DimSpec
    example: int | None
    where: str


class SpecBuilder:
    """Given dims + traced inputs -> entries in the order ``dims.parse`` gives them, and a layout."""

    def __init__(self, given: list[GivenDim], roots: dict[str, RootDim], params: tuple[str, ...] | None,
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

    def _shapes(self, given: list[GivenDim]) -> dict[InputPath, tuple[int, ...] | None]:
        if self.inputs is not None:
            shapes = dict(self.inputs.leaves)
            for g in given:
                _check_against(g, shapes)
            return shapes
        by_input: dict[InputPath, dict[int, GivenDim]] = {}
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


def _check_against(g: GivenDim, shapes: Mapping[InputPath, tuple[int, ...] | None]) -> None:
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

