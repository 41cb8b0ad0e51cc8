"""Guards evaluated on many sizes at once with numpy, with the semantics of ``pyeval`` (Python's).

``exhaustive`` decides guards z3 leaves open by evaluating them on every admitted size; this
compiles a guard once into numpy operations on int64/float64 arrays. numpy's ``//`` and ``%``
round like Python's, its float64 arithmetic is the double arithmetic Python's floats do, and
``np.rint`` rounds half to even like ``round``. Where numpy and Python could differ, the
evaluation refuses instead of guessing:

- int64 overflow: ``span`` bounds every integer node over the sizes evaluated, and a guard
  whose integers may leave ``[-2**62, 2**62]`` is not evaluated;
- comparisons and true divisions mixing ints with floats are exact in Python but go through
  float64 in numpy: they are evaluated only for integers below ``2**53``;
- the C library functions (``OpaqueUnaryFn_*``, float powers) run Python's own ``math`` per element;
- a division by zero, or a float rounded to an integer that is not finite or not below ``2**63``,
  is an error in Python: those sizes are reported ``undefined`` (the guard says nothing there).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy

Array = np.ndarray
INT_LIMIT = 2.0**62  # integer nodes must stay within this (int64 with a factor of 2 to spare)
EXACT_LIMIT = 2.0**53  # below this an int64 converts to float64 exactly


@dataclass
class Frame:
    """One evaluation over a set of points: the sizes (arrays by symbol name), the points where some
    operation was undefined, and each sub-expression's array (guards share most of theirs)."""

    sizes: Mapping[str, Array]
    undefined: Array = field(default_factory=lambda: np.zeros(0, dtype=bool))
    values: dict[int, Array] = field(default_factory=dict)

    def mark(self, where: Array) -> None:
        self.undefined = self.undefined | where

    def subset(self, keep: Array) -> Frame:
        """The same evaluation restricted to the points ``keep`` (computed arrays kept)."""
        n = keep.shape[0]
        def cut(a: Array) -> Array:
            return a[keep] if isinstance(a, np.ndarray) and a.shape[:1] == (n,) else a
        return Frame({k: cut(v) for k, v in self.sizes.items()}, cut(self.undefined),
                     {k: cut(v) for k, v in self.values.items()})


Node = Callable[[Frame], Array]


class NotVectorised(Exception):
    """The guard has a node with no exact numpy evaluation here."""


_RELATIONS: dict[type, Callable[[Array, Array], Array]] = {
    sympy.Equality: np.equal, sympy.Unequality: np.not_equal, sympy.StrictLessThan: np.less,
    sympy.LessThan: np.less_equal, sympy.StrictGreaterThan: np.greater, sympy.GreaterThan: np.greater_equal,
}
_FLOAT_RESULT = ("ToFloat", "FloatTrueDiv", "IntTrueDiv", "TruncToFloat", "FloatPow", "RoundDecimal")
_TO_INT: dict[str, Callable[[Array], Array]] = {
    "TruncToInt": np.trunc, "FloorToInt": np.floor, "CeilToInt": np.ceil, "RoundToInt": np.rint,
    "floor": np.floor, "ceiling": np.ceil,
}


@functools.lru_cache(maxsize=8192)
def is_float(expr: sympy.Basic) -> bool:
    """The value of ``expr`` is a Python float (torch's SymFloat)."""
    if isinstance(expr, sympy.Float):
        return True
    name = type(expr).__name__
    if name in _FLOAT_RESULT or name.startswith("OpaqueUnaryFn_"):
        return True
    if isinstance(expr, (sympy.Add, sympy.Mul, sympy.Pow)) or name in ("Min", "Max", "Identity"):
        return any(is_float(a) for a in expr.args)
    if name == "Where":
        return is_float(expr.args[1]) or is_float(expr.args[2])
    return False


Span = tuple[float, float]
_ANY: Span = (-math.inf, math.inf)


def span(expr: sympy.Basic, bounds: Mapping[str, Span], memo: dict[sympy.Basic, Span] | None = None) -> Span:
    """An interval holding the value of ``expr`` (and, in ``memo``, of every node in it) for symbols
    within ``bounds``; ``(-inf, inf)`` where none is known."""
    memo = {} if memo is None else memo
    found = memo.get(expr)
    if found is not None:
        return found
    if isinstance(expr, sympy.Number):
        out = (float(expr), float(expr)) if expr.is_finite else _ANY
    elif isinstance(expr, sympy.Symbol):
        out = bounds.get(expr.name, _ANY)
    elif expr is sympy.true or expr is sympy.false or not expr.args:
        out = (0.0, 1.0)
    else:
        out = _combine(expr, [span(a, bounds, memo) for a in expr.args])
    memo[expr] = out
    return out


