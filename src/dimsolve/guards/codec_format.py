"""The codec's writer: sympy to the text ``parse_expr`` reads back to an equal expression.

Writing is the stricter direction: rationals, floats, negative or symbolic exponents and
functions outside the grammar have no text form, so they raise ``CodecError`` here rather than
produce text that would read back as a different expression.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sympy
from sympy.core.function import Application

from dimsolve.guards.codec_grammar import (FUNCTIONS, MAX_EXPONENT, MAX_INT, NUM, CodecError, arg_kinds, check_name,
                                           kind_of)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)

_P_CMP, _P_ADD, _P_MUL, _P_UNARY, _P_POW, _P_ATOM = 1, 4, 5, 6, 7, 8
_INFIX = {sympy.StrictLessThan: "<", sympy.LessThan: "<=", sympy.StrictGreaterThan: ">", sympy.GreaterThan: ">="}
_CALL_RELATIONALS = {sympy.Equality: "Eq", sympy.Unequality: "Ne"}


def format_expr(expr: sympy.Basic) -> str:
    """Write ``expr`` in the grammar ``parse_expr`` reads; ``parse_expr(format_expr(e)) == e``.

    >>> format_expr(parse_expr("Eq((s0//2), s1) | (s0 > 4)"))
    'Or(s0 > 4, Eq(FloorDiv(s0, 2), s1))'

    Divisions and boolean operators are written as calls; symbols as their names only (pass the
    same symbols back to ``parse_expr``). Rationals, floats, negative or symbolic exponents and
    functions outside ``FUNCTION_NAMES`` raise ``CodecError``.
    """
    return _fmt(expr, 0)


def _fmt(expr: sympy.Basic, context: int) -> str:
    text, prec = _fmt_node(expr)
    return f"({text})" if prec < context else text


def _fmt_node(expr: sympy.Basic) -> tuple[str, int]:
    if expr is sympy.true or expr is sympy.false:
        return str(bool(expr)), _P_ATOM
    if isinstance(expr, sympy.Integer):
        return _fmt_integer(expr)
    if isinstance(expr, sympy.Symbol):
        _fmt_check_name(expr.name)
        return expr.name, _P_ATOM
    if isinstance(expr, sympy.Add):
        return _fmt_add(expr), _P_ADD
    if isinstance(expr, sympy.Mul):
        return _fmt_mul(expr), _P_MUL
    if isinstance(expr, sympy.Pow):
        return _fmt_pow(expr), _P_POW
    if isinstance(expr, sympy.core.relational.Relational):
        return _fmt_relational(expr)
    if isinstance(expr, Application) and type(expr).__name__ in FUNCTIONS:
        return _fmt_call(type(expr).__name__, expr.args), _P_ATOM
    raise CodecError(f"cannot write {type(expr).__name__} expressions: {expr}")


def _fmt_integer(expr: sympy.Integer) -> tuple[str, int]:
    value = int(expr)
    if abs(value) > MAX_INT:
        raise CodecError(f"integer constant {value} is too large (limit 10**30)")
    return str(value), (_P_ATOM if value >= 0 else _P_UNARY)


def _fmt_check_name(name: str) -> None:
    if not _NAME.match(name) or name in ("True", "False"):
        raise CodecError(f"symbol name {name!r} cannot be written")
    check_name(name, 0)


def _fmt_add(expr: sympy.Add) -> str:
    terms = expr.as_ordered_terms()
    parts = [_fmt(terms[0], _P_ADD)]
    for term in terms[1:]:
        if term.as_coeff_Mul()[0].is_negative:
            parts.append(f" - {_fmt(-term, _P_MUL)}")
        else:
            parts.append(f" + {_fmt(term, _P_MUL)}")
    return "".join(parts)


def _fmt_mul(expr: sympy.Mul) -> str:
    coeff, rest = expr.as_coeff_Mul()
    if not isinstance(coeff, sympy.Integer):
        raise CodecError(f"cannot write non-integer coefficients: {expr}")
    factors = "*".join(_fmt(f, _P_MUL + 1) for f in sympy.Mul.make_args(rest))
    if coeff == 1:
        return factors
    if coeff == -1 and any(isinstance(f, sympy.Add) for f in sympy.Mul.make_args(rest)):
        # ``-(x + y)*z`` would parse as ``(-x - y)*z`` (sympy distributes the sign); ``-1*`` keeps
        # the sign a factor of the same product
        return f"-1*{factors}"
    if coeff == -1:
        return f"-{factors}"  # Python reads -a*b as (-a)*b: the same product
    return f"{coeff}*{factors}"


def _fmt_pow(expr: sympy.Pow) -> str:
    base, exponent = expr.args
    if not isinstance(exponent, sympy.Integer) or not 0 <= int(exponent) <= MAX_EXPONENT:
        raise CodecError(f"cannot write exponents other than integers from 0 to {MAX_EXPONENT}: {expr}")
    return f"{_fmt(base, _P_ATOM)}**{exponent}"


def _fmt_relational(expr: sympy.Basic) -> tuple[str, int]:
    lhs, rhs = expr.args
    if kind_of(lhs) != NUM or kind_of(rhs) != NUM:
        raise CodecError(f"cannot write comparisons of conditions: {expr}")
    name = _CALL_RELATIONALS.get(type(expr))
    if name is not None:
        return _fmt_call(name, expr.args), _P_ATOM
    op = _INFIX.get(type(expr))
    if op is None:
        raise CodecError(f"cannot write {type(expr).__name__} expressions: {expr}")
    return f"{_fmt(lhs, _P_ADD)} {op} {_fmt(rhs, _P_ADD)}", _P_CMP


def _fmt_call(name: str, args: Sequence[sympy.Basic]) -> str:
    fn = FUNCTIONS[name]
    kinds = arg_kinds(fn, len(args))
    ok_count = fn.min_args <= len(args) and (fn.max_args is None or len(args) <= fn.max_args)
    if not ok_count or any(kind_of(a) != k for a, k in zip(args, kinds)):
        raise CodecError(f"cannot write {name} with these arguments: {', '.join(map(str, args))}")
    return f"{name}({', '.join(_fmt(a, 0) for a in args)})"
