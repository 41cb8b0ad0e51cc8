"""z3 terms by what they say, built once per default z3 context.

Building a term through z3's Python API costs tens of microseconds (sort checks, reference
counting, numeral coercion); a re-check builds the same few dozen again and again (``s0 ==
2*root!dx + 1``, ``root!dx >= 2``), which was most of ``build_problem`` on a small model. Terms
are immutable and depend only on their key, so they are shared across checks within one context
(the service makes a fresh context per check: the cache then starts over).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import z3

CACHE_SIZE = 8192  # terms kept; past it the cache starts over (a re-check rebuilds a few dozen)

T = TypeVar("T", bound=z3.AstRef)

_TERMS: dict[Hashable, z3.AstRef] = {}
_CONTEXT: list[z3.Context] = []


def cached(key: Hashable, build: Callable[[], T]) -> T:
    """The term ``build()`` makes, from the cache when ``key`` was built before in this context.

    >>> cached(("int", "s0"), lambda: z3.Int("s0")).eq(z3.Int("s0"))
    True
    """
    ctx = z3.main_ctx()
    if not _CONTEXT or _CONTEXT[0] is not ctx:
        _TERMS.clear()  # terms of another context must not meet this one's (and would keep it alive)
        _CONTEXT[:] = [ctx]
    found = _TERMS.get(key)
    if found is None:
        if len(_TERMS) >= CACHE_SIZE:
            _TERMS.clear()
        found = _TERMS[key] = build()
    return found  # type: ignore[return-value]


def int_var(name: str) -> z3.ArithRef:
    return cached(("int", name), lambda: z3.Int(name))


def at_least(var: str, bound: int) -> z3.BoolRef:
    """``z3.Int(var) >= bound``."""
    return cached((">=", var, bound), lambda: int_var(var) >= bound)


def at_most(var: str, bound: int) -> z3.BoolRef:
    """``z3.Int(var) <= bound``."""
    return cached(("<=", var, bound), lambda: int_var(var) <= bound)


def equals_affine(var: str, root: str | None, coeff: int, offset: int) -> z3.BoolRef:
    """``z3.Int(var) == coeff*z3.Int(root) + offset`` (root None: ``== offset``)."""
    def build() -> z3.BoolRef:
        return int_var(var) == (coeff * int_var(root) + offset if root is not None else offset)

    return cached(("==", var, root, coeff, offset), build)
