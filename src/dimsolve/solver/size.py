"""How large a guard gets once expanded, estimated without expanding it.

``(s0 + s1 + s2 + s3 + 1)**32 * (s0 - s1 + 3)**32`` is 40 characters and tens of millions of
monomials: ``sympy.expand`` (linear forms) and z3's arithmetic core both multiply it out, for
minutes and gigabytes, and z3 does that work without counting it against its resource limit (so
neither ``rlimit`` nor, promptly, its timeout stops it). The estimate here is an upper bound on the
monomials of the expansion of every subterm, computed in one walk of the tree (shared subterms
once), so a guard over ``MAX_EXPANDED_TERMS`` is refused before anything expands it.
"""

from __future__ import annotations

import math

import sympy

# monomials of a guard's largest subterm once expanded. Torch's guards have a few (``s0*s1*s2``,
# ``Eq(s0*s1, s2*s3)``: a FloorDiv or Mod is one); up to ~100, z3 answers within the default budget
# (``(a + b + 1)**12``: 92 terms, 2 s), past it the uncounted work grows fast (``(a + b + 1)**16``:
# 154 terms, 7 s; ``(a + b + c + d + e + 1)**4 * (a - b + 3)**4``: 1891 terms, stopped only by the
# wall-clock safety net)
MAX_EXPANDED_TERMS = 128


def expanded_terms(expr: sympy.Basic, cap: int = MAX_EXPANDED_TERMS) -> int:
    """An upper bound on the number of monomials ``sympy.expand`` makes of ``expr`` or of any of its
    subterms (arguments of functions and relations are expanded too); at most ``cap + 1``.

    >>> x, y = sympy.symbols("x y", integer=True)
    >>> expanded_terms((x + y + 1) ** 2)
    6
    >>> expanded_terms(sympy.Eq((x + y + 1) ** 64 * (x - y) ** 64, 10)) > MAX_EXPANDED_TERMS
    True
    """
    memo: dict[sympy.Basic, int] = {}
    largest = 1
    stack: list[tuple[sympy.Basic, bool]] = [(expr, False)]
    while stack:  # post-order without recursion: a deep tree must not exhaust Python's stack
        node, ready = stack.pop()
        if node in memo:
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((arg, False) for arg in node.args if arg not in memo)
            continue
        memo[node] = size = _terms(node, [memo[a] for a in node.args], cap)
        largest = max(largest, size)
    return min(largest, cap + 1)


def _terms(node: sympy.Basic, args: list[int], cap: int) -> int:
    """Monomials of ``node`` expanded, from those of its arguments (saturating past ``cap``)."""
    if isinstance(node, sympy.Add):
        return min(sum(args), cap + 1)
    if isinstance(node, sympy.Mul):
        return _product(args, cap)
    if isinstance(node, sympy.Pow) or type(node).__name__ == "PowByNatural":  # torch's integer power
        exponent = node.args[1]
        if isinstance(exponent, sympy.Integer) and int(exponent) > 1:
            return _multinomial(args[0], int(exponent), cap)
        return 1
    if isinstance(node, sympy.core.relational.Relational):
        return min(sum(args), cap + 1)  # ``lhs - rhs`` is what linear forms and z3 expand
    return 1  # a symbol, a number, a function or connective: an atom of its parent's expansion


def _product(factors: list[int], cap: int) -> int:
    out = 1
    for f in factors:
        out *= f
        if out > cap:
            return cap + 1
    return out


def _multinomial(terms: int, exponent: int, cap: int) -> int:
    """Monomials of ``(t_1 + ... + t_terms) ** exponent``: C(terms + exponent - 1, exponent)."""
    if terms <= 1:
        return 1
    if terms > cap:
        return cap + 1
    return min(math.comb(terms + exponent - 1, exponent), cap + 1)
