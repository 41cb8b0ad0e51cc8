"""Index bounds: value ranges of integer tensors over an ExportedProgram, checked where they index.

No shape guard stops a position index from running past its table: GPT-2's ``arange(seq)`` into a
64-row ``wpe`` exports for any ``seq`` and raises IndexError at run time. This module walks the
exported graph once, bounding the values of integer tensors built from sizes (``arange``, ``+ - *``
with constants and sizes, ``cumsum`` of bounded values, comparisons, casts, views, ``clamp``,
``where``) by sympy expressions in the trace's own symbols, and turns every ``embedding``,
``index_select``, ``gather``, ``take``, advanced ``index`` and ``scatter`` whose bounds depend on a
size into ``INDEX_BOUND`` guards for the solver.

Values of the user's integer inputs are the example's (``[0, 1]`` for a 0/1 mask), recorded on the
guard as an assumption, unless the user states a range (``stated_value_ranges``). Buffers and
constants of the program are read as they are. A bound that depends on no size gives no guard: no
spec can change it, so it is no spec's finding.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import operator
import re
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy

from dimsolve.diagnostics.model import SourceLocation
from dimsolve.guards.model import GuardKind, GuardRecord, IndexDetail, ValueRange

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
class _Range:
    """The values of one integer tensor: ``lo <= v <= hi`` (None: unbounded on that side)."""

    lo: Expr | None
    hi: Expr | None
    values: frozenset[ValueRange]  # input values the bounds rely on
    source: Any  # the fx node that made the bounds depend on sizes (its line builds the index)

    def symbolic(self) -> bool:
        return any(e is not None and e.free_symbols for e in (self.lo, self.hi))


def _const(lo: Any, hi: Any, node: Any, values: frozenset[ValueRange] = frozenset()) -> _Range:
    return _Range(sympy.Integer(lo), sympy.Integer(hi), values, node)


_BOOL = (0, 1)


# --- reading the graph ----------------------------------------------------------------------------


def _val(node: Any) -> Any:
    return node.meta.get("val") if hasattr(node, "meta") else None


def _is_integral(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)
    return dtype is not None and not dtype.is_floating_point and not dtype.is_complex


def _expr(value: Any) -> Expr | None:
    """A size or scalar as sympy: an int, a SymInt, or an fx node holding one."""
    import torch

    if hasattr(value, "meta"):
        value = _val(value)
    if isinstance(value, bool):
        return sympy.Integer(int(value))
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, torch.SymInt):
        return value.node.expr
    return None


def _shape(node: Any) -> tuple[Expr, ...] | None:
    value = _val(node)
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    dims = tuple(_expr(d) for d in shape)
    return None if any(d is None for d in dims) else dims  # type: ignore[return-value]


@functools.lru_cache(maxsize=4096)
def _location(stack_trace: str) -> SourceLocation | None:
    """The user's line in an fx node's ``stack_trace`` (the innermost frame outside torch)."""
    from dimsolve.guards.capture import user_location

    frames = [traceback.FrameSummary(f, int(line), name, lookup_line=False, line=code.strip())
              for f, line, name, code in re.findall(r'File "([^"]+)", line (\d+), in (\S+)\n([^\n]*)', stack_trace)]
    return user_location(frames) if frames else None


def _where(node: Any) -> SourceLocation | None:
    trace = node.meta.get("stack_trace") if node is not None and hasattr(node, "meta") else None
    return _location(trace) if trace else None


# --- interval arithmetic on sympy bounds ------------------------------------------------------------


def _add(a: Expr | None, b: Expr | None) -> Expr | None:
    return None if a is None or b is None else a + b


def _nonneg(e: Expr | None) -> bool:
    return e is not None and bool(e.is_nonnegative)


def _scale(r: _Range, c: Expr, node: Any) -> _Range:
    if _nonneg(c):
        lo, hi = r.lo, r.hi
    elif _nonneg(-c):
        lo, hi = r.hi, r.lo
    else:
        return _Range(None, None, r.values, r.source)
    return _changed(r, None if lo is None else lo * c, None if hi is None else hi * c, r.values, node)


def _changed(old: _Range | None, lo: Expr | None, hi: Expr | None, values: frozenset[ValueRange],
             node: Any) -> _Range:
    """A new range computed at ``node``: ``node`` builds the index when it brings in sizes."""
    before = set() if old is None else {s for e in (old.lo, old.hi) if e is not None for s in e.free_symbols}
    after = {s for e in (lo, hi) if e is not None for s in e.free_symbols}
    source = old.source if old is not None and after <= before else node
    return _Range(lo, hi, values, source)


def _union(ranges: Sequence[_Range], node: Any) -> _Range | None:
    if not ranges:
        return None
    los = [r.lo for r in ranges]
    his = [r.hi for r in ranges]
    lo = None if any(e is None for e in los) else sympy.Min(*los)
    hi = None if any(e is None for e in his) else sympy.Max(*his)
    values = frozenset().union(*(r.values for r in ranges))
    carrier = next((r for r in ranges if r.symbolic()), ranges[0])
    return _Range(lo, hi, values, carrier.source if carrier.symbolic() else node)


# --- the transfer functions ------------------------------------------------------------------------

_SAME = frozenset({
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


class _Walk:
    """One pass over the graph: ``ranges`` holds the bounds of every integer tensor seen so far."""

    def __init__(self, program: Any, inputs: Sequence[Any], names: Mapping[int, str]) -> None:
        self.program = program
        self.ranges: dict[Any, _Range] = {}
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

    def placeholder(self, node: Any) -> _Range | None:
        import torch

        value, user_name = self.inputs.get(node.name, (None, node.name))
        fake = _val(node)
        if fake is None or not _is_integral(fake):
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

    def arange(self, node: Any) -> _Range | None:
        args = [_expr(a) for a in node.args]
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

    def _arg(self, a: Any, node: Any) -> _Range | None:
        r = self.ranges.get(a) if hasattr(a, "meta") else None
        if r is not None:
            return r
        e = _expr(a)
        return None if e is None else _Range(e, e, frozenset(), node)

    def add(self, node: Any, sign: int = 1) -> _Range | None:
        a, b = (self._arg(x, node) for x in node.args[:2])
        alpha = _expr(node.kwargs.get("alpha", 1))
        if a is None or b is None or alpha is None:
            return None
        b = _scale(b, alpha * sign, node)
        base = a if a.symbolic() or not b.symbolic() else b
        return _changed(base, _add(a.lo, b.lo), _add(a.hi, b.hi), a.values | b.values, node)

    def rsub(self, node: Any) -> _Range | None:
        a, b = (self._arg(x, node) for x in node.args[:2])
        if a is None or b is None:
            return None
        negated = _scale(a, sympy.Integer(-1), node)
        return _changed(negated, _add(b.lo, negated.lo), _add(b.hi, negated.hi), a.values | b.values, node)

    def mul(self, node: Any) -> _Range | None:
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

    def neg(self, node: Any) -> _Range | None:
        a = self._arg(node.args[0], node)
        return None if a is None else _scale(a, sympy.Integer(-1), node)

    def cumsum(self, node: Any) -> _Range | None:
        a = self._arg(node.args[0], node)
        shape = _shape(node.args[0])
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

    def clamp(self, node: Any) -> _Range | None:
        a = self._arg(node.args[0], node)
        if a is None:
            return None
        name = node.target.overloadpacket.__name__
        bounds = list(node.args[1:3])
        if name == "clamp_min":
            bounds = [node.args[1], None]
        elif name == "clamp_max":
            bounds = [None, node.args[1]]
        low = _expr(bounds[0]) if len(bounds) > 0 and bounds[0] is not None else None
        high = _expr(bounds[1]) if len(bounds) > 1 and bounds[1] is not None else None
        lo = a.lo if low is None else (low if a.lo is None else sympy.Max(a.lo, low))
        hi = a.hi if high is None else (high if a.hi is None else sympy.Min(a.hi, high))
        return _changed(a, lo, hi, a.values, node)

    def where(self, node: Any) -> _Range | None:
        parts = [self._arg(x, node) for x in node.args[1:3]]
        return _union([p for p in parts if p is not None], node) if all(parts) else None  # type: ignore[misc]

    def masked_fill(self, node: Any) -> _Range | None:
        parts = [self._arg(node.args[0], node), self._arg(node.args[2], node)]
        return _union(parts, node) if all(parts) else None  # type: ignore[arg-type]

    def cat(self, node: Any) -> _Range | None:
        parts = [self._arg(x, node) for x in node.args[0]]
        return _union(parts, node) if all(parts) else None  # type: ignore[arg-type]

    def full(self, node: Any) -> _Range | None:
        fill = _expr(node.args[1] if len(node.args) > 1 else node.kwargs.get("fill_value"))
        return None if fill is None else _Range(fill, fill, frozenset(), node)

    def remainder(self, node: Any) -> _Range | None:
        c = _expr(node.args[1])
        if c is None or not _nonneg(c - 1):
            return None
        return _Range(sympy.Integer(0), c - 1, frozenset(), node)

    def transfer(self, node: Any) -> _Range | None:
        if node.op == "placeholder":
            return self.placeholder(node)
        if node.op != "call_function":
            return None
        if node.target is operator.getitem:
            return self.ranges.get(node.args[0])
        value = _val(node)
        if not _is_integral(value if not isinstance(value, (list, tuple)) else (value[0] if value else None)):
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
        if name in _SAME and node.args and hasattr(node.args[0], "meta"):
            source = self.ranges.get(node.args[0])
            return source if _is_integral(_val(node.args[0])) else None
        return None


_HANDLERS: dict[str, Callable[[_Walk, Any], _Range | None]] = {
    "arange": _Walk.arange, "add": _Walk.add, "sub": lambda w, n: w.add(n, -1), "rsub": _Walk.rsub,
    "mul": _Walk.mul, "neg": _Walk.neg, "cumsum": _Walk.cumsum, "clamp": _Walk.clamp, "clamp_min": _Walk.clamp,
    "clamp_max": _Walk.clamp, "clip": _Walk.clamp, "where": _Walk.where, "masked_fill": _Walk.masked_fill,
    "cat": _Walk.cat, "stack": _Walk.cat, "full": _Walk.full, "full_like": _Walk.full, "new_full": _Walk.full,
    "fill": _Walk.full, "remainder": _Walk.remainder,
}


# --- the index checks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Use:
    """One indexing: ``index`` values into axis ``axis`` of ``table`` (axis None: the flattened table)."""

    table: Any
    index: Any
    axis: int | None
    negative_ok: bool


def _uses(node: Any) -> list[_Use]:
    name = getattr(getattr(node.target, "overloadpacket", None), "__name__", "").rstrip("_")
    args = node.args
    if name == "embedding":
        return [_Use(args[0], args[1], 0, False)]
    if name in ("index_select", "gather", "scatter", "scatter_add", "scatter_reduce"):
        return [_Use(args[0], args[2], int(args[1]), False)]
    if name == "take":
        return [_Use(args[0], args[1], None, True)]
    if name in ("index", "index_put"):
        return _advanced(args[0], args[1])
    return []


def _advanced(table: Any, indices: Sequence[Any]) -> list[_Use]:
    """``x[i, j]``: each integer index tensor indexes the axis it stands at (a bool mask: give up)."""
    import torch

    out, axis = [], 0
    for idx in indices:
        if idx is None:
            axis += 1
            continue
        value = _val(idx)
        if getattr(value, "dtype", None) in (torch.bool, torch.uint8):
            return []
        out.append(_Use(table, idx, axis, True))
        axis += 1
    return out


def _size(table: Any, axis: int | None) -> Expr | None:
    shape = _shape(table)
    if shape is None:
        return None
    if axis is None:
        return sympy.Mul(*shape) if shape else sympy.Integer(1)
    return shape[axis % len(shape)] if shape else None


def _table_name(walk: _Walk, table: Any) -> str:
    """The indexed tensor in the user's words: the parameter, buffer or input it views."""
    node = table
    for _ in range(16):
        if node.op == "placeholder":
            return walk.inputs.get(node.name, (None, node.name))[1]
        name = getattr(getattr(node.target, "overloadpacket", None), "__name__", "")
        if name not in _SAME or not node.args or not hasattr(node.args[0], "meta"):
            break
        node = node.args[0]
    return "a tensor"


