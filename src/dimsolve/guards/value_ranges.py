"""Value ranges of integer tensors over an ExportedProgram, as sympy bounds in the trace's symbols.

One pass over the graph bounds the values of integer tensors built from sizes (``arange``, ``+ - *``
with constants and sizes, ``cumsum`` of bounded values, comparisons, casts, views, ``clamp``,
``where``). Values of the user's integer inputs are the example's (``[0, 1]`` for a 0/1 mask),
recorded as an assumption, unless the user states a range (``stated_value_ranges``); buffers and
constants of the program are read as they are. An op this walk does not know leaves its values
unknown, never guessed: the bounds are sound, so a check built on them raises no false alarm.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy

from dimsolve.guards.fx_nodes import as_sympy, is_integral, node_shape, node_value
from dimsolve.guards.model import ValueRange

Expr = sympy.Basic

_STATED: contextvars.ContextVar[Mapping[str, tuple[int, int]]] = contextvars.ContextVar("dimsolve_value_ranges",
                                                                                         default={})


@contextlib.contextmanager
def stated_value_ranges(ranges: Mapping[str, tuple[int, int]] | None) -> Iterator[None]:
    """Value ranges the user states for integer inputs (``{"attention_mask": (0, 1)}``), used
    instead of the example's values while the block runs."""
    token = _STATED.set(dict(ranges or {}))
    try:
        yield
    finally:
        _STATED.reset(token)


@dataclass(frozen=True)
class Range:
    """The values of one integer tensor: ``lo <= v <= hi`` (None: unbounded on that side)."""

    lo: Expr | None
    hi: Expr | None
    values: frozenset[ValueRange]  # input values the bounds rely on
    source: Any  # the fx node that made the bounds depend on sizes (its line builds the index)

    def symbolic(self) -> bool:
        return any(e is not None and e.free_symbols for e in (self.lo, self.hi))


def _const(lo: Any, hi: Any, node: Any, values: frozenset[ValueRange] = frozenset()) -> Range:
    return Range(sympy.Integer(lo), sympy.Integer(hi), values, node)


_BOOL = (0, 1)


# --- interval arithmetic on sympy bounds ------------------------------------------------------------


def _add(a: Expr | None, b: Expr | None) -> Expr | None:
    return None if a is None or b is None else a + b


def _nonneg(e: Expr | None) -> bool:
    return e is not None and bool(e.is_nonnegative)


def _scale(r: Range, c: Expr, node: Any) -> Range:
    if _nonneg(c):
        lo, hi = r.lo, r.hi
    elif _nonneg(-c):
        lo, hi = r.hi, r.lo
    else:
        return Range(None, None, r.values, r.source)
    return _changed(r, None if lo is None else lo * c, None if hi is None else hi * c, r.values, node)


def _changed(old: Range | None, lo: Expr | None, hi: Expr | None, values: frozenset[ValueRange],
             node: Any) -> Range:
    """A new range computed at ``node``: ``node`` builds the index when it brings in sizes."""
    before = set() if old is None else {s for e in (old.lo, old.hi) if e is not None for s in e.free_symbols}
    after = {s for e in (lo, hi) if e is not None for s in e.free_symbols}
    source = old.source if old is not None and after <= before else node
    return Range(lo, hi, values, source)


def _union(ranges: Sequence[Range], node: Any) -> Range | None:
    if not ranges:
        return None
    los = [r.lo for r in ranges]
    his = [r.hi for r in ranges]
    lo = None if any(e is None for e in los) else sympy.Min(*los)
    hi = None if any(e is None for e in his) else sympy.Max(*his)
    values = frozenset().union(*(r.values for r in ranges))
    carrier = next((r for r in ranges if r.symbolic()), ranges[0])
    return Range(lo, hi, values, carrier.source if carrier.symbolic() else node)


# --- the transfer functions ------------------------------------------------------------------------

VIEW_OPS = frozenset({
    "view", "_unsafe_view", "reshape", "unsqueeze", "squeeze", "expand", "expand_as", "slice", "select",
    "permute", "transpose", "t", "contiguous", "clone", "flatten", "alias", "detach", "lift_fresh_copy",
    "type_as", "repeat", "narrow", "index", "gather", "index_select", "take", "flip", "roll", "movedim",
    "as_strided", "split", "split_with_sizes", "chunk", "unbind", "amax", "amin", "view_as",
    "_to_copy", "to", "_assert_tensor_metadata", "unfold", "tile", "repeat_interleave_self_int",
})
_BOOLEAN = frozenset({
    "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not", "logical_xor", "isnan",
    "isinf", "isin", "__and__", "__or__", "__xor__", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "any", "all", "isfinite",
})
_CONST = {"zeros": 0, "zeros_like": 0, "new_zeros": 0, "ones": 1, "ones_like": 1, "new_ones": 1}