def _product(a: Span, b: Span) -> Span:
    ends = [x * y if x and y else 0.0 for x in a for y in b]
    return min(ends), max(ends)


def _combine(expr: sympy.Basic, parts: list[Span]) -> Span:
    name = type(expr).__name__
    if isinstance(expr, sympy.Add):
        return sum(p[0] for p in parts), sum(p[1] for p in parts)
    if isinstance(expr, sympy.Mul):
        out = parts[0]
        for p in parts[1:]:
            out = _product(out, p)
        return out
    if isinstance(expr, sympy.Pow) and isinstance(expr.args[1], sympy.Integer) and 0 <= int(expr.args[1]) <= 64:
        out = (1.0, 1.0)
        for _ in range(int(expr.args[1])):
            out = _product(out, parts[0])
        return out
    if name in ("FloorDiv", "CleanDiv", "CeilDiv") and parts[1][0] >= 1:
        (alo, ahi), (blo, bhi) = parts
        quotients = [alo / blo, alo / bhi, ahi / blo, ahi / bhi]
        return math.floor(min(quotients)), math.ceil(max(quotients))
    if name in ("Mod", "PythonMod") and parts[1][0] >= 1:
        return 0.0, max(parts[1][1] - 1, 0.0)
    if name in ("Min", "Max"):
        pick = min if name == "Min" else max
        return pick(p[0] for p in parts), pick(p[1] for p in parts)
    if name == "Where":
        return min(parts[1][0], parts[2][0]), max(parts[1][1], parts[2][1])
    if type(expr) in _RELATIONS or isinstance(expr, sympy.logic.boolalg.BooleanFunction):
        return 0.0, 1.0
    if name.startswith("OpaqueUnaryFn_"):
        return _libm_span(name[len("OpaqueUnaryFn_"):], parts[0])
    if name in ("ToFloat", "Identity", "TruncToFloat"):
        return parts[0]
    if name in _TO_INT:
        return math.floor(parts[0][0]), math.ceil(parts[0][1])
    if name in ("IntTrueDiv", "FloatTrueDiv") and (parts[1][0] > 0 or parts[1][1] < 0):
        quotients = [a / b for a in parts[0] for b in parts[1] if not math.isinf(a) or not math.isinf(b)]
        return (min(quotients), max(quotients)) if len(quotients) == 4 else _ANY
    width = max(abs(v) for p in parts for v in p)
    if name in ("Abs", "Identity", "ToFloat", "TruncToFloat", "FloorDiv", "CleanDiv", "CeilDiv", "IntTrueDiv",
                "Mod", "PythonMod") or name in _TO_INT:
        return -width - 1, width + 1  # a divisor is a nonzero integer: the quotient is no larger
    if name == "ModularIndexing":
        return -abs(parts[2][0]) - abs(parts[2][1]), abs(parts[2][0]) + abs(parts[2][1])
    return _ANY


_INCREASING = frozenset({"sqrt", "exp", "log", "log2", "asinh", "atan", "sinh", "tanh"})
_BOUNDED: dict[str, Span] = {"sin": (-1.0, 1.0), "cos": (-1.0, 1.0), "asin": (-2.0, 2.0), "acos": (0.0, 4.0)}


def _libm_span(fn: str, arg: Span) -> Span:
    """The value range of ``math.<fn>`` over ``arg``: its ends for an increasing function (one ulp of
    slack), a fixed range for a bounded one."""
    if fn in _BOUNDED:
        return _BOUNDED[fn]
    if fn not in _INCREASING:
        return _ANY
    try:
        lo, hi = (getattr(math, fn)(v) for v in arg)
    except (ValueError, OverflowError):
        return _ANY
    return lo - abs(lo) * 1e-15 - 1e-300, hi + abs(hi) * 1e-15 + 1e-300


_COMPILED: dict[sympy.Basic, Node | None] = {}
_NODES: dict[sympy.Basic, Node] = {}  # every sub-expression's closure, shared by all guards
_KEYS = itertools.count()
CACHE_SIZE = 4096


