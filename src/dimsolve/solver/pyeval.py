"""Guards evaluated on concrete sizes in plain Python, with the semantics of ``translate``.

sympy evaluates a guard on integers by rebuilding it (``xreplace``), 10 to 250 us a guard (torch's
``Max`` alone is most of that); ``probe`` evaluates guards on a few points per check. This compiles
a guard once into nested Python closures (microseconds per evaluation): the integer operations
``translate`` gives z3 (``FloorDiv``/``CleanDiv`` are ``//``, ``Mod``/``PythonMod`` are ``%``,
``CeilDiv``, ``Min``, ``Max``, ``Abs``, powers with natural exponents), comparisons and ``And``/
``Or``/``Not``, and torch's float functions as Python computes them at run time (``ToFloat`` is
``float``, ``TruncToInt`` is ``math.trunc``, ``RoundToInt`` is ``round``, ``IntTrueDiv`` is ``/``,
``OpaqueUnaryFn_sqrt`` is ``math.sqrt`` ...). Anything else compiles to None and the caller falls
back to sympy.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from functools import reduce

import sympy

Value = int | float | bool
Compiled = Callable[[Mapping[str, int]], Value]
CACHE_SIZE = 4096

_COMPILED: dict[sympy.Basic, Compiled | None] = {}

_RELATIONS: dict[type, Callable[[int, int], bool]] = {
    sympy.Equality: operator.eq, sympy.Unequality: operator.ne, sympy.StrictLessThan: operator.lt,
    sympy.LessThan: operator.le, sympy.StrictGreaterThan: operator.gt, sympy.GreaterThan: operator.ge,
}
_DIVISIONS: dict[str, Callable[[int, int], int]] = {
    "FloorDiv": operator.floordiv, "CleanDiv": operator.floordiv, "Mod": operator.mod, "PythonMod": operator.mod,
    "CeilDiv": lambda a, b: -((-a) // b),
    "IntTrueDiv": operator.truediv, "FloatTrueDiv": operator.truediv, "FloatPow": operator.pow,
    "PowByNatural": operator.pow, "LShift": operator.lshift, "RShift": operator.rshift,
    "BitwiseFn_bitwise_and": operator.and_, "BitwiseFn_bitwise_or": operator.or_,
    "BitwiseFn_bitwise_xor": operator.xor, "RoundDecimal": round,
}
# torch's one-argument functions, as its SymFloat/SymInt arithmetic computes them in Python
_UNARY: dict[str, Callable[[Value], Value]] = {
    "ToFloat": float, "TruncToInt": math.trunc, "FloorToInt": math.floor, "CeilToInt": math.ceil,
    "RoundToInt": round, "TruncToFloat": lambda x: float(math.trunc(x)), "Identity": lambda x: x,
    "floor": math.floor, "ceiling": math.ceil,
}


def compiled(expr: sympy.Basic) -> Compiled | None:
    """``expr`` as a function of the sizes (by symbol name), or None if it has an unsupported node.
    A division by zero raises ``ZeroDivisionError``.

    >>> s0, s1 = sympy.symbols("s0 s1", integer=True)
    >>> compiled(sympy.Eq(sympy.Mod(s0 * s1, 4), 0))({"s0": 2, "s1": 6})
    True
    """
    if expr not in _COMPILED:
        if len(_COMPILED) >= CACHE_SIZE:
            _COMPILED.clear()
        try:
            _COMPILED[expr] = _compile(expr)
        except _Unsupported:
            _COMPILED[expr] = None
    return _COMPILED[expr]


class _Unsupported(Exception):
    pass


def _compile(expr: sympy.Basic) -> Compiled:
    if isinstance(expr, sympy.Integer):
        value = int(expr)
        return lambda sizes: value
    if isinstance(expr, sympy.Float) and expr.is_finite:
        number = float(expr)
        return lambda sizes: number
    if isinstance(expr, sympy.Symbol):
        name = expr.name
        return lambda sizes: sizes[name]
    if expr is sympy.true or expr is sympy.false:
        truth = bool(expr)
        return lambda sizes: truth
    args = [_compile(a) for a in expr.args]
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        combine = operator.add if isinstance(expr, sympy.Add) else operator.mul
        return lambda sizes: reduce(combine, (f(sizes) for f in args))
    if isinstance(expr, sympy.Pow) and isinstance(expr.args[1], sympy.Integer) and int(expr.args[1]) >= 0:
        base, exponent = args[0], int(expr.args[1])
        if exponent == 2:  # sympy's ``x**2`` is torch's ``x*x`` (for a float: one rounding, not C's pow)
            return lambda sizes: base(sizes) * base(sizes)
        return lambda sizes: base(sizes) ** exponent
    if type(expr) in _RELATIONS:
        relation, (lhs, rhs) = _RELATIONS[type(expr)], args
        return lambda sizes: relation(lhs(sizes), rhs(sizes))
    return _compile_function(expr, args)


def _compile_function(expr: sympy.Basic, args: list[Compiled]) -> Compiled:
    name = type(expr).__name__
    if isinstance(expr, sympy.And):
        return lambda sizes: all(f(sizes) for f in args)
    if isinstance(expr, sympy.Or):
        return lambda sizes: any(f(sizes) for f in args)
    if isinstance(expr, sympy.Not):
        return lambda sizes: not args[0](sizes)
    if name in _DIVISIONS and len(args) == 2:
        divide, (a, b) = _DIVISIONS[name], args
        return lambda sizes: divide(a(sizes), b(sizes))
    if name in ("Min", "Max"):
        pick = min if name == "Min" else max
        return lambda sizes: pick(f(sizes) for f in args)
    if name == "Abs":
        return lambda sizes: abs(args[0](sizes))
    return _compile_torch_function(name, args)


def _compile_torch_function(name: str, args: list[Compiled]) -> Compiled:
    if name in _UNARY and len(args) == 1:
        unary, (a,) = _UNARY[name], args
        return lambda sizes: unary(a(sizes))
    if name.startswith("OpaqueUnaryFn_") and hasattr(math, name[len("OpaqueUnaryFn_"):]) and len(args) == 1:
        fn, (a,) = getattr(math, name[len("OpaqueUnaryFn_"):]), args
        return lambda sizes: fn(float(a(sizes)))
    if name == "ModularIndexing" and len(args) == 3:
        base, divisor, modulus = args
        return lambda sizes: (base(sizes) // divisor(sizes)) % modulus(sizes)
    if name == "Where" and len(args) == 3:
        condition, then, otherwise = args
        return lambda sizes: then(sizes) if condition(sizes) else otherwise(sizes)
    raise _Unsupported(name)
