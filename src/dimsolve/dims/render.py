"""Give a ``Spec`` back to the user: as Python source (``render_python``) or torch objects (``to_torch``).

Both rebuild the user's own structure from ``Spec.layout`` (dict by name or positional tuple,
tuple/list/dict per tensor, nested containers), so a fixed spec reads like the one they wrote.
"""

from __future__ import annotations

import collections
import json
import keyword
from collections.abc import Callable
from typing import Any

from dimsolve.dims._common import HintStyle, bounds_call, decode_hint_style, root_text
from dimsolve.dims._torch import torch_types
from dimsolve.dims.model import DimKind, DimSpec, InputPath, LayoutNode, NodeKind, RootDim, Spec, SpecEntry, linear_text

_LINE = 100  # a longer assignment is split one top-level item per line


def render_python(spec: Spec, *, var_name: str = "dynamic_shapes") -> str:
    """Runnable Python that defines the root Dims and ``var_name`` in the user's structure.

    >>> print(render_python(spec))
    from torch.export import Dim
    <BLANKLINE>
    dx = Dim("dx", min=3, max=6)
    <BLANKLINE>
    dynamic_shapes = {"x": (dx, 4), "y": (2*dx, 4)}
    """
    names = _variable_names(spec.roots, reserved={"Dim", var_name})
    used: list[str] = []

    def leaf(entry: SpecEntry) -> object:
        dim = effective_dim(entry, spec.roots)
        if dim.kind is DimKind.STATIC:
            return _Code(str(dim.value))
        if dim.kind in (DimKind.AUTO, DimKind.DYNAMIC):
            return _Code(f"Dim.{dim.kind.name}" + bounds_call(dim.min, dim.max))
        root = dim.root or ""
        if root not in used:
            used.append(root)
        return _Code(linear_text(names[root], dim.coeff, dim.offset))

    tree = _Materializer(spec, leaf, lambda style: _Code(style.python())).build()
    lines = ["from torch.export import Dim", ""]
    if _holds(tree, collections.deque):
        lines.insert(0, "import collections")
    lines += [f"{names[r]} = {root_text(spec.roots[r])}" for r in used]
    if used:
        lines.append("")
    lines.append(_assignment(var_name, tree))
    return "\n".join(lines) + "\n"


def to_torch(spec: Spec) -> Any:
    """The spec as torch objects (``Dim``, derived dims, ints, None, ``Dim.AUTO``), for ``torch.export.export``."""
    types = torch_types(load=True)
    if types is None:  # pragma: no cover - load=True always imports torch
        raise RuntimeError("torch is not available")
    dim_cls: Any = types.dim
    made: dict[str, Any] = {}

    def leaf(entry: SpecEntry) -> object:
        dim = effective_dim(entry, spec.roots)
        if dim.kind is DimKind.STATIC:
            return dim.value
        if dim.kind in (DimKind.AUTO, DimKind.DYNAMIC):
            return _torch_hint(dim_cls, HintStyle(dim.kind.value, dim.min, dim.max))
        root = spec.roots[dim.root or ""]
        if root.name not in made:
            made[root.name] = dim_cls(root.name, min=root.min, max=root.max)
        value = made[root.name]
        if dim.coeff != 1:
            value = value * int(dim.coeff)
        if dim.offset != 0:
            value = value + int(dim.offset)
        return value

    return _Materializer(spec, leaf, lambda style: _torch_hint(dim_cls, style)).build()


def effective_dim(entry: SpecEntry, roots: dict[str, RootDim]) -> DimSpec:
    """The dim as torch should see it: a root whose range is one value is that value (torch has no such Dim)."""
    dim = entry.dim
    if dim.kind is DimKind.STATIC:
        return dim if dim.value is not None else DimSpec(DimKind.STATIC, value=entry.example)
    if not dim.is_named:
        return dim
    root = roots.get(dim.root or "")
    if root is None:
        raise unknown_root_error(dim.root or "", entry)
    if root.max is not None and root.min > root.max:
        raise empty_range_error(root)
    if root.max is not None and root.min == root.max:
        return DimSpec(DimKind.STATIC, value=dim.coeff * root.min + dim.offset)
    return dim


def unknown_root_error(name: str, entry: SpecEntry) -> ValueError:
    return ValueError(f"{entry.path} uses {name}, which is not among the spec's roots")


def empty_range_error(root: RootDim) -> ValueError:
    return ValueError(f"{root.name} has min {root.min} greater than its max {root.max}; it cannot be rendered")


def _torch_hint(dim_cls: Any, style: HintStyle) -> Any:
    hint = getattr(dim_cls, style.kind.upper())
    if style.min is None and style.max is None:
        return hint
    return hint(min=style.min, max=style.max)


# --- the user's structure ----------------------------------------------------------------------