def compiled(expr: sympy.Basic) -> Node | None:
    """``expr`` as a numpy evaluation of a ``Frame``, or None."""
    if expr not in _COMPILED:
        if len(_COMPILED) >= CACHE_SIZE:
            _COMPILED.clear()
            _NODES.clear()
        try:
            _COMPILED[expr] = _compile(expr, _NODES)
        except NotVectorised:
            _COMPILED[expr] = None
    return _COMPILED[expr]


def _compile(expr: sympy.Basic, memo: dict[sympy.Basic, Node]) -> Node:
    """One closure per distinct sub-expression (the guards of window models share most of theirs);
    a sub-expression's array is computed once per frame."""
    node = memo.get(expr)
    if node is None:
        inner = _compile_node(expr, memo)
        key = next(_KEYS)

        def node(frame: Frame, inner: Node = inner, key: int = key) -> Array:
            value = frame.values.get(key)
            if value is None:
                value = frame.values[key] = inner(frame)
            return value

        memo[expr] = node
    return node


def _compile_node(expr: sympy.Basic, memo: dict[sympy.Basic, Node]) -> Node:
    if expr is sympy.true or expr is sympy.false:
        truth = bool(expr)
        return lambda f: np.bool_(truth)
    if isinstance(expr, sympy.Integer):
        value = int(expr)
        if abs(value) >= INT_LIMIT:
            raise NotVectorised(str(expr))
        return lambda f: np.int64(value)
    if isinstance(expr, sympy.Float) and expr.is_finite:
        number = float(expr)
        return lambda f: np.float64(number)
    if isinstance(expr, sympy.Symbol):
        name = expr.name
        return lambda f: f.sizes[name]
    args = [_compile(a, memo) for a in expr.args]
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        combine = np.add if isinstance(expr, sympy.Add) else np.multiply
        return lambda f: _fold(combine, [a(f) for a in args])
    if isinstance(expr, sympy.Pow):
        return _power(expr, args)
    if type(expr) in _RELATIONS:
        return _relation(expr, args)
    return _function(expr, args)


def _fold(combine: Callable[[Array, Array], Array], values: list[Array]) -> Array:
    out = values[0]
    for v in values[1:]:
        out = combine(out, v)
    return out


def _power(expr: sympy.Basic, args: list[Node]) -> Node:
    exponent = expr.args[1]
    if not isinstance(exponent, sympy.Integer) or int(exponent) < 0:
        raise NotVectorised(str(expr))
    base, k = args[0], int(exponent)
    if k == 2:  # sympy's x**2 is torch's x*x (for a float: one rounding)
        return lambda f: base(f) * base(f)
    if is_float(expr.args[0]):
        return _per_element(lambda x: x**k, [base], float)
    return lambda f: base(f) ** k


def _relation(expr: sympy.Basic, args: list[Node]) -> Node:
    compare, (lhs, rhs) = _RELATIONS[type(expr)], args
    return lambda f: compare(lhs(f), rhs(f))


def _per_element(fn: Callable[..., object], args: list[Node], kind: type) -> Node:
    """A Python function applied element by element (``math``'s C library calls, exactly)."""
    ufunc = np.frompyfunc(fn, len(args), 1)

    def run(f: Frame) -> Array:
        values = [np.broadcast_to(a(f), _shape(f)) for a in args]
        with np.errstate(all="ignore"):
            try:
                return ufunc(*values).astype(np.float64 if kind is float else np.int64)
            except (ValueError, OverflowError, ZeroDivisionError):
                return _guarded(fn, values, f, kind)
    return run


def _guarded(fn: Callable[..., object], values: list[Array], f: Frame, kind: type) -> Array:
    """Element by element, marking the elements where Python raises."""
    out = np.zeros(_shape(f), dtype=np.float64 if kind is float else np.int64)
    bad = np.zeros(_shape(f), dtype=bool)
    for i in range(out.size):
        try:
            out.flat[i] = fn(*(v.flat[i].item() for v in values))
        except (ValueError, OverflowError, ZeroDivisionError):
            bad.flat[i] = True
    f.mark(bad)
    return out


def _shape(f: Frame) -> tuple[int, ...]:
    return next(iter(f.sizes.values())).shape if f.sizes else ()


def _divisor(f: Frame, value: Array) -> Array:
    zero = value == 0
    if np.any(zero):
        f.mark(np.broadcast_to(zero, _shape(f)))
        return np.where(zero, 1, value)
    return value