def _relation(rel: Any, left: Expr, right: Expr) -> Any:
    """``rel(left, right)`` with the constant of ``left`` moved right: ``s0 <= 64``, not ``s0 - 1 <= 63``."""
    # a clamp's constant end decides it alone: Min(63, s0 - 1) <= 63 holds whatever s0 is
    bound = sympy.Min if rel is sympy.Le else sympy.Max
    if isinstance(left, bound) and any(a.is_number and rel(a, right) is sympy.true for a in left.args):
        return sympy.true
    const, rest = left.as_coeff_Add() if isinstance(left, sympy.Expr) else (0, left)
    return rel(rest, right - const)


def _checks(walk: _Walk, node: Any, use: _Use, backed: set[str]) -> list[GuardRecord]:
    r = walk.ranges.get(use.index)
    size = _size(use.table, use.axis)
    if r is None or size is None or not r.symbolic():
        return []
    lowest = -size if use.negative_ok else sympy.Integer(0)
    conditions = [c for c in (None if r.hi is None else _relation(sympy.Le, r.hi, size - 1),
                              None if r.lo is None else _relation(sympy.Ge, r.lo, lowest)) if c is not None]
    name = getattr(getattr(node.target, "overloadpacket", None), "__name__", "").rstrip("_")
    detail = IndexDetail(name, _table_name(walk, use.table), size, r.lo, r.hi, _where(r.source),
                         tuple(sorted(r.values, key=lambda v: v.input)))
    out = []
    for c in conditions:
        if c in (sympy.true, sympy.false) or not c.free_symbols or not {str(s) for s in c.free_symbols} <= backed:
            continue  # decided whatever the sizes, or about sizes no spec names
        out.append(GuardRecord(c, GuardKind.INDEX_BOUND, _where(node), detail))
    return out


