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

Reading and writing live apart, around what they agree on: ``codec_grammar`` (the limits,
``CodecError``, the callable names), ``codec_tokens`` (the lexer), ``codec_parse`` (text → sympy)
and ``codec_format`` (sympy → text). Callers import from this module.

Symbols: torch creates input sizes as ``Symbol("s0", integer=True, positive=True)`` and unbacked
sizes as ``Symbol("u0", integer=True)``; sympy symbols with different assumptions are different
symbols. The text carries names only, so ``parse_expr`` takes the caller's symbols (``symbols=``)
and otherwise creates ``Symbol(name, integer=True)``, the same as ``SymbolInfo.sympy()``.
"""

from __future__ import annotations

from dimsolve.guards.codec_format import format_expr
from dimsolve.guards.codec_grammar import (DEFAULT_MAX_DEPTH, DEFAULT_MAX_LEN, FUNCTION_NAMES, MAX_EXPONENT, MAX_INT,
                                           MAX_OPERANDS, CodecError)
from dimsolve.guards.codec_parse import parse_expr
from dimsolve.guards.codec_tokens import Token, tokenize

__all__ = [
    "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_LEN", "FUNCTION_NAMES", "MAX_EXPONENT", "MAX_INT", "MAX_OPERANDS",
    "CodecError", "Token", "format_expr", "parse_expr", "tokenize",
]
