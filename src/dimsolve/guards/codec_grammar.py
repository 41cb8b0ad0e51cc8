"""What the codec's reader and writer agree on: the limits, the callable names and their argument kinds.

Both directions check the same table, so ``format_expr`` never writes a call ``parse_expr`` would
refuse. Torch's own classes (``FloorDiv``, ``Mod`` ...) are resolved lazily: the grammar is usable
without torch until an expression actually names one of them.
"""

from __future__ import annotations

import functools
import importlib
import keyword
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import sympy

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


NUM, BOOL = "n", "b"
KIND_WORDS = {NUM: "a number", BOOL: "a condition"}


@dataclass(frozen=True, slots=True)
class Fn:
    """A callable name: its arity, argument kinds (one letter per argument, or one for all) and where it lives."""

    min_args: int
    max_args: int | None
    kinds: str
    source: str  # "sympy" or "torch"


FUNCTIONS: dict[str, Fn] = {
    **{name: Fn(2, 2, NUM, "sympy") for name in ("Eq", "Ne", "Lt", "Le", "Gt", "Ge")},
    "And": Fn(1, None, BOOL, "sympy"),
    "Or": Fn(1, None, BOOL, "sympy"),
    "Not": Fn(1, 1, BOOL, "sympy"),
    "Abs": Fn(1, 1, NUM, "sympy"),
    "floor": Fn(1, 1, NUM, "sympy"),
    "ceiling": Fn(1, 1, NUM, "sympy"),
    **{name: Fn(2, 2, NUM, "torch") for name in ("FloorDiv", "CeilDiv", "CleanDiv", "Mod", "PythonMod")},
    **{name: Fn(2, 2, NUM, "torch") for name in ("IntTrueDiv", "PowByNatural")},
    **{name: Fn(1, 1, NUM, "torch") for name in ("TruncToInt", "FloorToInt", "CeilToInt", "Identity")},
    "Min": Fn(1, None, NUM, "torch"),
    "Max": Fn(1, None, NUM, "torch"),
    "ModularIndexing": Fn(3, 3, NUM, "torch"),
    "Where": Fn(3, 3, BOOL + NUM + NUM, "torch"),
}

FUNCTION_NAMES: frozenset[str] = frozenset(FUNCTIONS)
LATTICE_NAMES = {"And", "Or", "Min", "Max"}
_RESERVED = {"int_oo", "oo", "zoo", "nan", "None"}


@functools.lru_cache(maxsize=1)
def _torch_functions() -> ModuleType | None:
    try:
        return importlib.import_module("torch.utils._sympy.functions")
    except ImportError:
        return None


def resolve(name: str, position: int | None) -> Callable[..., sympy.Basic]:
    """The sympy or torch callable behind ``name`` (a key of ``FUNCTIONS``)."""
    fn = FUNCTIONS[name]
    module = sympy if fn.source == "sympy" else _torch_functions()
    if module is None or not hasattr(module, name):
        raise CodecError(f"{name} needs torch's sympy functions (torch.utils._sympy.functions)", position)
    resolved: Callable[..., sympy.Basic] = getattr(module, name)
    return resolved


def kind_of(value: sympy.Basic) -> str:
    # not ``isinstance(value, Boolean)``: sympy's Symbol is both an Expr and a Boolean
    return NUM if isinstance(value, sympy.Expr) else BOOL


def arg_kinds(fn: Fn, count: int) -> str:
    return fn.kinds * count if len(fn.kinds) == 1 else fn.kinds


def check_name(name: str, pos: int) -> None:
    """Refuse a symbol name that would read back as something else (a function, a keyword, a dunder)."""
    if name in FUNCTIONS:
        raise CodecError(f"{name!r} is a function: call it as {name}(...)", pos)
    if keyword.iskeyword(name) or name in _RESERVED:
        hint = "; use '&', '|' and '~'" if name in ("and", "or", "not") else ""
        raise CodecError(f"{name!r} is not supported{hint}", pos)
    if name.startswith("__"):
        raise CodecError(f"names starting with '__' are not allowed: {name!r}", pos)
