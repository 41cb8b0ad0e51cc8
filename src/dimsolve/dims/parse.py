"""Parse a user's ``dynamic_shapes`` (every form ``torch.export.export`` accepts) into a ``Spec``.

Errors are returned as DS1xx diagnostics, all of them, never raised. The forms follow torch 2.13:

- ``None`` or an empty dict/tuple: every dimension is static;
- a dict keyed by the names of the *passed* inputs (torch requires exactly those keys);
- a tuple/list with one entry per passed input, in signature order (keywords included);
- per input: a tuple/list with one entry per tensor dimension, a dict ``{axis: dim}``, ``None``,
  or, for list/tuple/dict inputs, the same container of per-element specs.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dimsolve.diagnostics.model import Diagnostic
from dimsolve.dims._common import describe, diag, is_plain_int, root_text, sub_path
from dimsolve.dims._torch import TorchTypes, hint_style, read_dim, torch_types
from dimsolve.dims.check import check_entries
from dimsolve.dims.model import (SCALAR_AXIS, DimKind, DimPath, DimSpec, InputPath, LayoutNode, NodeKind, RootDim,
                                  Spec, SpecEntry)

TOP = "dynamic_shapes"
MAX_DEPTH = 64  # container levels in a spec or an input; deeper ones are refused before any walk recurses


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A parsed spec, or None with the DS1xx diagnostics that explain why it is not valid."""

    spec: Spec | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.spec is not None


class _Unspecified:
    """No spec was written here (a missing key, or ``dynamic_shapes=None``): static, not an error."""


_UNSPECIFIED = _Unspecified()


def parse_spec(
    signature_or_callable: Any,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any] | None = None,
    dynamic_shapes: Any = None,
) -> ParseResult:
    """Parse ``dynamic_shapes`` against the example inputs of a model, function or signature.

    >>> dx = Dim("dx", min=3, max=6)
    >>> parse_spec(model, (x, y), None, {"x": (dx, None), "y": (2 * dx, None)}).spec.roots
    {'dx': RootDim(name='dx', min=3, max=6)}
    """
    types = torch_types()
    kwargs = dict(kwargs or {})
    bound = _bind(signature_or_callable, args, kwargs, types)
    if isinstance(bound, Diagnostic):
        return ParseResult(None, (bound,))
    inputs, params, var_keyword = bound
    deep = _too_deep(dynamic_shapes, inputs)
    if deep is not None:
        return ParseResult(None, (deep,))
    walker = _Walker(types)
    top = _TopLevel(walker, inputs, params, kwargs)
    layout = top.parse(dynamic_shapes)
    if var_keyword in inputs and layout.kind is not NodeKind.NONE:
        top.var_keyword_error(var_keyword, by_name=layout.kind is NodeKind.DICT)
    found = walker.diags + check_entries(walker.entries, walker.roots)
    if found:
        return ParseResult(None, tuple(found))
    spec = Spec(tuple(walker.entries), dict(walker.roots), layout, tuple(inputs))
    return ParseResult(spec, ())


def _depth_over(value: Any, limit: int) -> bool:
    """Whether tuples, lists and dicts nest more than ``limit`` levels in ``value`` (no recursion;
    shared or self-referencing containers are walked once per depth they are reached at)."""
    stack = [(value, 1)]
    seen: dict[int, int] = {}
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (tuple, list, dict)):
            continue
        if depth > limit:
            return True
        if seen.get(id(item), 0) >= depth:
            continue
        seen[id(item)] = depth
        stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _too_deep(spec: Any, inputs: dict[str, Any]) -> Diagnostic | None:
    """DS109 for a spec, DS101 for example inputs, nested deeper than ``MAX_DEPTH`` containers."""
    for name, value in inputs.items():
        if _depth_over(value, MAX_DEPTH):
            return diag("DS101", f"input {name} nests containers more than {MAX_DEPTH} levels deep",
                        (sub_path(TOP, name),), "pass example inputs that torch.export can flatten: "
                        f"at most {MAX_DEPTH} levels of tuples, lists and dicts")
    entries = spec.items() if isinstance(spec, dict) else enumerate(spec) if isinstance(spec, (tuple, list)) else ()
    for key, value in entries:
        if _depth_over(value, MAX_DEPTH - 1):
            return diag("DS109", f"{sub_path(TOP, key)} nests containers more than {MAX_DEPTH} levels deep",
                        (sub_path(TOP, key),), "a spec follows its input's structure: one tuple, list or dict "
                        "per container level of the input, then one entry per tensor dimension")
    return None


