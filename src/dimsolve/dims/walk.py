"""Walk one example input and its part of the spec together: containers, tensors, dimensions.

The walker collects a ``SpecEntry`` per tensor dimension, the root Dims it meets (one definition
per name, as torch requires) and DS1xx diagnostics, all of them, never raising: ``parse`` matches
the top level of the spec to ``forward``'s inputs and hands each input here.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import Any

from dimsolve.diagnostics.model import Diagnostic
from dimsolve.dims._common import describe, diag, is_plain_int, root_text, sub_path
from dimsolve.dims._torch import TorchTypes, hint_style, read_dim, registered_children, unsupported_input
from dimsolve.dims.model import (SCALAR_AXIS, AttrKey, DimKind, DimPath, DimSpec, InputPath, Key, LayoutNode, NodeKind,
                                  RootDim, SpecEntry)

TOP = "dynamic_shapes"


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


@dataclass(frozen=True)
class _Shape:
    """What spec a positional container takes: ``what`` the input is, the ``wanted`` spec, its test."""

    what: str
    wanted: str
    accepts: Callable[[Any], bool]
    kind: NodeKind


class _Unspecified:
    """No spec was written here (a missing key, or ``dynamic_shapes=None``): static, not an error."""


UNSPECIFIED = _Unspecified()


class SpecWalker:
    """Walk one input and its spec together, collecting entries, roots and diagnostics."""

    def __init__(self, types: TorchTypes | None):
        self.types = types
        self.entries: list[SpecEntry] = []
        self.diags: list[Diagnostic] = []
        self.roots: dict[str, RootDim] = {}
        self._root_paths: dict[str, str] = {}
        self._conflicts: set[RootDim] = set()

    def error(self, code_id: str, message: str, paths: tuple[str, ...], help_text: str) -> None:
        self.diags.append(diag(code_id, message, paths, help_text))

    def walk(self, value: Any, spec: Any, ipath: InputPath, spath: str) -> LayoutNode:
        if self.types is not None and isinstance(value, self.types.tensor):
            return self._tensor(value, spec, ipath, spath)
        if isinstance(value, dict):
            return self._mapping(value, spec, ipath, spath)
        if _is_namedtuple(value):  # torch takes the same namedtuple class, nothing else
            fields = [(AttrKey(f), getattr(value, f)) for f in type(value)._fields]
            name = type(value).__name__
            return self._sequence(fields, spec, ipath, spath, _Shape(
                f"a {name} (namedtuple)", f"{name}(...)", lambda s: type(s) is type(value), NodeKind.NAMEDTUPLE),
                container=type(value))
        if isinstance(value, (list, tuple, collections.deque)):
            kind = NodeKind.LIST if isinstance(value, list) else NodeKind.TUPLE
            if isinstance(value, collections.deque):
                kind = NodeKind.DEQUE
            spec_type = {NodeKind.LIST: list, NodeKind.TUPLE: tuple, NodeKind.DEQUE: collections.deque}[kind]
            shape = _Shape(f"a {kind.value}", f"a {kind.value}", lambda s: type(s) is spec_type
                           or (kind is NodeKind.TUPLE and isinstance(s, tuple) and not _is_namedtuple(s)), kind)
            return self._sequence(list(enumerate(value)), spec, ipath, spath, shape)
        children = registered_children(value)
        if children is not None:  # a dataclass torch knows: a list, one spec per field in torch's order
            names = ", ".join(str(k) for k, _ in children)
            shape = _Shape(f"a {type(value).__name__} (flattened by torch to [{names}])", f"a list [{names}]",
                           lambda s: type(s) is list, NodeKind.LIST)
            return self._sequence(children, spec, ipath, spath, shape)
        if unsupported_input(value):
            return self._unsupported(value, ipath, spath)
        return self._leaf(value, spec, ipath, spath)

    # --- containers ----------------------------------------------------------------------------

    def _sequence(self, items: list[tuple[Key, Any]], spec: Any, ipath: InputPath, spath: str, shape: "_Shape",
                  container: Any = None) -> LayoutNode:
        """A container whose spec gives its children by position (list, tuple, namedtuple, deque, dataclass)."""
        n = len(items)
        if spec is not UNSPECIFIED and not shape.accepts(spec):
            self.error(
                "DS109",
                f"{spath} is {describe(spec)}, but {ipath} is {shape.what} of {n} elements",
                (spath,),
                f"give {shape.wanted} with one spec per element of {ipath} ({n} entries)",
            )
            spec = spec if isinstance(spec, (list, tuple, collections.deque)) else UNSPECIFIED
        if spec is not UNSPECIFIED and len(spec) != n:
            self.error(
                "DS101",
                f"{spath} has {len(spec)} entries but {ipath} has {n} elements",
                (spath,),
                f"give one spec per element of {ipath}",
            )
        given = list(spec) if spec is not UNSPECIFIED else []
        children = []
        for i, (key, item) in enumerate(items):
            child = given[i] if i < len(given) else UNSPECIFIED
            children.append(self.walk(item, child, InputPath(ipath.keys + (key,)), sub_path(spath, i)))
        return LayoutNode(shape.kind, keys=tuple(k for k, _ in items), children=tuple(children), container=container)

    def _mapping(self, value: dict[Any, Any], spec: Any, ipath: InputPath, spath: str) -> LayoutNode:
        if spec is not UNSPECIFIED and not isinstance(spec, dict):
            self.error(
                "DS109",
                f"{spath} is {describe(spec)}, but {ipath} is a dict with keys {list(value)}",
                (spath,),
                f"give a dict with one spec per key of {ipath}",
            )
            spec = UNSPECIFIED
        given: dict[Any, Any] = {} if spec is UNSPECIFIED else spec
        if spec is not UNSPECIFIED:
            self._check_dict_keys(value, given, ipath, spath)
        nodes = {
            k: self.walk(v, given.get(k, UNSPECIFIED), InputPath(ipath.keys + (k,)), sub_path(spath, k))
            for k, v in value.items()
        }
        keys = [k for k in given if k in nodes] + [k for k in value if k not in given]
        return LayoutNode(NodeKind.DICT, keys=tuple(keys), children=tuple(nodes[k] for k in keys))

    def _check_dict_keys(self, value: dict[Any, Any], spec: dict[Any, Any], ipath: InputPath, spath: str) -> None:
        valid = ", ".join(repr(k) for k in value)
        for key in spec:
            if key not in value:
                message = f"{spath} has key {key!r}, which {ipath} does not have"
                self.error("DS101", message, (sub_path(spath, key),), f"use the keys of {ipath}: {valid}")
        for key in value:
            if key not in spec:
                message = f"{spath} has no entry for key {key!r} of {ipath}"
                self.error("DS101", message, (sub_path(spath, key),), f"add {key!r}: None (static) or a spec for it")

    def _unsupported(self, value: Any, ipath: InputPath, spath: str) -> LayoutNode:
        cls = type(value)
        how = (f"register {cls.__name__} with torch.export.register_dataclass (a dataclass) or "
               f"torch.utils._pytree.register_pytree_node, or pass its tensors instead")
        if cls.__module__.startswith("transformers.") and "Cache" in cls.__name__:
            how = ("call transformers.integrations.executorch.register_dynamic_cache_export_support() before "
                   "exporting (it registers the cache with torch's pytree), then give its spec as a list")
        message = f"{ipath} is a {cls.__name__}, which torch.export cannot take as an input"
        self.error("DS110", message, (spath,), how)
        return LayoutNode(NodeKind.NONE, input=ipath)

    def _leaf(self, value: Any, spec: Any, ipath: InputPath, spath: str) -> LayoutNode:
        if spec is UNSPECIFIED or spec is None:
            return LayoutNode(NodeKind.NONE, input=ipath)
        is_int = is_plain_int(value)
        style = hint_style(spec, self.types) if is_int else None
        if style is not None:
            if style.kind != "static":  # torch makes the int a symbol: one more dimension of the spec
                kind = DimKind.AUTO if style.kind == "auto" else DimKind.DYNAMIC
                dim = DimSpec(kind, min=style.min, max=style.max)
                self.entries.append(SpecEntry(DimPath(ipath, SCALAR_AXIS), spath, dim, value))
            return LayoutNode(NodeKind.OTHER, style=style.encode(), input=ipath)
        if is_int:
            what = f"an int ({value})"
            hint = "use None (static) or Dim.AUTO / Dim.DYNAMIC for an int input; named Dims describe tensor dimensions"
        else:
            what, hint = f"a {type(value).__name__}", "use None: only tensors take a shape spec"
        message = f"{spath} gives {describe(spec)} for {ipath}, which is {what}, not a tensor"
        self.error("DS103", message, (spath,), hint)
        return LayoutNode(NodeKind.NONE, input=ipath)

    # --- tensors --------------------------------------------------------------------------------

    def _tensor(self, value: Any, spec: Any, ipath: InputPath, spath: str) -> LayoutNode:
        shape = tuple(int(s) for s in value.shape)
        if isinstance(spec, (tuple, list)):
            return self._tensor_sequence(shape, spec, ipath, spath)
        if isinstance(spec, dict):
            return self._tensor_dict(shape, spec, ipath, spath)
        if spec is not UNSPECIFIED and spec is not None:
            example = "(" + ", ".join("None" for _ in shape) + ("," if len(shape) == 1 else "") + ")"
            self.error(
                "DS109",
                f"{spath} is {describe(spec)}, but {ipath} is a tensor of shape {shape}",
                (spath,),
                f"give one entry per dimension, e.g. {example} with a Dim where the size varies",
            )
        for axis, size in enumerate(shape):
            self._dim(ipath, axis, sub_path(spath, axis), None, size)
        return LayoutNode(NodeKind.NONE, input=ipath)

    def _tensor_sequence(self, shape: tuple[int, ...], spec: Sequence[Any], ipath: InputPath, spath: str) -> LayoutNode:
        if len(spec) != len(shape):
            self.error(
                "DS102",
                f"{spath} has {len(spec)} entries but {ipath} has rank {len(shape)} (shape {shape})",
                (spath,),
                f"give one entry per dimension of {ipath} ({len(shape)})",
            )
        for axis, size in enumerate(shape):
            self._dim(ipath, axis, sub_path(spath, axis), spec[axis] if axis < len(spec) else None, size)
        style = "list" if isinstance(spec, list) else "tuple"
        return LayoutNode(NodeKind.TENSOR, style=style, axes=tuple(range(len(shape))), input=ipath)

    def _tensor_dict(self, shape: tuple[int, ...], spec: dict[Any, Any], ipath: InputPath, spath: str) -> LayoutNode:
        rank = len(shape)
        given: dict[int, tuple[Any, str]] = {}
        for key, dim in spec.items():
            kpath = sub_path(spath, key)
            axes = f"0 to {rank - 1}"
            if not is_plain_int(key):
                message = f"axis key {describe(key)} in {spath} is not an int"
                self.error("DS109", message, (kpath,), f"key dimensions by index, {axes}")
            elif -rank <= key < 0:
                # torch marks the tensor with the negative index but looks ranges up by the positive one:
                # Dim.AUTO silently becomes static and derived dims crash
                message = f"{spath} uses the negative axis {key}, which torch does not handle consistently"
                self.error("DS102", message, (kpath,), f"write {key + rank} instead of {key}")
            elif not 0 <= key < rank:
                message = f"{spath} has axis {key} but {ipath} has rank {rank} (shape {shape})"
                self.error("DS102", message, (kpath,), f"use axes {axes}")
            else:
                given[key] = (dim, kpath)
        for axis, size in enumerate(shape):
            dim, path = given.get(axis, (None, sub_path(spath, axis)))
            self._dim(ipath, axis, path, dim, size)
        return LayoutNode(NodeKind.TENSOR, style="dict", axes=tuple(given), input=ipath)

    def _dim(self, ipath: InputPath, axis: int, spath: str, value: Any, example: int) -> None:
        reading = read_dim(value, example, spath, self.types)
        dim = reading.dim
        if reading.error is not None or dim is None:
            if reading.error is not None:
                self.diags.append(reading.error)
            dim = DimSpec(DimKind.STATIC, value=example)
        if reading.root is not None:
            self._register_root(reading.root, spath)
        self.entries.append(SpecEntry(DimPath(ipath, axis), spath, dim, example))

    def _register_root(self, root: RootDim, spath: str) -> None:
        known = self.roots.get(root.name)
        if known is None:
            self.roots[root.name] = root
            self._root_paths[root.name] = spath
        elif known != root and root not in self._conflicts:
            self._conflicts.add(root)
            self.error(
                "DS107",
                f"two different Dims are named {root.name}: {root_text(known)} at {self._root_paths[root.name]} "
                f"and {root_text(root)} at {spath}",
                (spath, self._root_paths[root.name]),
                f"define {root.name} once and reuse it, or give the second Dim another name",
            )
