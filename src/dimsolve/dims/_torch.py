"""The torch types a spec may hold, loaded lazily, and the reading of one dimension's value.

``dims`` never traces: it only looks at ``Dim`` objects and tensor shapes. torch is imported only
when it is already loaded (a spec holding a ``Dim`` or a tensor input implies it is), so parsing an
all-int spec stays cheap.
"""

from __future__ import annotations

import collections
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dimsolve.diagnostics.model import Diagnostic
from dimsolve.dims._common import ACCEPTED_DIM_VALUES, HintStyle, describe, diag, is_plain_int
from dimsolve.dims.model import AttrKey, DimKind, DimSpec, Key, RootDim


@dataclass(frozen=True, slots=True)
class TorchTypes:
    tensor: type
    module: type
    dim: type
    derived: type
    static: type
    hint: type
    int_oo: object


_TYPES: TorchTypes | None = None


def torch_types(*, load: bool = False) -> TorchTypes | None:
    """torch's spec types, or None when torch is not loaded (then no value can be a torch object)."""
    global _TYPES
    if _TYPES is None and (load or "torch" in sys.modules):
        import torch
        from torch.export.dynamic_shapes import Dim, _DerivedDim, _DimHint, _StaticDim
        from torch.utils._sympy.numbers import int_oo

        _TYPES = TorchTypes(torch.Tensor, torch.nn.Module, Dim, _DerivedDim, _StaticDim, _DimHint, int_oo)
    return _TYPES


def pytree_key(key: Any) -> Key:
    """One step of a torch pytree key path as an ``InputPath`` key: ``[0]``, ``["k"]`` or ``.field``."""
    from torch.utils._pytree import GetAttrKey, MappingKey, SequenceKey

    if isinstance(key, SequenceKey):
        return key.idx
    if isinstance(key, MappingKey):
        return key.key
    if isinstance(key, GetAttrKey):
        return AttrKey(key.name)
    return str(key)


def registered_children(value: Any) -> list[tuple[Key, Any]] | None:
    """The children of a class registered with torch's pytree (``register_dataclass``,
    ``register_pytree_node``), keyed as torch's key paths name them; None for builtin containers and
    plain objects. torch flattens such an input, and wants a *list* of its children's specs."""
    if "torch" not in sys.modules:
        return None
    from torch.utils import _pytree as pytree

    node_type = pytree._get_node_type(value)
    if node_type not in pytree.SUPPORTED_NODES or node_type in pytree.BUILTIN_TYPES:
        return None
    node = pytree.SUPPORTED_NODES[node_type]
    if node.flatten_with_keys_fn is not None:
        pairs, _ = node.flatten_with_keys_fn(value)
        return [(pytree_key(k), child) for k, child in pairs]
    children, _ = node.flatten_fn(value)
    return list(enumerate(children))


def unsupported_input(value: Any) -> bool:
    """torch.export refuses ``value`` as an input (or leaf of one): not a tensor, a plain value, an
    enum, a module or script object, nor a class registered with torch's pytree. Checked before
    tracing, since torch's own error names neither the input nor the way out."""
    if "torch" not in sys.modules or value is None:
        return False
    import enum

    import torch
    from torch.utils import _pytree as pytree

    plain = (int, float, bool, str, enum.Enum, torch.Tensor, torch.nn.Module, torch.ScriptObject)
    if isinstance(value, plain) or pytree._get_node_type(value) in pytree.SUPPORTED_NODES:
        return False
    try:
        from torch._library.opaque_object import is_opaque_value
    except ImportError:  # an older torch without opaque objects
        return True
    return not is_opaque_value(value)