def _bind(
    target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], types: TorchTypes | None
) -> tuple[dict[str, Any], tuple[str, ...], str | None] | Diagnostic:
    """Combine args and kwargs by ``forward``'s signature, as torch does."""
    try:
        if isinstance(target, inspect.Signature):
            sig = target
        elif types is not None and isinstance(target, types.module):
            sig = inspect.signature(getattr(target, "forward"))
        else:
            sig = inspect.signature(target)
        arguments = sig.bind(*args, **kwargs).arguments
    except (TypeError, ValueError) as exc:
        return diag(
            "DS101",
            f"the example inputs do not match the signature of forward: {exc}",
            (TOP,),
            "pass args and kwargs that forward accepts",
        )
    var_keyword = next((p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD), None)
    return dict(arguments), tuple(sig.parameters), var_keyword


class _TopLevel:
    """Match the top level of the spec to forward's inputs."""

    def __init__(self, walker: _Walker, inputs: dict[str, Any], params: tuple[str, ...], kwargs: dict[str, Any]):
        self.w = walker
        self.inputs = inputs
        self.names = list(inputs)
        self.params = params
        self.kwargs = kwargs

    def parse(self, spec: Any) -> LayoutNode:
        if spec is None or (isinstance(spec, (dict, tuple, list)) and len(spec) == 0):
            return LayoutNode(NodeKind.NONE, children=(self._by_name({}),))
        if isinstance(spec, dict):
            self._check_keys(spec)
            return self._by_name(spec)
        if isinstance(spec, (tuple, list)):
            return self._by_position(spec)
        self.w.error(
            "DS109",
            f"dynamic_shapes is {describe(spec)}",
            (TOP,),
            "give a dict keyed by forward's parameter names, a tuple with one entry per input, or None",
        )
        return LayoutNode(NodeKind.NONE, children=(self._by_name({}),))

    def var_keyword_error(self, name: str, *, by_name: bool) -> None:
        # torch 2.13 fails inside export (an internal AssertionError) for any such spec, even all-None
        where = sub_path(TOP, name if by_name else self.names.index(name))
        self.w.error(
            "DS101",
            f"forward takes **{name} and torch cannot match a dynamic_shapes spec to those inputs",
            (where,),
            f"make the inputs in **{name} named parameters of forward, or pass dynamic_shapes=None",
        )

    def _by_name(self, spec: dict[Any, Any]) -> LayoutNode:
        nodes = {
            n: self.w.walk(v, spec.get(n, _UNSPECIFIED), InputPath((n,)), sub_path(TOP, n)) for n, v in self.inputs.items()
        }
        keys = [k for k in spec if k in nodes] + [n for n in self.names if n not in spec]
        return LayoutNode(NodeKind.DICT, keys=tuple(keys), children=tuple(nodes[k] for k in keys))

    def _check_keys(self, spec: dict[Any, Any]) -> None:
        valid = ", ".join(self.names)
        for key in spec:
            if key in self.inputs:
                continue
            if key in self.params:
                message = f"dynamic_shapes has key {key!r}, but {key} is not passed in the example inputs"
                hint = f"remove it: torch only accepts keys for the inputs that are passed ({valid})"
            else:
                message = f"dynamic_shapes has key {key!r}, which is not an input of forward"
                hint = f"use the names of forward's inputs: {valid}" + self._wrap_hint(spec)
            self.w.error("DS101", message, (sub_path(TOP, key),), hint)
        for name in self.names:
            if name not in spec:
                self.w.error(
                    "DS101",
                    f"dynamic_shapes has no entry for input {name!r}",
                    (sub_path(TOP, name),),
                    f'add "{name}": None (static) or a spec for it; torch needs a key for every input ({valid})',
                )

    def _wrap_hint(self, spec: dict[Any, Any]) -> str:
        if len(self.names) == 1 and isinstance(self.inputs[self.names[0]], dict):
            if set(spec) == set(self.inputs[self.names[0]]):
                return f' (it looks like the spec of {self.names[0]}: wrap it as {{"{self.names[0]}": {{...}}}})'
        return ""

    def _by_position(self, spec: Sequence[Any]) -> LayoutNode:
        shown = ", ".join(self.names)
        for i in range(len(self.names), len(spec)):
            self.w.error(
                "DS101",
                f"dynamic_shapes[{i}] has no matching input: forward takes {len(self.names)} inputs ({shown})",
                (sub_path(TOP, i),),
                "remove it, or key the spec by input name",
            )
        if len(spec) < len(self.names):
            self.w.error(
                "DS101",
                f"dynamic_shapes has {len(spec)} entries but forward takes {len(self.names)} inputs ({shown})",
                (TOP,),
                "give one entry per input in signature order (None for a static one), or key the spec by name",
            )
        self._check_kwarg_order()
        children = []
        for i, name in enumerate(self.names):
            child = spec[i] if i < len(spec) else _UNSPECIFIED
            children.append(self.w.walk(self.inputs[name], child, InputPath((name,)), sub_path(TOP, i)))
        kind = NodeKind.LIST if isinstance(spec, list) else NodeKind.TUPLE
        return LayoutNode(kind, keys=tuple(range(len(self.names))), children=tuple(children))

    def _check_kwarg_order(self) -> None:
        # torch checks a positional spec against signature order but builds ranges in call order
        passed = [k for k in self.kwargs if k in self.inputs]
        ordered = [k for k in self.inputs if k in passed]
        if passed != ordered:
            self.w.error(
                "DS101",
                f"keyword inputs are passed as ({', '.join(passed)}) but a positional dynamic_shapes follows "
                f"signature order ({', '.join(ordered)}); torch mixes the two up",
                (TOP,),
                "key dynamic_shapes by input name, or pass the keyword inputs in signature order",
            )


