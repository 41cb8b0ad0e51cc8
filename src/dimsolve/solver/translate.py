"""sympy → z3 for torch's shape expressions, with Python's integer semantics.

torch's own sympy functions are recognised by class *name* (``FloorDiv``, ``PythonMod`` ...), so
this module never imports torch and works on expressions read back by ``guards.codec`` too.
Anything without an exact translation raises ``Unsupported`` carrying the offending
sub-expression; nothing is dropped or approximated.

Division follows Python (``int_ops``): ``//`` and ``%`` round towards -inf. A symbolic divisor of 0
is left to z3's unspecified division by zero (torch would have raised while tracing).

Floats (``ToFloat``, ``FloatTrueDiv``, float constants ...) are Python doubles, encoded in z3
integers by ``floats``. Every function class torch's ``torch.utils._sympy.functions`` defines is
either in ``TRANSLATED_FUNCTIONS`` or refused with its reason in ``REFUSED_FUNCTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import reduce
from typing import cast

import sympy
import z3
from sympy.logic.boolalg import BooleanFunction

from dimsolve.solver import floats
from dimsolve.solver.floats import Dyadic, Quotient
from dimsolve.solver.int_ops import ceildiv, constant, floordiv, larger, nary, pymod, relation, smaller, truncdiv

MAX_EXPONENT = 64

# Sorts of translated nodes: an integer, a condition, a double (``floats.Dyadic``) or a true
# division not rounded yet (``floats.Quotient``).
INT, BOOL, FLOAT, QUOTIENT = "int", "bool", "float", "quotient"
Value = z3.ExprRef | Dyadic | Quotient

_LIBM = "is computed by the C library (math.{0}), whose rounding z3 cannot model; it is decided only by evaluating it"
# torch's sympy function classes dimsolve refuses, with the reason shown in DS902
REFUSED_FUNCTIONS: dict[str, str] = {
    "FloatPow": "a float power is computed by the C library's pow, whose rounding z3 cannot model",
    "RoundDecimal": "rounding to decimal digits (round(x, n)) has no exact integer encoding here",
    "IsNonOverlappingAndDenseIndicator": "a stride-layout test (is_non_overlapping_and_dense) is not a size relation",
    "BitwiseFn_bitwise_and": "bitwise operations on sizes are not translated",
    "BitwiseFn_bitwise_or": "bitwise operations on sizes are not translated",
    "BitwiseFn_bitwise_xor": "bitwise operations on sizes are not translated",
    "MinMaxBase": "the abstract base of Min and Max, never in an expression",
    **{f"OpaqueUnaryFn_{name}": _LIBM.format(name) for name in (
        "sqrt", "cos", "cosh", "sin", "sinh", "tan", "tanh", "asin", "acos", "atan", "exp", "log", "asinh", "log2")},
}
TRANSLATED_FUNCTIONS: frozenset[str] = frozenset({
    "FloorDiv", "CleanDiv", "CeilDiv", "Mod", "PythonMod", "ModularIndexing", "Where", "Identity", "Min", "Max",
    "PowByNatural", "LShift", "RShift", "ToFloat", "TruncToFloat", "TruncToInt", "FloorToInt", "CeilToInt",
    "RoundToInt", "IntTrueDiv", "FloatTrueDiv",
})


class Unsupported(ValueError):
    """An expression (``expr_text``, the smallest offending sub-expression) with no exact z3 translation."""

    def __init__(self, expr_text: str, reason: str) -> None:
        super().__init__(f"{reason}: {expr_text}")
        self.expr_text = expr_text
        self.reason = reason


def z3_int_vars(names: Iterable[str]) -> dict[str, z3.ArithRef]:
    """One z3 integer per name: ``z3_int_vars(["s0", "s1"])["s0"]`` is ``z3.Int("s0")``."""
    return {name: z3.Int(name) for name in names}


def to_z3(expr: sympy.Basic, env: Mapping[str, z3.ArithRef]) -> z3.ExprRef:
    """Translate ``expr``; each symbol becomes ``env[symbol.name]``.

    >>> s0, s1 = sympy.symbols("s0 s1", integer=True)
    >>> to_z3(sympy.Eq(2 * s0, s1), z3_int_vars(["s0", "s1"]))
    2*s0 == s1
    """
    return Translator(env).term(expr)


def to_z3_bool(expr: sympy.Basic, env: Mapping[str, z3.ArithRef]) -> z3.BoolRef:
    """Like ``to_z3`` for a condition (a guard); a numeric expression raises ``Unsupported``."""
    return Translator(env).condition(expr)


def _unsupported(expr: sympy.Basic, reason: str) -> Unsupported:
    return Unsupported(str(expr), reason)


_DIVISIONS: dict[str, Callable[[z3.ArithRef, z3.ArithRef], z3.ArithRef]] = {
    "FloorDiv": floordiv,
    "CleanDiv": floordiv,  # exact by torch's construction: equal to floor division
    "CeilDiv": ceildiv,
    "Mod": pymod,  # torch's Mod is only used on non-negative arguments, where it equals Python's
    "PythonMod": pymod,
}
# integer rounding of an exact ratio (sympy's floor/ceiling of ``p/q``)
_ROUNDINGS: dict[str, Callable[[z3.ArithRef, z3.ArithRef], z3.ArithRef]] = {
    "floor": floordiv, "FloorToInt": floordiv, "ceiling": ceildiv, "CeilToInt": ceildiv, "TruncToInt": truncdiv,
}
# the same roundings of a double and of a true division (``floats``)
_FLOAT_ROUNDINGS: dict[str, tuple[Callable[[Dyadic], z3.ArithRef], Callable[[Quotient], z3.ArithRef]]] = {
    "floor": (floats.floor, floats.quotient_floor),
    "FloorToInt": (floats.floor, floats.quotient_floor),
    "ceiling": (floats.ceil, floats.quotient_ceil),
    "CeilToInt": (floats.ceil, floats.quotient_ceil),
    "TruncToInt": (floats.trunc, floats.quotient_trunc),
    "RoundToInt": (floats.round_half_even, floats.quotient_round),
}
_COMPARE: dict[type, Callable[[z3.ExprRef, z3.ExprRef], z3.BoolRef]] = {
    sympy.Equality: relation(z3.Z3_mk_eq),
    sympy.Unequality: relation(z3.Z3_mk_eq, negate=True),
    sympy.StrictLessThan: relation(z3.Z3_mk_lt),
    sympy.LessThan: relation(z3.Z3_mk_le),
    sympy.StrictGreaterThan: relation(z3.Z3_mk_gt),
    sympy.GreaterThan: relation(z3.Z3_mk_ge),
}


class Translator:
    """sympy -> z3 with one cache for many expressions: a sub-term shared by several guards (a
    product, a ``FloorDiv``) is translated once. Each node's sort (``INT``, ``BOOL``, ``FLOAT``,
    ``QUOTIENT``) follows from its sympy class and its arguments' sorts, so no sort is asked of z3
    (slow through its Python API).

    >>> s0, s1 = sympy.symbols("s0 s1", integer=True)
    >>> t = Translator(z3_int_vars(["s0", "s1"]))
    >>> t.condition(sympy.Eq(2 * s0, s1)), t.term(2 * s0)
    (2*s0 == s1, 2*s0)
    """

    def __init__(self, env: Mapping[str, z3.ArithRef]) -> None:
        self.env = env
        self.cache: dict[sympy.Basic, tuple[Value, str]] = {}  # expr -> (translation, sort)

    def term(self, expr: sympy.Basic) -> z3.ExprRef:
        value, sort = self._node(expr)
        if sort == QUOTIENT:
            raise _unsupported(expr, "a true division is only translated under a rounding (floor, ceil, trunc, round)")
        if sort == FLOAT:
            dyadic = cast(Dyadic, value)
            return z3.ToReal(dyadic.num) / (2**dyadic.exp)
        return cast(z3.ExprRef, value)

    def condition(self, expr: sympy.Basic) -> z3.BoolRef:
        value, sort = self._node(expr)
        if sort != BOOL:
            raise _unsupported(expr, "expected a condition")
        return cast(z3.BoolRef, value)

    def integer(self, expr: sympy.Basic) -> z3.ArithRef:
        value, sort = self._node(expr)
        if sort != INT:
            raise _unsupported(expr, "expected an integer expression" if sort == BOOL
                               else "a float is used where torch uses an integer")
        return cast(z3.ArithRef, value)

    def integers(self, args: Sequence[sympy.Basic]) -> list[z3.ArithRef]:
        return [self.integer(a) for a in args]

    def double(self, expr: sympy.Basic) -> Dyadic:
        """``expr`` as a double: an integer operand is converted as Python's ``float(n)``."""
        value, sort = self._node(expr)
        if sort == FLOAT:
            return cast(Dyadic, value)
        if sort == INT:
            return floats.from_int(cast(z3.ArithRef, value))
        raise _unsupported(expr, "a true division is only translated under a rounding (floor, ceil, trunc, round)"
                           if sort == QUOTIENT else "expected a number")

    def _node(self, expr: sympy.Basic) -> tuple[Value, str]:
        cached = self.cache.get(expr)
        if cached is None:
            cached = self.cache[expr] = self._translate(expr)
        return cached

    def _sorts(self, args: Sequence[sympy.Basic]) -> list[str]:
        return [self._node(a)[1] for a in args]

    def _translate(self, expr: sympy.Basic) -> tuple[Value, str]:
        if expr is sympy.true or expr is sympy.false:
            return z3.BoolVal(bool(expr)), BOOL
        if isinstance(expr, sympy.Number):
            return self._number(expr)
        if isinstance(expr, sympy.Symbol):
            return self._symbol(expr), INT
        if isinstance(expr, (sympy.Add, sympy.Mul)):
            return self._arithmetic(expr)
        if isinstance(expr, sympy.Pow) and expr.args[1] == 2 and self._node(expr.args[0])[1] == FLOAT:
            square = self.double(expr.args[0])  # sympy's ``x**2`` is torch's ``x*x``: one rounding
            return floats.mul(square, square), FLOAT
        if isinstance(expr, sympy.Pow):
            return self._power(expr, *expr.args), INT
        if type(expr) in _COMPARE:
            return self._compare(expr), BOOL
        if isinstance(expr, BooleanFunction):
            return self._logic(expr), BOOL
        return self._function(expr)

    def _number(self, expr: sympy.Number) -> tuple[Value, str]:
        if isinstance(expr, sympy.Integer):
            return z3.IntVal(int(expr)), INT
        if isinstance(expr, sympy.Float) and expr.is_finite:
            return floats.constant(float(expr)), FLOAT
        raise _unsupported(expr, "only integer constants are supported")

    def _symbol(self, expr: sympy.Symbol) -> z3.ExprRef:
        value = self.env.get(expr.name)
        if value is None:
            raise _unsupported(expr, "unknown symbol")
        if not z3.is_int(value):  # once per symbol: every other node's sort follows from its class
            raise _unsupported(expr, "symbols stand for integer sizes")
        return value

    def _arithmetic(self, expr: sympy.Basic) -> tuple[Value, str]:
        sorts = self._sorts(expr.args)
        if all(s == INT for s in sorts):
            return nary(z3.Z3_mk_add if isinstance(expr, sympy.Add) else z3.Z3_mk_mul, self.integers(expr.args)), INT
        if BOOL in sorts:
            raise _unsupported(expr, "arithmetic on a condition")
        # pairwise, rounding after each step, in sympy's argument order (as ``pyeval`` evaluates it)
        combine = floats.add if isinstance(expr, sympy.Add) else floats.mul
        return reduce(combine, (self.double(a) for a in expr.args)), FLOAT

    def _power(self, expr: sympy.Basic, base: sympy.Basic, exponent: sympy.Basic) -> z3.ArithRef:
        if not isinstance(exponent, sympy.Integer) or not 0 <= int(exponent) <= MAX_EXPONENT:
            raise _unsupported(expr, f"exponent must be an integer constant from 0 to {MAX_EXPONENT}")
        if self._node(base)[1] != INT:
            raise _unsupported(expr, "a float power is computed by the C library's pow, whose rounding z3 cannot model")
        value = self.integer(base)
        return reduce(lambda acc, _: acc * value, range(int(exponent) - 1), value) if exponent else z3.IntVal(1)

    def _compare(self, expr: sympy.Basic) -> z3.BoolRef:
        sorts = self._sorts(expr.args)
        if QUOTIENT in sorts:
            raise _unsupported(expr, "a true division is only translated under a rounding (floor, ceil, trunc, round)")
        if FLOAT in sorts:
            if BOOL in sorts:
                raise _unsupported(expr, "comparison of a number with a condition")
            lhs, rhs = floats.compare(*(self._exact(a) for a in expr.args))
            return _COMPARE[type(expr)](lhs, rhs)
        (lhs, _), (rhs, _) = (self._node(a) for a in expr.args)
        ordered = type(expr) in (sympy.Equality, sympy.Unequality) or sorts[0] != BOOL
        if sorts[0] != sorts[1] or not ordered:
            raise _unsupported(expr, "comparison of a number with a condition")
        return _COMPARE[type(expr)](lhs, rhs)  # type: ignore[arg-type]

    def _exact(self, expr: sympy.Basic) -> Dyadic:
        """A number as a ``Dyadic`` without rounding: Python compares ints and floats exactly."""
        value, sort = self._node(expr)
        return cast(Dyadic, value) if sort == FLOAT else Dyadic(cast(z3.ArithRef, value), 0, floats.INT_BITS)

    def _logic(self, expr: sympy.Basic) -> z3.BoolRef:
        args = [self.condition(a) for a in expr.args]
        if isinstance(expr, sympy.And):
            return z3.And(args)
        if isinstance(expr, sympy.Or):
            return z3.Or(args)
        if isinstance(expr, sympy.Not):
            return z3.Not(args[0])
        if isinstance(expr, sympy.Implies):
            return z3.Implies(args[0], args[1])
        if isinstance(expr, sympy.Xor):
            return reduce(z3.Xor, args)
        raise _unsupported(expr, f"no translation for {type(expr).__name__}")

    def _function(self, expr: sympy.Basic) -> tuple[Value, str]:
        name = type(expr).__name__
        if name in REFUSED_FUNCTIONS:
            raise _unsupported(expr, REFUSED_FUNCTIONS[name])
        if name in _DIVISIONS:
            a, b = self._dividend_divisor(expr, *expr.args)
            return _DIVISIONS[name](a, b), INT
        if name in _FLOAT_ROUNDINGS:
            return self._rounding(expr, name), INT
        if name in ("Min", "Max"):
            return self._extremum(expr, name == "Min")
        if name == "Abs":
            value = self.integer(expr.args[0])
            return z3.If(value >= 0, value, -value), INT
        if name in ("ToFloat", "TruncToFloat", "IntTrueDiv", "FloatTrueDiv"):
            return self._float_function(expr, name)
        return self._other_function(expr, name)

    def _extremum(self, expr: sympy.Basic, smallest: bool) -> tuple[Value, str]:
        if all(s == INT for s in self._sorts(expr.args)):
            return reduce(smaller if smallest else larger, self.integers(expr.args)), INT
        return reduce(floats.minimum if smallest else floats.maximum, (self.double(a) for a in expr.args)), FLOAT

    def _float_function(self, expr: sympy.Basic, name: str) -> tuple[Value, str]:
        if name == "ToFloat":
            return self.double(expr.args[0]), FLOAT
        if name == "TruncToFloat":
            value = self.double(expr.args[0])
            return floats.Dyadic(floats.trunc(value), 0, value.bits), FLOAT
        if name == "IntTrueDiv":
            a, b = self._dividend_divisor(expr, *expr.args)
            out = floats.quotient(a, b, floats.INT_BITS)
        else:
            a_f, b_f = (self.double(arg) for arg in expr.args)
            if z3.is_int_value(b_f.num) and b_f.num.as_long() == 0:
                raise _unsupported(expr, "division by zero")
            out = floats.divide(a_f, b_f)
        return out, FLOAT if isinstance(out, Dyadic) else QUOTIENT

    def _other_function(self, expr: sympy.Basic, name: str) -> tuple[Value, str]:
        if name == "PowByNatural":
            return self._power(expr, *expr.args), INT
        if name in ("LShift", "RShift"):
            base, shift = expr.args
            if not isinstance(shift, sympy.Integer) or not 0 <= int(shift) <= MAX_EXPONENT:
                raise _unsupported(expr, f"shift must be an integer constant from 0 to {MAX_EXPONENT}")
            value = self.integer(base)
            return (value * 2 ** int(shift) if name == "LShift" else floordiv(value, z3.IntVal(2 ** int(shift)))), INT
        if name == "Identity":
            return self._node(expr.args[0])
        if name == "ModularIndexing":
            base, divisor, modulus = self.integers(expr.args)
            return pymod(floordiv(base, self._nonzero(expr, divisor)), self._nonzero(expr, modulus)), INT
        if name == "Where":
            condition = self.condition(expr.args[0])
            if all(s == INT for s in self._sorts(expr.args[1:])):
                return z3.If(condition, self.integer(expr.args[1]), self.integer(expr.args[2])), INT
            return floats.pick(condition, self.double(expr.args[1]), self.double(expr.args[2])), FLOAT
        raise _unsupported(expr, f"no translation for {name}")

    def _dividend_divisor(self, expr: sympy.Basic, a: sympy.Basic, b: sympy.Basic) -> tuple[z3.ArithRef, z3.ArithRef]:
        return self.integer(a), self._nonzero(expr, self.integer(b))

    @staticmethod
    def _nonzero(expr: sympy.Basic, divisor: z3.ArithRef) -> z3.ArithRef:
        if constant(divisor) == 0:
            raise _unsupported(expr, "division by zero")
        return divisor

    def _rounding(self, expr: sympy.Basic, name: str) -> z3.ArithRef:
        """floor/ceil/trunc/round of a double, of a true division, or (sympy's ``floor``/``ceiling``)
        of ``p/q`` with a constant ``q``."""
        (arg,) = expr.args
        if not _has_fraction(arg):
            value, sort = self._node(arg)
            if sort == INT:
                return cast(z3.ArithRef, value)
            on_double, on_quotient = _FLOAT_ROUNDINGS[name]
            if sort == FLOAT:
                return on_double(cast(Dyadic, value))
            if sort == QUOTIENT:
                return on_quotient(cast(Quotient, value))
            raise _unsupported(expr, "rounding of a condition")
        if name not in _ROUNDINGS:
            raise _unsupported(expr, "rounding is only supported for a quotient by an integer constant")
        numerator, denominator = sympy.fraction(sympy.together(arg))
        if not isinstance(denominator, sympy.Integer):
            raise _unsupported(expr, "rounding is only supported for a quotient by an integer constant")
        value = self.integer(numerator)
        divide = _ROUNDINGS[name]
        return value if denominator == 1 else divide(value, self._nonzero(expr, z3.IntVal(int(denominator))))


def _has_fraction(expr: sympy.Basic) -> bool:
    """A sympy rational constant that is not an integer (``x/3``): torch writes true division as
    ``IntTrueDiv``, sympy's own ``floor(x/3)`` keeps a ``Rational``."""
    return any(not isinstance(r, sympy.Integer) for r in expr.atoms(sympy.Rational)) or any(
        p.exp.is_negative for p in expr.atoms(sympy.Pow))