def _function(expr: sympy.Basic, args: list[Node]) -> Node:
    name = type(expr).__name__
    if isinstance(expr, sympy.And):
        return lambda f: _fold(np.logical_and, [a(f) for a in args])
    if isinstance(expr, sympy.Or):
        return lambda f: _fold(np.logical_or, [a(f) for a in args])
    if isinstance(expr, sympy.Not):
        return lambda f: np.logical_not(args[0](f))
    if name in ("FloorDiv", "CleanDiv", "Mod", "PythonMod", "CeilDiv") and len(args) == 2:
        return _division(name, args)
    if name in ("Min", "Max"):
        pick = np.minimum if name == "Min" else np.maximum
        return lambda f: _fold(pick, [a(f) for a in args])
    if name == "Abs":
        return lambda f: np.abs(args[0](f))
    return _torch_function(expr, name, args)


def _division(name: str, args: list[Node]) -> Node:
    a, b = args
    if name == "CeilDiv":
        return lambda f: -((-a(f)) // _divisor(f, b(f)))
    op = np.floor_divide if name in ("FloorDiv", "CleanDiv") else np.mod
    return lambda f: op(a(f), _divisor(f, b(f)))


def _torch_function(expr: sympy.Basic, name: str, args: list[Node]) -> Node:
    if name == "ToFloat":
        return lambda f: np.asarray(args[0](f)).astype(np.float64)
    if name in _TO_INT:
        return _to_int(_TO_INT[name], args[0])
    if name == "TruncToFloat":
        return lambda f: np.trunc(args[0](f))
    if name in ("IntTrueDiv", "FloatTrueDiv"):
        a, b = args
        return lambda f: np.asarray(a(f)).astype(np.float64) / _divisor(f, np.asarray(b(f))).astype(np.float64)
    if name == "Identity":
        return args[0]
    if name == "Where":
        c, t, e = args
        return lambda f: np.where(c(f), t(f), e(f))
    if name == "ModularIndexing":
        base, div, mod = args
        return lambda f: np.mod(np.floor_divide(base(f), _divisor(f, div(f))), _divisor(f, mod(f)))
    if name.startswith("OpaqueUnaryFn_") and hasattr(math, name[len("OpaqueUnaryFn_"):]):
        return _per_element(getattr(math, name[len("OpaqueUnaryFn_"):]), args, float)
    if name == "FloatPow":
        return _per_element(operator.pow, args, float)
    if name == "PowByNatural":
        return lambda f: args[0](f) ** args[1](f)
    if name in ("LShift", "RShift"):
        shift = np.left_shift if name == "LShift" else np.right_shift
        return lambda f: shift(args[0](f), args[1](f))
    raise NotVectorised(name)


def _to_int(rounding: Callable[[Array], Array], arg: Node) -> Node:
    def run(f: Frame) -> Array:
        value = np.asarray(arg(f), dtype=np.float64)
        bad = ~np.isfinite(value) | (np.abs(value) >= 2.0**63)
        if np.any(bad):
            f.mark(np.broadcast_to(bad, _shape(f)))
            value = np.where(bad, 0.0, value)
        return rounding(value).astype(np.int64)
    return run


def checked(expr: sympy.Basic, bounds: Mapping[str, Span]) -> Node | None:
    """``compiled(expr)`` when numpy computes it as Python does for sizes within ``bounds``."""
    node = compiled(expr)
    if node is None:
        return None
    memo: dict[sympy.Basic, Span] = {}
    span(expr, bounds, memo)

    def largest(e: sympy.Basic) -> float:
        lo, hi = memo.get(e, _ANY)
        return max(abs(lo), abs(hi))

    for sub in memo:
        if largest(sub) > INT_LIMIT and not is_float(sub):
            return None  # an integer node that could overflow int64
        if _mixes_int_and_float(sub) and any(largest(a) >= EXACT_LIMIT for a in sub.args if not is_float(a)):
            return None  # Python compares (and divides) ints exactly, float64 does not
    return node


def _mixes_int_and_float(expr: sympy.Basic) -> bool:
    name = type(expr).__name__
    mixing = type(expr) in _RELATIONS or isinstance(expr, (sympy.Add, sympy.Mul)) or name in (
        "Min", "Max", "IntTrueDiv", "ToFloat", "FloatTrueDiv")
    return mixing and (name in ("IntTrueDiv", "ToFloat") or (any(is_float(a) for a in expr.args)
                                                            and not all(is_float(a) for a in expr.args)))
