"""The codec's lexer: text to tokens, refusing any character outside the grammar up front.

Refusing early is what lets the parser stay small, and the hints turn the usual Python habits
(``/``, ``%``, ``x.shape``) into a message that names the spelling the grammar does accept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dimsolve.guards.codec_grammar import CodecError

_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\n]+)|(?P<int>[0-9]+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|//|==|!=|<=|>=|[-+*<>&|~(),])",
    re.ASCII,
)

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
