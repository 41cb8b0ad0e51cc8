"""dimsolve's own grammar for torch's shape expressions: text ⇄ sympy, never ``eval``/``sympify``.

Guard expressions cross process boundaries (cache files, JSON), so they are read back by a small
hand-written parser that can only build the expressions listed here::

    expr    := or ( ('=='|'!='|'<'|'<='|'>'|'>=') or )?     # one comparison, no chains
    or      := and ('|' and)*                               # boolean: Or
    and     := sum ('&' sum)*                               # boolean: And
    sum     := term (('+'|'-') term)*
    term    := unary (('*'|'//') unary)*                    # '//' is torch's FloorDiv
    unary   := ('-'|'~') unary | power                      # '~' is Not
    power   := primary ('**' unary)?                        # exponent: an integer constant in [0, 64]
    primary := INT | NAME | 'True' | 'False' | NAME '(' expr (',' expr)* ')' | '(' expr ')'

Precedence is Python's, so the text torch prints (``Eq((s0//2), s1)``, ``(s0 > 2) & Ne(s0, s1)``)
reads back with the meaning Python would give it. The callable names are ``FUNCTION_NAMES``;
torch's own classes (``FloorDiv``, ``Mod``, ``Min`` ...) are imported from
``torch.utils._sympy.functions`` only when an expression uses them (without torch, using one is
a ``CodecError``). Limits keep hostile text cheap: ``max_len`` characters, ``max_depth`` levels
of nesting, integer constants up to ``10**30``, exponents up to 64 and at most 256 operands in
one ``And``/``Or``/``Min``/``Max``.

Symbols: torch creates input sizes as ``Symbol("s0", integer=True, positive=True)`` and unbacked
sizes as ``Symbol("u0", integer=True)``; sympy symbols with different assumptions are different
symbols. The text carries names only, so ``parse_expr`` takes the caller's symbols (``symbols=``)
and otherwise creates ``Symbol(name, integer=True)``, the same as ``SymbolInfo.sympy()``.
"""

from __future__ import annotations

import functools
import importlib
import keyword
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

import sympy
from sympy.core.function import Application

MAX_INT = 10**30
MAX_EXPONENT = 64
MAX_OPERANDS = 256  # of one And/Or/Min/Max after flattening: sympy simplifies them in quadratic time
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_LEN = 100_000