class ValueWalk:
    """One pass over the graph: ``ranges`` holds the bounds of every integer tensor seen so far."""

    def __init__(self, program: Any, inputs: Sequence[Any], names: Mapping[int, str]) -> None:
        self.program = program
        self.ranges: dict[Any, Range] = {}
        self.stated = _STATED.get()
        self.inputs = self._placeholders(inputs, names)

    def _placeholders(self, inputs: Sequence[Any], names: Mapping[int, str]) -> dict[str, tuple[Any, str]]:
        """placeholder name -> (value, the user's name for it) for user inputs, buffers and constants."""
        from torch.export.graph_signature import InputKind

        sig = self.program.graph_signature
        out: dict[str, tuple[Any, str]] = {}
        user = iter(inputs)
        for spec in sig.input_specs:
            name = getattr(spec.arg, "name", None)
            if spec.kind is InputKind.USER_INPUT:
                value = next(user, None)
                if name is not None:
                    out[name] = (value, names.get(id(value), name))
            elif spec.kind in (InputKind.BUFFER, InputKind.CONSTANT_TENSOR, InputKind.PARAMETER) and name:
                target = spec.target or name
                value = self.program.state_dict.get(target)
                if value is None:
                    value = self.program.constants.get(target)
                out[name] = (value, target)
        return out

    # -- sources of values --

    def placeholder(self, node: Any) -> Range | None:
        import torch

        value, user_name = self.inputs.get(node.name, (None, node.name))
        fake = node_value(node)
        if fake is None or not is_integral(fake):
            return None
        if getattr(fake, "dtype", None) is torch.bool:
            return _const(*_BOOL, node)
        stated = self.stated.get(user_name)
        if stated is not None:
            lo, hi = stated
            return _const(lo, hi, node, frozenset({ValueRange(user_name, lo, hi, stated=True)}))
        if not isinstance(value, torch.Tensor) or value.numel() == 0 or value.is_floating_point():
            return None
        lo, hi = int(value.min()), int(value.max())
        if self._is_user_input(node.name):
            if 0 <= lo and hi <= 1:
                lo, hi = _BOOL  # a 0/1 mask: assume it may hold either
            return _const(lo, hi, node, frozenset({ValueRange(user_name, lo, hi)}))
        return _const(lo, hi, node)  # a buffer or constant: part of the program

    def _is_user_input(self, name: str) -> bool:
        return name in self.program.graph_signature.user_inputs

    def arange(self, node: Any) -> Range | None:
        args = [as_sympy(a) for a in node.args]
        if any(a is None for a in args):
            return None
        start, end, step = (sympy.Integer(0), args[0], 1) if len(args) == 1 else (args[0], args[1], 1)
        if len(args) >= 3:
            step = args[2]
        if step == 1 or _nonneg(step - 1):
            return _changed(None, start, end - 1, frozenset(), node)
        if _nonneg(-step - 1):
            return _changed(None, end + 1, start, frozenset(), node)
        return None

    # -- arithmetic --

    def _arg(self, a: Any, node: Any) -> Range | None:
        r = self.ranges.get(a) if hasattr(a, "meta") else None
        if r is not None:
            return r
        e = as_sympy(a)
        return None if e is None else Range(e, e, frozenset(), node)

    def add(self, node: Any, sign: int = 1) -> Range | None:
        a, b = (self._arg(x, node) for x in node.args[:2])
        alpha = as_sympy(node.kwargs.get("alpha", 1))
        if a is None or b is None or alpha is None:
            return None
        b = _scale(b, alpha * sign, node)
        base = a if a.symbolic() or not b.symbolic() else b
        return _changed(base, _add(a.lo, b.lo), _add(a.hi, b.hi), a.values | b.values, node)

    def rsub(self, node: Any) -> Range | None:
        a, b = (self._arg(x, node) for x in node.args[:2])
        if a is None or b is None:
            return None
        negated = _scale(a, sympy.Integer(-1), node)
        return _changed(negated, _add(b.lo, negated.lo), _add(b.hi, negated.hi), a.values | b.values, node)

    def mul(self, node: Any) -> Range | None:
        a, b = (self._arg(x, node) for x in node.args[:2])
        if a is None or b is None:
            return None
        for x, y in ((a, b), (b, a)):
            if y.lo is not None and y.lo == y.hi:
                r = _scale(x, y.lo, node)
                return _changed(x, r.lo, r.hi, a.values | b.values, node)
        if _nonneg(a.lo) and _nonneg(b.lo):
            hi = None if a.hi is None or b.hi is None else a.hi * b.hi
            base = a if a.symbolic() else b
            return _changed(base, a.lo * b.lo, hi, a.values | b.values, node)  # type: ignore[operator]
        return None

    def neg(self, node: Any) -> Range | None:
        a = self._arg(node.args[0], node)
        return None if a is None else _scale(a, sympy.Integer(-1), node)

    def cumsum(self, node: Any) -> Range | None:
        a = self._arg(node.args[0], node)
        shape = node_shape(node.args[0])
        if a is None or shape is None:
            return None
        length = shape[int(node.args[1]) % len(shape)] if shape else sympy.Integer(1)
        if _nonneg(a.lo):  # partial sums of non-negative values: at least the first, at most length*hi
            lo, hi = a.lo, None if a.hi is None else length * a.hi
        elif a.hi is not None and _nonneg(-a.hi):
            lo, hi = None if a.lo is None else length * a.lo, a.hi
        else:
            lo = None if a.lo is None else length * a.lo
            hi = None if a.hi is None else length * a.hi
        return _changed(a, lo, hi, a.values, node)

    def clamp(self, node: Any) -> Range | None:
        a = self._arg(node.args[0], node)
        if a is None:
            return None
        name = node.target.overloadpacket.__name__
        bounds = list(node.args[1:3])
        if name == "clamp_min":
            bounds = [node.args[1], None]
        elif name == "clamp_max":
            bounds = [None, node.args[1]]
        low = as_sympy(bounds[0]) if len(bounds) > 0 and bounds[0] is not None else None
        high = as_sympy(bounds[1]) if len(bounds) > 1 and bounds[1] is not None else None
        lo = a.lo if low is None else (low if a.lo is None else sympy.Max(a.lo, low))
        hi = a.hi if high is None else (high if a.hi is None else sympy.Min(a.hi, high))
        return _changed(a, lo, hi, a.values, node)

    def where(self, node: Any) -> Range | None:
        parts = [self._arg(x, node) for x in node.args[1:3]]
        return _union([p for p in parts if p is not None], node) if all(parts) else None  # type: ignore[misc]

    def masked_fill(self, node: Any) -> Range | None:
        parts = [self._arg(node.args[0], node), self._arg(node.args[2], node)]
        return _union(parts, node) if all(parts) else None  # type: ignore[arg-type]

    def cat(self, node: Any) -> Range | None:
        parts = [self._arg(x, node) for x in node.args[0]]
        return _union(parts, node) if all(parts) else None  # type: ignore[arg-type]

    def full(self, node: Any) -> Range | None:
        fill = as_sympy(node.args[1] if len(node.args) > 1 else node.kwargs.get("fill_value"))
        return None if fill is None else Range(fill, fill, frozenset(), node)

    def remainder(self, node: Any) -> Range | None:
        c = as_sympy(node.args[1])
        if c is None or not _nonneg(c - 1):
            return None
        return Range(sympy.Integer(0), c - 1, frozenset(), node)

    def transfer(self, node: Any) -> Range | None:
        if node.op == "placeholder":
            return self.placeholder(node)
        if node.op != "call_function":
            return None
        if node.target is operator.getitem:
            return self.ranges.get(node.args[0])
        value = node_value(node)
        if not is_integral(value if not isinstance(value, (list, tuple)) else (value[0] if value else None)):
            return None
        name = getattr(getattr(node.target, "overloadpacket", None), "__name__", "")
        name = name.rstrip("_") if name not in ("__and__", "__or__", "__xor__") else name
        import torch

        if name in _BOOLEAN or getattr(value, "dtype", None) is torch.bool:
            return _const(*_BOOL, node)
        handler = _HANDLERS.get(name)
        if handler is not None:
            return handler(self, node)
        if name in _CONST:
            return _const(_CONST[name], _CONST[name], node)
        if name in VIEW_OPS and node.args and hasattr(node.args[0], "meta"):
            source = self.ranges.get(node.args[0])
            return source if is_integral(node_value(node.args[0])) else None
        return None


