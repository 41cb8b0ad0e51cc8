"""sympy → z3 for torch's shape expressions, with Python's integer semantics.

torch's own sympy functions are recognised by class *name* (``FloorDiv``, ``PythonMod`` ...), so
this module never imports torch and works on expressions read back by ``guards.codec`` too.
Anything without an exact translation raises ``Unsupported`` carrying the offending
sub-expression; nothing is dropped or approximated.

Division: z3's integer ``div``/``mod`` are Euclidean (the remainder is never negative), Python's
``//``/``%`` round towards -inf (the remainder has the divisor's sign). They agree for positive
divisors; for other divisors we rewrite ``a // b`` as ``(-a) div (-b)``. A symbolic divisor of 0
is left to z3's unspecified division by zero (torch would have raised while tracing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import reduce
from typing import cast

import sympy
import z3
from sympy.logic.boolalg import BooleanFunction

MAX_EXPONENT = 64


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


# --- integer arithmetic with Python semantics ----------------------------------------------------


def _constant(value: z3.ArithRef) -> int | None:
    ctx, ast = value.ctx_ref(), value.as_ast()
    return int(z3.Z3_get_numeral_string(ctx, ast)) if z3.Z3_is_numeral_ast(ctx, ast) else None


# Terms of many guards are built straight through z3's C API: z3's Python operators infer and
# coerce sorts on every call, which was most of the translation time at 10k guards. Every operand
# here is already an integer (``Translator`` checks sorts on the sympy side).


def _nary(make: Callable[..., z3.Ast], args: Sequence[z3.ArithRef]) -> z3.ArithRef:
    if len(args) == 1:
        return args[0]
    ctx = args[0].ctx
    return z3.ArithRef(make(ctx.ref(), len(args), (z3.Ast * len(args))(*(a.as_ast() for a in args))), ctx)


def _relation(make: Callable[..., z3.Ast], negate: bool = False) -> Callable[[z3.ExprRef, z3.ExprRef], z3.BoolRef]:
    def build(a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
        ctx = a.ctx
        term = make(ctx.ref(), a.as_ast(), b.as_ast())
        return z3.BoolRef(z3.Z3_mk_not(ctx.ref(), term) if negate else term, ctx)

    return build


def _binary(make: Callable[..., z3.Ast], a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return z3.ArithRef(make(a.ctx_ref(), a.as_ast(), b.as_ast()), a.ctx)


def floordiv(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    """Python's ``a // b`` (b != 0)."""
    c = _constant(b)
    if c is not None and c > 0:
        return _binary(z3.Z3_mk_div, a, b)
    if c is not None:
        return (-a) / z3.IntVal(-c)
    return z3.If(b > 0, a / b, (-a) / (-b))