class _Materializer:
    """Rebuild the layout with each tensor dimension replaced by ``leaf(entry)``."""

    def __init__(self, spec: Spec, leaf: Callable[[SpecEntry], object], hint: Callable[[HintStyle], object]):
        self.spec = spec
        self.leaf = leaf
        self.hint = hint
        self.by_input: dict[InputPath, list[SpecEntry]] = {}
        for e in sorted(spec.entries, key=lambda e: e.path.axis):
            self.by_input.setdefault(e.path.input, []).append(e)

    def build(self) -> object:
        return self.node(self.spec.layout or default_layout(self.spec))

    def node(self, n: LayoutNode) -> object:
        if n.kind is NodeKind.NONE:
            return self._none(n)
        if n.kind is NodeKind.OTHER:
            return self._scalar(n)
        if n.kind is NodeKind.TENSOR:
            return self._tensor(n)
        children = [self.node(c) for c in n.children]
        if n.kind is NodeKind.DICT:
            return dict(zip(n.keys, children))
        if n.kind is NodeKind.NAMEDTUPLE and n.container is not None:
            return n.container(*children)
        if n.kind is NodeKind.DEQUE:
            return collections.deque(children)
        return list(children) if n.kind is NodeKind.LIST else tuple(children)

    def _scalar(self, n: LayoutNode) -> object:
        """An int input's spec: its entry as a fix left it (static: None, torch takes no int there), else
        the hint as written (``Dim.STATIC``)."""
        entry = next((e for e in self.by_input.get(n.input, []) if e.path.is_scalar), None) if n.input else None
        if entry is None:
            return self.hint(decode_hint_style(n.style))
        return None if entry.dim.kind is DimKind.STATIC else self.leaf(entry)

    def _none(self, n: LayoutNode) -> object:
        if n.input is None:  # dynamic_shapes=None: keep None unless a change made something dynamic
            dynamic = any(e.dim.is_dynamic for e in self.spec.entries)
            return self.node(n.children[0]) if dynamic and n.children else None
        entries = self.by_input.get(n.input, [])
        if not any(e.dim.is_dynamic for e in entries):
            return None
        return tuple(self.leaf(e) for e in entries)

    def _tensor(self, n: LayoutNode) -> object:
        entries = self.by_input.get(n.input, []) if n.input is not None else []
        if n.style != "dict":
            values = [self.leaf(e) for e in entries]
            return values if n.style == "list" else tuple(values)
        written = [a for a in n.axes if any(e.path.axis == a for e in entries)]
        extra = [e.path.axis for e in entries if e.dim.is_dynamic and e.path.axis not in written]
        by_axis = {e.path.axis: e for e in entries}
        return {a: self.leaf(by_axis[a]) for a in written + extra}


def default_layout(spec: Spec) -> LayoutNode:
    """A layout for a hand-built ``Spec`` without one: a dict by name, tuples per tensor and nested tuple."""
    params = spec.params or tuple(dict.fromkeys(str(e.path.input.keys[0]) for e in spec.entries))
    paths = sorted({e.path.input for e in spec.entries}, key=lambda p: [str(k) for k in p.keys])
    children = tuple(_default_node((name,), paths) for name in params)
    return LayoutNode(NodeKind.DICT, keys=tuple(params), children=children)


def _default_node(prefix: tuple[Any, ...], paths: list[InputPath]) -> LayoutNode:
    if InputPath(prefix) in paths:
        return LayoutNode(NodeKind.TENSOR, style="tuple", input=InputPath(prefix))
    below = [p for p in paths if p.keys[: len(prefix)] == prefix and len(p.keys) > len(prefix)]
    if not below:
        return LayoutNode(NodeKind.NONE, input=InputPath(prefix))
    keys = tuple(dict.fromkeys(p.keys[len(prefix)] for p in below))
    kind = NodeKind.TUPLE if all(isinstance(k, int) for k in keys) else NodeKind.DICT
    return LayoutNode(kind, keys=keys, children=tuple(_default_node(prefix + (k,), below) for k in keys))


# --- Python source -----------------------------------------------------------------------------


class _Code(str):
    """A piece of source written verbatim (``dx``, ``2*dx + 1``, ``Dim.AUTO``)."""


def _variable_names(roots: dict[str, RootDim], reserved: set[str]) -> dict[str, str]:
    taken = set(reserved)
    names: dict[str, str] = {}
    for name in roots:
        if name not in taken and name.isidentifier() and not keyword.iskeyword(name):
            names[name] = name
            taken.add(name)
    for name in roots:
        if name not in names:
            var = name + "_"
            while var in taken or var in roots or keyword.iskeyword(var):
                var += "_"
            names[name] = var
            taken.add(var)
    return names


def _source(value: object) -> str:
    if isinstance(value, _Code):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_source(k)}: {_source(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_source(v) for v in value) + "]"
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):  # the user's namedtuple class, by name
        fields = ", ".join(f"{f}={_source(v)}" for f, v in zip(type(value)._fields, value))
        return f"{type(value).__name__}({fields})"
    if isinstance(value, collections.deque):
        return "collections.deque([" + ", ".join(_source(v) for v in value) + "])"
    if isinstance(value, tuple):
        return "(" + ", ".join(_source(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _holds(tree: object, kind: type) -> bool:
    if isinstance(tree, kind):
        return True
    children = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, (list, tuple)) else ()
    return any(_holds(c, kind) for c in children)


def _assignment(var_name: str, tree: object) -> str:
    line = f"{var_name} = {_source(tree)}"
    if len(line) <= _LINE or not isinstance(tree, (dict, list, tuple)) or not tree:
        return line
    if isinstance(tree, dict):
        items = [f"{_source(k)}: {_source(v)}" for k, v in tree.items()]
        opening, closing = "{", "}"
    else:
        items = [_source(v) for v in tree]
        opening, closing = ("[", "]") if isinstance(tree, list) else ("(", ")")
    body = "".join(f"    {item},\n" for item in items)
    return f"{var_name} = {opening}\n{body}{closing}"