def spec_tree(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """A ``dynamic_shapes`` value shaped as torch wants it for ``value``, with ``leaf(x)`` at each
    leaf: dicts and lists as themselves, a namedtuple as its own class, a registered class as a list."""
    if isinstance(value, dict):
        return {k: spec_tree(v, leaf) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):
        return type(value)(*(spec_tree(v, leaf) for v in value))
    if isinstance(value, (list, tuple, collections.deque)):
        return type(value)(spec_tree(v, leaf) for v in value)
    children = registered_children(value)
    if children is not None:
        return [spec_tree(child, leaf) for _, child in children]
    return leaf(value)


class _Unsupported(Exception):
    """A torch object whose contents dimsolve cannot read; reported as DS109 by the caller."""


@dataclass(frozen=True, slots=True)
class Reading:
    """What one per-dimension value means: a ``DimSpec`` and the named root it uses, or an error."""

    dim: DimSpec | None = None
    root: RootDim | None = None
    error: Diagnostic | None = None


def is_named_dim(value: object, types: TorchTypes | None) -> bool:
    return types is not None and isinstance(value, types.dim)


def hint_style(value: object, types: TorchTypes | None) -> HintStyle | None:
    """``Dim.AUTO(min=2)`` -> ``HintStyle("auto", 2)``; None for anything that is not a hint."""
    if types is None or not isinstance(value, types.hint):
        return None
    kind = str(getattr(getattr(value, "type", None), "name", "")).lower()
    if kind not in ("auto", "dynamic", "static"):
        return None
    low, high = getattr(value, "min", None), getattr(value, "max", None)
    if not (low is None or is_plain_int(low)) or not (high is None or is_plain_int(high)):
        return None
    return HintStyle(kind, low, high)


def read_dim(value: Any, example: int, spec_path: str, types: TorchTypes | None) -> Reading:
    """Read one entry of a per-tensor spec (``dx``, ``2*dx + 1``, ``4``, ``None``, ``Dim.AUTO``)."""
    if value is None:
        return Reading(DimSpec(DimKind.STATIC, value=example))
    if is_plain_int(value):
        return Reading(DimSpec(DimKind.STATIC, value=value))
    try:
        reading = _read_torch_dim(value, example, types)
    except _Unsupported as exc:
        reading = None
        detail = str(exc)
    else:
        detail = ""
    if reading is not None:
        return reading
    message = f"unsupported value {describe(value)} for a dimension"
    if detail:
        message += f": {detail}"
    return Reading(error=diag("DS109", message, (spec_path,), f"use {ACCEPTED_DIM_VALUES}"))


def _read_torch_dim(value: Any, example: int, types: TorchTypes | None) -> Reading | None:
    if types is None:
        return None
    if isinstance(value, types.static):
        static = getattr(value, "value", None)
        if not is_plain_int(static):
            raise _Unsupported("a static Dim without an int value")
        return Reading(DimSpec(DimKind.STATIC, value=static))
    if isinstance(value, types.derived):
        return _read_derived(value, types)
    if isinstance(value, types.dim):
        root = root_dim(value, types)
        return Reading(DimSpec(DimKind.ROOT, root=root.name), root)
    style = hint_style(value, types)
    if style is None:
        return None
    if style.kind == "static":
        return Reading(DimSpec(DimKind.STATIC, value=example))
    kind = DimKind.AUTO if style.kind == "auto" else DimKind.DYNAMIC
    return Reading(DimSpec(kind, min=style.min, max=style.max))


def _read_derived(value: Any, types: TorchTypes) -> Reading:
    from sympy import Integer  # type: ignore[import-untyped]

    root_obj = getattr(value, "root", None)
    fn = getattr(value, "fn", None)
    if not isinstance(root_obj, types.dim) or isinstance(root_obj, types.derived) or not callable(fn):
        raise _Unsupported("a derived Dim without a plain root Dim")
    try:
        at0, at1 = fn(Integer(0)), fn(Integer(1))
    except Exception as exc:  # a hand-built fn can fail in any way; report, never crash
        raise _Unsupported(f"its function cannot be evaluated ({type(exc).__name__})") from None
    offset, coeff = _exact_int(at0), _exact_int(at1) - _exact_int(at0)
    if coeff <= 0:
        raise _Unsupported("derived Dims must be increasing: A*root + B with A > 0")
    root = root_dim(root_obj, types)
    kind = DimKind.ROOT if (coeff, offset) == (1, 0) else DimKind.DERIVED
    return Reading(DimSpec(kind, root=root.name, coeff=coeff, offset=offset), root)


def root_dim(value: Any, types: TorchTypes) -> RootDim:
    name = getattr(value, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise _Unsupported("a Dim needs an identifier as its name")
    low = _bound(getattr(value, "min", 0), types)
    high = _bound(getattr(value, "max", None), types)
    if low is None:
        raise _Unsupported(f"Dim {name!r} has no finite min")
    return RootDim(name, low, high)


def _bound(value: Any, types: TorchTypes) -> int | None:
    """A Dim bound as an int; None for an unbounded max (torch's ``int_oo``)."""
    if value is None or value is types.int_oo:
        return None
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return None
    if getattr(value, "is_infinite", False) and getattr(value, "is_positive", False):
        return None
    return _exact_int(value)


def _exact_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Unsupported("a bound or offset is a bool")
    try:
        as_int = int(value)
        exact = bool(as_int == value)
    except Exception:  # sympy infinities and arbitrary objects fail in different ways
        raise _Unsupported(f"{value!r} is not an integer") from None
    if not exact:
        raise _Unsupported(f"{value!r} is not an integer")
    return as_int
