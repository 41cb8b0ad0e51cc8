"""Integer arithmetic on z3 terms with Python's semantics: ``//`` and ``%`` round towards -inf.

z3's integer ``div``/``mod`` are Euclidean (the remainder is never negative); they agree with
Python's for positive divisors, and other divisors are rewritten (``a // b`` as ``(-a) div (-b)``).
Terms are built straight through z3's C API: z3's Python operators infer and coerce sorts on every
call, which was most of the translation time at 10k guards. Every operand here is already an
integer (``translate.Translator`` checks sorts on the sympy side).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import z3


def constant(value: z3.ArithRef) -> int | None:
    """The value of a z3 integer numeral, None for any other term."""
    ctx, ast = value.ctx_ref(), value.as_ast()
    return int(z3.Z3_get_numeral_string(ctx, ast)) if z3.Z3_is_numeral_ast(ctx, ast) else None


def nary(make: Callable[..., z3.Ast], args: Sequence[z3.ArithRef]) -> z3.ArithRef:
    """``make`` (``Z3_mk_add``, ``Z3_mk_mul`` ...) over every term of ``args`` at once."""
    if len(args) == 1:
        return args[0]
    ctx = args[0].ctx
    return z3.ArithRef(make(ctx.ref(), len(args), (z3.Ast * len(args))(*(a.as_ast() for a in args))), ctx)


def relation(make: Callable[..., z3.Ast], negate: bool = False) -> Callable[[z3.ExprRef, z3.ExprRef], z3.BoolRef]:
    def build(a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
        ctx = a.ctx
        term = make(ctx.ref(), a.as_ast(), b.as_ast())
        return z3.BoolRef(z3.Z3_mk_not(ctx.ref(), term) if negate else term, ctx)

    return build


def binary(make: Callable[..., z3.Ast], a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return z3.ArithRef(make(a.ctx_ref(), a.as_ast(), b.as_ast()), a.ctx)


def floordiv(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    """Python's ``a // b`` (b != 0)."""
    c = constant(b)
    if c is not None and c > 0:
        return binary(z3.Z3_mk_div, a, b)
    if c is not None:
        return (-a) / z3.IntVal(-c)
    return z3.If(b > 0, a / b, (-a) / (-b))


def pymod(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    """Python's ``a % b`` (b != 0): the result has the sign of ``b``."""
    c = constant(b)
    if c is not None and c > 0:
        return binary(z3.Z3_mk_mod, a, b)
    return a - b * floordiv(a, b)


def ceildiv(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return -floordiv(-a, b)


def truncdiv(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    """C's ``a / b``: rounds towards zero."""
    return z3.If((a >= 0) == (b > 0), floordiv(a, b), ceildiv(a, b))


def smaller(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return z3.If(a <= b, a, b)


def larger(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return z3.If(a >= b, a, b)
