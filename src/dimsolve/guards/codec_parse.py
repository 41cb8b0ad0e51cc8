"""The codec's reader: text to sympy by recursive descent, never ``eval``/``sympify``.

Guard text comes back from cache files and service requests, so the parser can only build the
expressions the grammar lists (see ``guards.codec``) and checks every limit while it builds:
nesting depth, operand counts, integer and exponent sizes. A bad input costs a ``CodecError``,
never an unbounded sympy computation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import sympy

from dimsolve.guards.codec_grammar import (BOOL, DEFAULT_MAX_DEPTH, DEFAULT_MAX_LEN, FUNCTIONS, KIND_WORDS,
                                           LATTICE_NAMES, MAX_EXPONENT, MAX_INT, MAX_OPERANDS, NUM, CodecError, Fn,
                                           arg_kinds, check_name, kind_of, resolve)
from dimsolve.guards.codec_tokens import Token, tokenize

_BINARY_PREC = {"|": 2, "&": 3, "+": 4, "-": 4, "*": 5, "//": 5}
_COMPARISONS: dict[str, Callable[[sympy.Basic, sympy.Basic], sympy.Basic]] = {
    "==": sympy.Eq, "!=": sympy.Ne, "<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge,
}


def parse_expr(
    text: str,
    *,
    symbols: Mapping[str, sympy.Symbol] | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_len: int = DEFAULT_MAX_LEN,
) -> sympy.Basic:
    """Read an expression written by ``format_expr`` or printed by torch.

    >>> parse_expr("Eq((s0//2), s1)")
    Eq((s0//2), s1)

    Names become ``symbols[name]`` when given, else ``Symbol(name, integer=True)``. Anything outside
    the grammar, nesting deeper than ``max_depth``, text longer than ``max_len`` characters and
    integer constants beyond ``10**30`` raise ``CodecError``.
    """
    if not isinstance(text, str):
        raise CodecError(f"expected a string, got {type(text).__name__}")
    if len(text) > max_len:
        raise CodecError(f"expression is {len(text)} characters long; the limit is {max_len}")
    parser = _Parser(tokenize(text), symbols or {}, max_depth)
    try:
        result = parser.parse()
    except RecursionError:
        raise CodecError("expression is nested too deeply") from None
    _check_constants(result)
    return result


class _Parser:
    def __init__(self, tokens: Sequence[Token], symbols: Mapping[str, sympy.Symbol], max_depth: int) -> None:
        self.tokens = tokens
        self.index = 0
        self.symbols = symbols
        self.max_depth = max_depth
        self.depth = 0

    # token helpers
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def expect(self, op: str) -> Token:
        token = self.take()
        if token.kind != "op" or token.text != op:
            raise CodecError(f"expected {op!r}, found {token.describe()}", token.pos)
        return token

    def parse(self) -> sympy.Basic:
        if self.peek().kind == "end":
            raise CodecError("empty expression", 0)
        value = self.expr()
        token = self.peek()
        if token.kind != "end":
            raise CodecError(f"unexpected {token.describe()} after a complete expression", token.pos)
        return value

    # grammar
    def expr(self) -> sympy.Basic:
        left = self.binary(2)
        token = self.peek()
        if token.kind != "op" or token.text not in _COMPARISONS:
            return left
        self.take()
        right = self.binary(2)
        after = self.peek()
        if after.kind == "op" and after.text in _COMPARISONS:
            raise CodecError("chained comparisons are not supported; combine them with '&'", after.pos)
        _need(left, NUM, token)
        _need(right, NUM, token)
        return _build(_COMPARISONS[token.text], (left, right), token)

    def binary(self, min_prec: int) -> sympy.Basic:
        left = self.unary()
        while (prec := self._prec(self.peek())) >= min_prec:
            ops: list[Token] = []
            operands = [left]
            while self._prec(self.peek()) == prec:
                ops.append(self.take())
                operands.append(self.binary(prec + 1))
            left = _fold(ops, operands)
        return left

    @staticmethod
    def _prec(token: Token) -> int:
        return _BINARY_PREC.get(token.text, 0) if token.kind == "op" else 0

    def unary(self) -> sympy.Basic:
        self.depth += 1
        if self.depth > self.max_depth:
            raise CodecError(f"expression is nested more than {self.max_depth} levels deep", self.peek().pos)
        token = self.peek()
        if token.kind == "op" and token.text in ("-", "~"):
            self.take()
            operand = self.unary()
            result = _negate(operand, token) if token.text == "-" else _not(operand, token)
        else:
            result = self.power()
        self.depth -= 1
        return result

    def power(self) -> sympy.Basic:
        base = self.primary()
        token = self.peek()
        if token.kind != "op" or token.text != "**":
            return base
        self.take()
        exponent = self.unary()
        return _power(base, exponent, token)

    def primary(self) -> sympy.Basic:
        token = self.take()
        if token.kind == "int":
            return _integer(token)
        if token.kind == "name":
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(token)
            return self.name(token)
        if token.kind == "op" and token.text == "(":
            value = self.expr()
            self.expect(")")
            return value
        raise CodecError(f"unexpected {token.describe()}", token.pos)

    def name(self, token: Token) -> sympy.Basic:
        name = token.text
        if name in ("True", "False"):
            return sympy.true if name == "True" else sympy.false
        check_name(name, token.pos)
        symbol = self.symbols.get(name)
        return symbol if symbol is not None else sympy.Symbol(name, integer=True)

    def call(self, token: Token) -> sympy.Basic:
        fn = FUNCTIONS.get(token.text)
        if fn is None:
            raise CodecError(f"unknown function {token.text!r}", token.pos)
        self.expect("(")
        args = [self.expr()]
        while self.peek().kind == "op" and self.peek().text == ",":
            self.take()
            args.append(self.expr())
        self.expect(")")
        _check_call(token.text, fn, args, token.pos)
        if token.text == "PowByNatural" and all(isinstance(a, sympy.Integer) for a in args):
            _check_power(args[0], args[1], token)
        function = resolve(token.text, token.pos)
        if token.text in LATTICE_NAMES:
            _check_operands(function, args, token)
        return _build(function, args, token)


def _check_call(name: str, fn: Fn, args: Sequence[sympy.Basic], pos: int) -> None:
    count = len(args)
    if count < fn.min_args or (fn.max_args is not None and count > fn.max_args):
        expected = str(fn.min_args) if fn.min_args == fn.max_args else f"at least {fn.min_args}"
        raise CodecError(f"{name} takes {expected} argument(s), got {count}", pos)
    for i, (arg, kind) in enumerate(zip(args, arg_kinds(fn, count))):
        if kind_of(arg) != kind:
            raise CodecError(f"argument {i + 1} of {name} must be {KIND_WORDS[kind]}", pos)


def _check_operands(function: Callable[..., sympy.Basic], args: Sequence[sympy.Basic], token: Token) -> None:
    flattens = isinstance(function, type)
    count = sum(len(a.args) if flattens and type(a) is function else 1 for a in args)
    if count > MAX_OPERANDS:
        raise CodecError(f"{token.text!r} has {count} operands; the limit is {MAX_OPERANDS}", token.pos)


def _need(value: sympy.Basic, kind: str, token: Token) -> None:
    if kind_of(value) != kind:
        raise CodecError(f"{token.text!r} needs {KIND_WORDS[kind]} on each side", token.pos)


def _build(fn: Callable[..., sympy.Basic], args: Sequence[sympy.Basic], token: Token) -> sympy.Basic:
    try:
        return fn(*args)
    # sympy and torch evaluate constants eagerly and signal bad ones with assorted exception types
    except RecursionError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CodecError(f"cannot evaluate {token.text}: {type(exc).__name__}: {exc}", token.pos) from None


def _fold(ops: Sequence[Token], operands: Sequence[sympy.Basic]) -> sympy.Basic:
    """Combine one run of same-precedence operators at once (a long ``a + b + ...`` stays linear)."""
    first = ops[0]
    kind = BOOL if first.text in ("&", "|") else NUM
    for op, operand in zip((first, *ops), operands):
        _need(operand, kind, op)
    if first.text in ("&", "|"):
        function = sympy.And if first.text == "&" else sympy.Or
        _check_operands(function, operands, first)
        return _build(function, operands, first)
    if first.text in ("+", "-"):
        terms = [operands[0]] + [_negate(v, op) if op.text == "-" else v for op, v in zip(ops, operands[1:])]
        return _build(sympy.Add, terms, first)
    return _fold_products(ops, operands)


def _fold_products(ops: Sequence[Token], operands: Sequence[sympy.Basic]) -> sympy.Basic:
    factors = [operands[0]]
    for op, operand in zip(ops, operands[1:]):
        if op.text == "*":
            factors.append(operand)
            continue
        dividend = _build(sympy.Mul, factors, op)
        factors = [_build(resolve("FloorDiv", op.pos), (dividend, operand), op)]
    return _build(sympy.Mul, factors, ops[0])


def _negate(value: sympy.Basic, token: Token) -> sympy.Basic:
    _need(value, NUM, token)
    return _build(sympy.Mul, (sympy.S.NegativeOne, value), token)


def _not(value: sympy.Basic, token: Token) -> sympy.Basic:
    _need(value, BOOL, token)
    return _build(sympy.Not, (value,), token)


def _integer(token: Token) -> sympy.Integer:
    if len(token.text) > len(str(MAX_INT)) or int(token.text) > MAX_INT:
        raise CodecError("integer constant is too large (limit 10**30)", token.pos)
    return sympy.Integer(int(token.text))


def _power(base: sympy.Basic, exponent: sympy.Basic, token: Token) -> sympy.Basic:
    _need(base, NUM, token)
    _need(exponent, NUM, token)
    _check_power(base, exponent, token)
    return _build(sympy.Pow, (base, exponent), token)


def _check_power(base: sympy.Basic, exponent: sympy.Basic, token: Token) -> None:
    if not isinstance(exponent, sympy.Integer) or not 0 <= int(exponent) <= MAX_EXPONENT:
        raise CodecError(f"exponent must be an integer constant from 0 to {MAX_EXPONENT}", token.pos)
    # both bounded (10**30, 64), so computing the power first is cheap
    if isinstance(base, sympy.Integer) and abs(int(base)) ** int(exponent) > MAX_INT:
        raise CodecError("integer constant is too large (limit 10**30)", token.pos)


def _check_constants(expr: sympy.Basic) -> None:
    for number in expr.atoms(sympy.Integer):
        if abs(int(number)) > MAX_INT:
            raise CodecError("integer constant is too large (limit 10**30)")