_HANDLERS: dict[str, Callable[[ValueWalk, Any], Range | None]] = {
    "arange": ValueWalk.arange, "add": ValueWalk.add, "sub": lambda w, n: w.add(n, -1), "rsub": ValueWalk.rsub,
    "mul": ValueWalk.mul, "neg": ValueWalk.neg, "cumsum": ValueWalk.cumsum, "clamp": ValueWalk.clamp, "clamp_min": ValueWalk.clamp,
    "clamp_max": ValueWalk.clamp, "clip": ValueWalk.clamp, "where": ValueWalk.where, "masked_fill": ValueWalk.masked_fill,
    "cat": ValueWalk.cat, "stack": ValueWalk.cat, "full": ValueWalk.full, "full_like": ValueWalk.full, "new_full": ValueWalk.full,
    "fill": ValueWalk.full, "remainder": ValueWalk.remainder,
}


def value_ranges(program: Any, inputs: Sequence[Any] = (), names: Mapping[int, str] | None = None
                 ) -> dict[str, tuple[Expr | None, Expr | None]]:
    """``(lower, upper)`` of every integer tensor of ``program`` the walk bounds, by node name.

    >>> value_ranges(torch.export.export(Arange(), (x,), dynamic_shapes=...))["arange"]   # doctest: +SKIP
    (0, s77 - 1)
    """
    walk = ValueWalk(program, inputs, names or {})
    for node in program.graph.nodes:
        r = walk.transfer(node)
        if r is not None:
            walk.ranges[node] = r
    return {node.name: (r.lo, r.hi) for node, r in walk.ranges.items()}