def pymod(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    """Python's ``a % b`` (b != 0): the result has the sign of ``b``."""
    c = _constant(b)
    if c is not None and c > 0:
        return _binary(z3.Z3_mk_mod, a, b)
    return a - b * floordiv(a, b)


def ceildiv(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return -floordiv(-a, b)


def truncdiv(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    """C's ``a / b``: rounds towards zero."""
    return z3.If((a >= 0) == (b > 0), floordiv(a, b), ceildiv(a, b))


def _min(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return z3.If(a <= b, a, b)


def _max(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return z3.If(a >= b, a, b)


_DIVISIONS: dict[str, Callable[[z3.ArithRef, z3.ArithRef], z3.ArithRef]] = {
    "FloorDiv": floordiv,
    "CleanDiv": floordiv,  # exact by torch's construction: equal to floor division
    "CeilDiv": ceildiv,
    "Mod": pymod,  # torch's Mod is only used on non-negative arguments, where it equals Python's
    "PythonMod": pymod,
}
_ROUNDINGS: dict[str, Callable[[z3.ArithRef, z3.ArithRef], z3.ArithRef]] = {
    "floor": floordiv, "FloorToInt": floordiv, "ceiling": ceildiv, "CeilToInt": ceildiv, "TruncToInt": truncdiv,
}
_COMPARE: dict[type, Callable[[z3.ExprRef, z3.ExprRef], z3.BoolRef]] = {
    sympy.Equality: _relation(z3.Z3_mk_eq),
    sympy.Unequality: _relation(z3.Z3_mk_eq, negate=True),
    sympy.StrictLessThan: _relation(z3.Z3_mk_lt),
    sympy.LessThan: _relation(z3.Z3_mk_le),
    sympy.StrictGreaterThan: _relation(z3.Z3_mk_gt),
    sympy.GreaterThan: _relation(z3.Z3_mk_ge),
}


class Translator:
    """sympy -> z3 with one cache for many expressions: a sub-term shared by several guards (a
    product, a ``FloorDiv``) is translated once. Each node's sort (integer or condition) is known
    from its sympy class, so no sort is asked of z3 (slow through its Python API).

    >>> s0, s1 = sympy.symbols("s0 s1", integer=True)
    >>> t = Translator(z3_int_vars(["s0", "s1"]))
    >>> t.condition(sympy.Eq(2 * s0, s1)), t.term(2 * s0)
    (2*s0 == s1, 2*s0)
    """

    def __init__(self, env: Mapping[str, z3.ArithRef]) -> None:
        self.env = env
        self.cache: dict[sympy.Basic, tuple[z3.ExprRef, bool]] = {}  # expr -> (z3 term, is a condition)

    def term(self, expr: sympy.Basic) -> z3.ExprRef:
        return self._node(expr)[0]

    def condition(self, expr: sympy.Basic) -> z3.BoolRef:
        value, is_bool = self._node(expr)
        if not is_bool:
            raise _unsupported(expr, "expected a condition")
        return cast(z3.BoolRef, value)

    def integer(self, expr: sympy.Basic) -> z3.ArithRef:
        value, is_bool = self._node(expr)
        if is_bool:
            raise _unsupported(expr, "expected an integer expression")
        return cast(z3.ArithRef, value)

    def integers(self, args: Sequence[sympy.Basic]) -> list[z3.ArithRef]:
        return [self.integer(a) for a in args]

    def _node(self, expr: sympy.Basic) -> tuple[z3.ExprRef, bool]:
        cached = self.cache.get(expr)
        if cached is None:
            cached = self.cache[expr] = (self._translate(expr), _is_condition(expr))
        return cached

    def _translate(self, expr: sympy.Basic) -> z3.ExprRef:
        if expr is sympy.true or expr is sympy.false:
            return z3.BoolVal(bool(expr))
        if isinstance(expr, sympy.Number):
            return self._number(expr)
        if isinstance(expr, sympy.Symbol):
            return self._symbol(expr)
        if isinstance(expr, sympy.Add):
            return _nary(z3.Z3_mk_add, self.integers(expr.args))
        if isinstance(expr, sympy.Mul):
            return _nary(z3.Z3_mk_mul, self.integers(expr.args))
        if isinstance(expr, sympy.Pow):
            return self._power(expr, *expr.args)
        if type(expr) in _COMPARE:
            return self._compare(expr)
        return self._logic(expr) if isinstance(expr, BooleanFunction) else self._function(expr)

    def _number(self, expr: sympy.Number) -> z3.ExprRef:
        if isinstance(expr, sympy.Integer):
            return z3.IntVal(int(expr))
        raise _unsupported(expr, "only integer constants are supported")

    def _symbol(self, expr: sympy.Symbol) -> z3.ExprRef:
        value = self.env.get(expr.name)
        if value is None:
            raise _unsupported(expr, "unknown symbol")
        if not z3.is_int(value):  # once per symbol: every other node's sort follows from its class
            raise _unsupported(expr, "symbols stand for integer sizes")
        return value

    def _power(self, expr: sympy.Basic, base: sympy.Basic, exponent: sympy.Basic) -> z3.ArithRef:
        if not isinstance(exponent, sympy.Integer) or not 0 <= int(exponent) <= MAX_EXPONENT:
            raise _unsupported(expr, f"exponent must be an integer constant from 0 to {MAX_EXPONENT}")
        value = self.integer(base)
        return reduce(lambda acc, _: acc * value, range(int(exponent) - 1), value) if exponent else z3.IntVal(1)

    def _compare(self, expr: sympy.Basic) -> z3.BoolRef:
        (lhs, lhs_bool), (rhs, rhs_bool) = (self._node(a) for a in expr.args)
        ordered = type(expr) in (sympy.Equality, sympy.Unequality) or not lhs_bool
        if lhs_bool != rhs_bool or not ordered:
            raise _unsupported(expr, "comparison of a number with a condition")
        return _COMPARE[type(expr)](lhs, rhs)

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

    def _function(self, expr: sympy.Basic) -> z3.ExprRef:
        name = type(expr).__name__
        if name in _DIVISIONS:
            a, b = self._dividend_divisor(expr, *expr.args)
            return _DIVISIONS[name](a, b)
        if name in _ROUNDINGS:
            return self._rounding(expr, _ROUNDINGS[name])
        if name in ("Min", "Max"):
            return reduce(_min if name == "Min" else _max, self.integers(expr.args))
        if name == "Abs":
            value = self.integer(expr.args[0])
            return z3.If(value >= 0, value, -value)
        return self._other_function(expr, name)

    def _other_function(self, expr: sympy.Basic, name: str) -> z3.ExprRef:
        if name == "PowByNatural":
            return self._power(expr, *expr.args)
        if name == "Identity":
            return self.integer(expr.args[0])
        if name == "ModularIndexing":
            base, divisor, modulus = self.integers(expr.args)
            return pymod(floordiv(base, self._nonzero(expr, divisor)), self._nonzero(expr, modulus))
        if name == "Where":
            condition = self.condition(expr.args[0])
            return z3.If(condition, self.integer(expr.args[1]), self.integer(expr.args[2]))
        if name == "IntTrueDiv":
            raise _unsupported(expr, "true division is only supported inside FloorToInt, CeilToInt or TruncToInt")
        raise _unsupported(expr, f"no translation for {name}")

    def _dividend_divisor(self, expr: sympy.Basic, a: sympy.Basic, b: sympy.Basic) -> tuple[z3.ArithRef, z3.ArithRef]:
        return self.integer(a), self._nonzero(expr, self.integer(b))

    @staticmethod
    def _nonzero(expr: sympy.Basic, divisor: z3.ArithRef) -> z3.ArithRef:
        if _constant(divisor) == 0:
            raise _unsupported(expr, "division by zero")
        return divisor

    def _rounding(self, expr: sympy.Basic, divide: Callable[[z3.ArithRef, z3.ArithRef], z3.ArithRef]) -> z3.ArithRef:
        """``floor``/``ceiling``/``trunc`` of ``IntTrueDiv(a, b)`` or of ``p/q`` with a constant ``q``."""
        (arg,) = expr.args
        if type(arg).__name__ == "IntTrueDiv":
            a, b = self._dividend_divisor(arg, *arg.args)
            return divide(a, b)
        numerator, denominator = sympy.fraction(sympy.together(arg))
        if not isinstance(denominator, sympy.Integer):
            raise _unsupported(expr, "rounding is only supported for a quotient by an integer constant")
        value = self.integer(numerator)
        return value if denominator == 1 else divide(value, self._nonzero(expr, z3.IntVal(int(denominator))))


def _is_condition(expr: sympy.Basic) -> bool:
    """The sort of ``expr``'s translation: every node ``_translate`` accepts is an integer or a condition."""
    return expr is sympy.true or expr is sympy.false or type(expr) in _COMPARE or isinstance(expr, BooleanFunction)