class CodecError(ValueError):
    """Text that is not a dimsolve expression, or an expression that has no text form.

    ``position`` is the character offset in the text (None when the problem is not at one place).
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        where = "" if position is None else f" (at position {position})"
        super().__init__(message + where)
        self.message = message
        self.position = position


# --- the callable names ------------------------------------------------------------------------

_NUM, _BOOL = "n", "b"


@dataclass(frozen=True, slots=True)
class _Fn:
    """A callable name: its arity, argument kinds (one letter per argument, or one for all) and where it lives."""

    min_args: int
    max_args: int | None
    kinds: str
    source: str  # "sympy" or "torch"


_FUNCTIONS: dict[str, _Fn] = {
    **{name: _Fn(2, 2, _NUM, "sympy") for name in ("Eq", "Ne", "Lt", "Le", "Gt", "Ge")},
    "And": _Fn(1, None, _BOOL, "sympy"),
    "Or": _Fn(1, None, _BOOL, "sympy"),
    "Not": _Fn(1, 1, _BOOL, "sympy"),
    "Abs": _Fn(1, 1, _NUM, "sympy"),
    "floor": _Fn(1, 1, _NUM, "sympy"),
    "ceiling": _Fn(1, 1, _NUM, "sympy"),
    **{name: _Fn(2, 2, _NUM, "torch") for name in ("FloorDiv", "CeilDiv", "CleanDiv", "Mod", "PythonMod")},
    **{name: _Fn(2, 2, _NUM, "torch") for name in ("IntTrueDiv", "PowByNatural")},
    **{name: _Fn(1, 1, _NUM, "torch") for name in ("TruncToInt", "FloorToInt", "CeilToInt", "Identity")},
    "Min": _Fn(1, None, _NUM, "torch"),
    "Max": _Fn(1, None, _NUM, "torch"),
    "ModularIndexing": _Fn(3, 3, _NUM, "torch"),
    "Where": _Fn(3, 3, _BOOL + _NUM + _NUM, "torch"),
}

FUNCTION_NAMES: frozenset[str] = frozenset(_FUNCTIONS)
_RESERVED = {"int_oo", "oo", "zoo", "nan", "None"}


@functools.lru_cache(maxsize=1)
def _torch_functions() -> ModuleType | None:
    try:
        return importlib.import_module("torch.utils._sympy.functions")
    except ImportError:
        return None


def _resolve(name: str, position: int | None) -> Callable[..., sympy.Basic]:
    fn = _FUNCTIONS[name]
    module = sympy if fn.source == "sympy" else _torch_functions()
    if module is None or not hasattr(module, name):
        raise CodecError(f"{name} needs torch's sympy functions (torch.utils._sympy.functions)", position)
    resolved: Callable[..., sympy.Basic] = getattr(module, name)
    return resolved


def _kind_of(value: sympy.Basic) -> str:
    # not ``isinstance(value, Boolean)``: sympy's Symbol is both an Expr and a Boolean
    return _NUM if isinstance(value, sympy.Expr) else _BOOL


def _arg_kinds(fn: _Fn, count: int) -> str:
    return fn.kinds * count if len(fn.kinds) == 1 else fn.kinds


# --- tokens ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\n]+)|(?P<int>[0-9]+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|//|==|!=|<=|>=|[-+*<>&|~(),])",
    re.ASCII,
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)

_HINTS = {
    ".": "attribute access and decimal points are not supported",
    "[": "subscripts are not supported",
    "]": "subscripts are not supported",
    "'": "strings are not supported",
    '"': "strings are not supported",
    "/": "true division '/' is not supported; use FloorDiv(a, b) or a // b",
    "%": "'%' is not supported; use Mod(a, b) or PythonMod(a, b)",
    ":": "lambdas, slices and annotations are not supported",
    "=": "assignment is not supported; compare with '=='",
}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "int", "name", "op" or "end"
    text: str
    pos: int

    def describe(self) -> str:
        return "end of expression" if self.kind == "end" else repr(self.text)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; any character outside the grammar is a ``CodecError``."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _bad_character(text[pos], pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _bad_character(ch: str, pos: int) -> CodecError:
    if ch in _HINTS:
        return CodecError(f"unexpected {ch!r}: {_HINTS[ch]}", pos)
    if not ch.isascii():
        return CodecError(f"unexpected character {ch!r}: only ASCII names, numbers and operators are allowed", pos)
    return CodecError(f"unexpected character {ch!r}", pos)


# --- parser ------------------------------------------------------------------------------------

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
        _need(left, _NUM, token)
        _need(right, _NUM, token)
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
        _check_name(name, token.pos)
        symbol = self.symbols.get(name)
        return symbol if symbol is not None else sympy.Symbol(name, integer=True)

    def call(self, token: Token) -> sympy.Basic:
        fn = _FUNCTIONS.get(token.text)
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
        function = _resolve(token.text, token.pos)
        if token.text in _LATTICE_NAMES:
            _check_operands(function, args, token)
        return _build(function, args, token)


def _check_name(name: str, pos: int) -> None:
    if name in _FUNCTIONS:
        raise CodecError(f"{name!r} is a function: call it as {name}(...)", pos)
    if keyword.iskeyword(name) or name in _RESERVED:
        hint = "; use '&', '|' and '~'" if name in ("and", "or", "not") else ""
        raise CodecError(f"{name!r} is not supported{hint}", pos)
    if name.startswith("__"):
        raise CodecError(f"names starting with '__' are not allowed: {name!r}", pos)


def _check_call(name: str, fn: _Fn, args: Sequence[sympy.Basic], pos: int) -> None:
    count = len(args)
    if count < fn.min_args or (fn.max_args is not None and count > fn.max_args):
        expected = str(fn.min_args) if fn.min_args == fn.max_args else f"at least {fn.min_args}"
        raise CodecError(f"{name} takes {expected} argument(s), got {count}", pos)
    for i, (arg, kind) in enumerate(zip(args, _arg_kinds(fn, count))):
        if _kind_of(arg) != kind:
            raise CodecError(f"argument {i + 1} of {name} must be {_KIND_WORDS[kind]}", pos)


_KIND_WORDS = {_NUM: "a number", _BOOL: "a condition"}


_LATTICE_NAMES = {"And", "Or", "Min", "Max"}


def _check_operands(function: Callable[..., sympy.Basic], args: Sequence[sympy.Basic], token: Token) -> None:
    flattens = isinstance(function, type)
    count = sum(len(a.args) if flattens and type(a) is function else 1 for a in args)
    if count > MAX_OPERANDS:
        raise CodecError(f"{token.text!r} has {count} operands; the limit is {MAX_OPERANDS}", token.pos)


def _need(value: sympy.Basic, kind: str, token: Token) -> None:
    if _kind_of(value) != kind:
        raise CodecError(f"{token.text!r} needs {_KIND_WORDS[kind]} on each side", token.pos)


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
    kind = _BOOL if first.text in ("&", "|") else _NUM
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
        factors = [_build(_resolve("FloorDiv", op.pos), (dividend, operand), op)]
    return _build(sympy.Mul, factors, ops[0])


def _negate(value: sympy.Basic, token: Token) -> sympy.Basic:
    _need(value, _NUM, token)
    return _build(sympy.Mul, (sympy.S.NegativeOne, value), token)


def _not(value: sympy.Basic, token: Token) -> sympy.Basic:
    _need(value, _BOOL, token)
    return _build(sympy.Not, (value,), token)


def _integer(token: Token) -> sympy.Integer:
    if len(token.text) > len(str(MAX_INT)) or int(token.text) > MAX_INT:
        raise CodecError("integer constant is too large (limit 10**30)", token.pos)
    return sympy.Integer(int(token.text))


def _power(base: sympy.Basic, exponent: sympy.Basic, token: Token) -> sympy.Basic:
    _need(base, _NUM, token)
    _need(exponent, _NUM, token)
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


# --- formatter ---------------------------------------------------------------------------------

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
    if isinstance(expr, Application) and type(expr).__name__ in _FUNCTIONS:
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
    _check_name(name, 0)


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
    if _kind_of(lhs) != _NUM or _kind_of(rhs) != _NUM:
        raise CodecError(f"cannot write comparisons of conditions: {expr}")
    name = _CALL_RELATIONALS.get(type(expr))
    if name is not None:
        return _fmt_call(name, expr.args), _P_ATOM
    op = _INFIX.get(type(expr))
    if op is None:
        raise CodecError(f"cannot write {type(expr).__name__} expressions: {expr}")
    return f"{_fmt(lhs, _P_ADD)} {op} {_fmt(rhs, _P_ADD)}", _P_CMP


def _fmt_call(name: str, args: Sequence[sympy.Basic]) -> str:
    fn = _FUNCTIONS[name]
    kinds = _arg_kinds(fn, len(args))
    ok_count = fn.min_args <= len(args) and (fn.max_args is None or len(args) <= fn.max_args)
    if not ok_count or any(_kind_of(a) != k for a, k in zip(args, kinds)):
        raise CodecError(f"cannot write {name} with these arguments: {', '.join(map(str, args))}")
    return f"{name}({', '.join(_fmt(a, 0) for a in args)})"