class _Walker:
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
        if isinstance(value, (list, tuple)):
            return self._sequence(value, spec, ipath, spath)
        return self._leaf(value, spec, ipath, spath)

    # --- containers ----------------------------------------------------------------------------

    def _sequence(self, value: Sequence[Any], spec: Any, ipath: InputPath, spath: str) -> LayoutNode:
        is_list = isinstance(value, list)
        kind_name = "list" if is_list else "tuple"
        if spec is not _UNSPECIFIED:
            if not isinstance(spec, (list, tuple)) or isinstance(spec, list) != is_list:
                self.error(
                    "DS109",
                    f"{spath} is {describe(spec)}, but {ipath} is a {kind_name} of {len(value)} elements",
                    (spath,),
                    f"give a {kind_name} with one spec per element of {ipath} ({len(value)} entries)",
                )
                spec = spec if isinstance(spec, (list, tuple)) else _UNSPECIFIED
        if spec is not _UNSPECIFIED and len(spec) != len(value):
            self.error(
                "DS101",
                f"{spath} has {len(spec)} entries but {ipath} has {len(value)} elements",
                (spath,),
                f"give one spec per element of {ipath}",
            )
        children = []
        for i, item in enumerate(value):
            child = spec[i] if spec is not _UNSPECIFIED and i < len(spec) else _UNSPECIFIED
            children.append(self.walk(item, child, InputPath(ipath.keys + (i,)), sub_path(spath, i)))
        kind = NodeKind.LIST if is_list else NodeKind.TUPLE
        return LayoutNode(kind, keys=tuple(range(len(value))), children=tuple(children))

    def _mapping(self, value: dict[Any, Any], spec: Any, ipath: InputPath, spath: str) -> LayoutNode:
        if spec is not _UNSPECIFIED and not isinstance(spec, dict):
            self.error(
                "DS109",
                f"{spath} is {describe(spec)}, but {ipath} is a dict with keys {list(value)}",
                (spath,),
                f"give a dict with one spec per key of {ipath}",
            )
            spec = _UNSPECIFIED
        given: dict[Any, Any] = {} if spec is _UNSPECIFIED else spec
        if spec is not _UNSPECIFIED:
            self._check_dict_keys(value, given, ipath, spath)
        nodes = {
            k: self.walk(v, given.get(k, _UNSPECIFIED), InputPath(ipath.keys + (k,)), sub_path(spath, k))
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

    def _leaf(self, value: Any, spec: Any, ipath: InputPath, spath: str) -> LayoutNode:
        if spec is _UNSPECIFIED or spec is None:
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
        if spec is not _UNSPECIFIED and spec is not None:
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