def index_guards(program: Any, inputs: Sequence[Any], names: Mapping[int, str], backed: set[str]) -> list[GuardRecord]:
    """Every index check of ``program`` whose outcome depends on input sizes, as ``INDEX_BOUND``
    guards in the trace's symbols (``backed``: the names of the symbols that stand for input sizes).

    ``inputs``: the example's flattened ``(args, kwargs)`` in torch's order; ``names``: ``id`` of an
    input tensor -> its path as the user writes it.

    >>> [str(g.expr) for g in index_guards(ep, flat_inputs, names, {"s53"})]   # doctest: +SKIP
    ['s53 <= 64']
    """
    walk = _Walk(program, inputs, names)
    out: list[GuardRecord] = []
    seen: set[tuple[Expr, SourceLocation | None]] = set()
    for node in program.graph.nodes:
        if node.op == "call_function":
            for use in _uses(node):
                for g in _checks(walk, node, use, backed):
                    if (g.expr, g.origin) not in seen:
                        seen.add((g.expr, g.origin))
                        out.append(g)
        try:
            r = walk.transfer(node)
        except (TypeError, ValueError, IndexError, AttributeError):
            r = None  # an op form this walk does not know: its values are unknown, never guessed
        if r is not None:
            walk.ranges[node] = r
    return out


def value_ranges(program: Any, inputs: Sequence[Any] = (), names: Mapping[int, str] | None = None
                 ) -> dict[str, tuple[Expr | None, Expr | None]]:
    """``(lower, upper)`` of every integer tensor of ``program`` the walk bounds, by node name.

    >>> value_ranges(torch.export.export(Arange(), (x,), dynamic_shapes=...))["arange"]   # doctest: +SKIP
    (0, s77 - 1)
    """
    walk = _Walk(program, inputs, names or {})
    for node in program.graph.nodes:
        r = walk.transfer(node)
        if r is not None:
            walk.ranges[node] = r
    return {node.name: (r.lo, r.hi) for node, r in walk.ranges.items()}
