"""torch's SymFloat arithmetic in z3 integers: IEEE doubles, rounded to nearest-even, as Python does.

A size guard with floats in it (``F.interpolate(x, scale_factor=0.5)`` gives
``TruncToInt(0.5*ToFloat(s)) >= 2``) is computed by torch with Python floats: doubles. Every double
is a dyadic rational ``num / 2**exp``, so a float here is a ``Dyadic``: an integer z3 term and a
constant exponent, and every operation is integer arithmetic plus an explicit rounding of the exact
result to 53 significant bits (``round_double``). Nothing goes through z3's reals or floating-point
theory (both answered "unknown" within seconds on the guards above).

- Sums and products round once per operation, pairwise in sympy's argument order (the order
  only matters past 2**53, where torch's own sympy canonicalisation has already reordered the
  user's operations); a product by a power of two is exact. Comparisons (also between an int and a float) are exact,
  as in Python.
- ``ToFloat(n)`` rounds ``n``; ``round_double`` is exact for magnitudes below ``2**INT_BITS``
  (every int64 value, so every size and every product torch forms of them as a size).
- A true division (``IntTrueDiv``, ``FloatTrueDiv``) is a ``Quotient``, rounded to an integer
  (floor, ceil, trunc, round-half-even) through the double nearest it: the exact ``num/den`` can
  sit just below an integer its double reaches (``0.7*7.0/0.7`` is ``6.99999999999999968...`` but
  the double ``7.0``). That double is ``|num| * 2**57 / |den|`` floored, with a sticky bit for a
  remainder, rounded to 53 bits: exact for ``|num/den| >= 1/2``, and below that every rounding
  to an integer is the exact quotient's anyway. A quotient by a power of two is an exact
  ``Dyadic``. A quotient used any other way is refused.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import z3

MANTISSA_BITS = 53
INT_BITS = 64  # an int operand is taken to be below 2**64 in magnitude (int64 sizes)


class Dyadic(NamedTuple):
    """The double ``num / 2**exp``; ``bits`` bounds ``|num| < 2**bits`` (how many roundings to encode)."""

    num: z3.ArithRef
    exp: int
    bits: int


class Quotient(NamedTuple):
    """The double nearest ``num / den`` (integers), before any use of it; ``|num| < 2**bits``."""

    num: z3.ArithRef
    den: z3.ArithRef
    bits: int = INT_BITS


def _const(term: z3.ArithRef) -> int | None:
    return term.as_long() if z3.is_int_value(term) else None


def _abs(term: z3.ArithRef) -> z3.ArithRef:
    return z3.If(term >= 0, term, -term)


def nearest_even_multiple(value: z3.ArithRef, k: int) -> z3.ArithRef:
    """``value`` rounded to a multiple of ``2**k``, ties to the even multiple."""
    m = 2**k
    q, r = value / m, value % m  # z3's div/mod by a positive constant: floor and a remainder >= 0
    up = z3.Or(2 * r > m, z3.And(2 * r == m, q % 2 == 1))
    return m * (q + z3.If(up, 1, 0))


def round_double(value: z3.ArithRef, bits: int) -> z3.ArithRef:
    """``value`` (an integer below ``2**bits`` in magnitude) rounded to 53 significant bits, ties to
    even: the numerator of the double nearest ``value / 2**exp``, for any ``exp``."""
    known = _const(value)
    if known is not None:
        return z3.IntVal(_round_int(known))
    if bits <= MANTISSA_BITS:
        return value
    magnitude = _abs(value)
    out = nearest_even_multiple(value, bits - MANTISSA_BITS)
    for k in range(bits - MANTISSA_BITS - 1, 0, -1):
        out = z3.If(magnitude < 2 ** (MANTISSA_BITS + k), nearest_even_multiple(value, k), out)
    return z3.If(magnitude < 2**MANTISSA_BITS, value, out)


def _round_int(value: int) -> int:
    """The integer ``value`` rounded to 53 significant bits, ties to even (what ``float(value)`` does)."""
    extra = abs(value).bit_length() - MANTISSA_BITS
    if extra <= 0:
        return value
    q, r = divmod(value, 2**extra)
    half = 2 ** (extra - 1)
    return (q + (r > half or (r == half and q % 2 == 1))) * 2**extra


def constant(value: float) -> Dyadic:
    """A Python float (a double) as an exact ``Dyadic``; ``ValueError`` for inf and nan."""
    exact = Fraction(value)  # ValueError / OverflowError for nan / inf
    exp = exact.denominator.bit_length() - 1
    num = exact.numerator
    return Dyadic(z3.IntVal(num), exp, max(abs(num).bit_length(), 1))


def from_int(value: z3.ArithRef) -> Dyadic:
    """Python's ``float(n)`` for an integer term (torch's ``ToFloat``)."""
    known = _const(value)
    if known is not None:
        return Dyadic(z3.IntVal(_round_int(known)), 0, max(abs(known).bit_length(), 1))
    return Dyadic(round_double(value, INT_BITS), 0, INT_BITS)


def _aligned(a: Dyadic, b: Dyadic) -> tuple[z3.ArithRef, z3.ArithRef, int, int]:
    """Both numerators over the common exponent, and the bits bound of either."""
    exp = max(a.exp, b.exp)
    na = a.num if a.exp == exp else a.num * 2 ** (exp - a.exp)
    nb = b.num if b.exp == exp else b.num * 2 ** (exp - b.exp)
    return na, nb, exp, max(a.bits + exp - a.exp, b.bits + exp - b.exp)


def add(a: Dyadic, b: Dyadic) -> Dyadic:
    na, nb, exp, bits = _aligned(a, b)
    known = (_const(na), _const(nb))
    if None not in known:
        return constant(float(Fraction(known[0], 2**exp) + Fraction(known[1], 2**exp)))  # type: ignore[arg-type]
    return Dyadic(round_double(na + nb, bits + 1), exp, bits + 1)


def _power_of_two(a: Dyadic) -> tuple[int, int] | None:
    """(sign, k) when ``a`` is the constant ``sign * 2**k``."""
    num = _const(a.num)
    if num is None or num == 0 or abs(num) & (abs(num) - 1):
        return None
    return (1 if num > 0 else -1), abs(num).bit_length() - 1 - a.exp


def mul(a: Dyadic, b: Dyadic) -> Dyadic:
    for scale, other in ((a, b), (b, a)):
        exact = _power_of_two(scale)
        if exact is not None:  # scaling a double by a power of two is exact
            sign, k = exact
            num = other.num if sign > 0 else -other.num
            return Dyadic(num * 2**k, other.exp, other.bits + k) if k >= 0 else Dyadic(num, other.exp - k, other.bits)
    known = (_const(a.num), _const(b.num))
    if None not in known:
        return constant(float(Fraction(known[0], 2**a.exp) * Fraction(known[1], 2**b.exp)))  # type: ignore[arg-type]
    bits = a.bits + b.bits
    return Dyadic(round_double(a.num * b.num, bits), a.exp + b.exp, bits)


def compare(a: Dyadic, b: Dyadic) -> tuple[z3.ArithRef, z3.ArithRef]:
    """Two integer terms whose comparison is that of the two doubles (exact, as in Python)."""
    na, nb, _, _ = _aligned(a, b)
    return na, nb


def pick(condition: z3.BoolRef, a: Dyadic, b: Dyadic) -> Dyadic:
    na, nb, exp, bits = _aligned(a, b)
    return Dyadic(z3.If(condition, na, nb), exp, bits)


def minimum(a: Dyadic, b: Dyadic) -> Dyadic:
    na, nb, exp, bits = _aligned(a, b)
    return Dyadic(z3.If(na <= nb, na, nb), exp, bits)


def maximum(a: Dyadic, b: Dyadic) -> Dyadic:
    na, nb, exp, bits = _aligned(a, b)
    return Dyadic(z3.If(na >= nb, na, nb), exp, bits)


# --- to integers ----------------------------------------------------------------------------------


def _floor(num: z3.ArithRef, den: int) -> z3.ArithRef:
    return num / den if den != 1 else num


def _ceil(num: z3.ArithRef, den: int) -> z3.ArithRef:
    return -((-num) / den) if den != 1 else num


def floor(a: Dyadic) -> z3.ArithRef:
    return _floor(a.num, 2**a.exp)


def ceil(a: Dyadic) -> z3.ArithRef:
    return _ceil(a.num, 2**a.exp)


def trunc(a: Dyadic) -> z3.ArithRef:
    if a.exp == 0:
        return a.num
    return z3.If(a.num >= 0, floor(a), ceil(a))


def round_half_even(a: Dyadic) -> z3.ArithRef:
    """Python's ``round(x)`` of a double: to the nearest integer, ties to even."""
    if a.exp == 0:
        return a.num
    return nearest_even_multiple(a.num, a.exp) / 2**a.exp


_SCALE = 56  # |num/den| >= 1/2 scaled by 2**56 has >= 55 bits: a 53-bit rounding and its tie bit


def nearest_double(q: Quotient) -> Dyadic:
    """The double nearest ``num / den`` (Python's true division), as a ``Dyadic``: ``|num| * 2**56``
    divided by ``|den|``, doubled with a sticky bit for a remainder (so a tie is only a tie when
    it is exact), rounded to 53 significant bits, the sign put back."""
    num, den = q.num, q.den
    top, bottom = _abs(num), _abs(den)
    scaled = top * 2**_SCALE
    floor_q = scaled / bottom  # z3's div of non-negative integers: the floor
    sticky = z3.If(scaled % bottom == 0, 0, 1)
    bits = q.bits + _SCALE + 2
    magnitude = round_double(2 * floor_q + sticky, bits)
    positive = z3.Or(num == 0, (num > 0) == (den > 0))
    return Dyadic(z3.If(positive, magnitude, -magnitude), _SCALE + 1, bits)


def quotient_floor(q: Quotient) -> z3.ArithRef:
    return floor(nearest_double(q))


def quotient_ceil(q: Quotient) -> z3.ArithRef:
    return ceil(nearest_double(q))


def quotient_trunc(q: Quotient) -> z3.ArithRef:
    return trunc(nearest_double(q))


def quotient_round(q: Quotient) -> z3.ArithRef:
    """Round half to even of the double nearest ``num / den``."""
    return round_half_even(nearest_double(q))


def quotient(num: z3.ArithRef, den: z3.ArithRef, num_bits: int) -> Dyadic | Quotient:
    """``num / den`` as Python's true division: a ``Dyadic`` when ``den`` is a constant power of two."""
    c = _const(den)
    if c is not None and c != 0 and not abs(c) & (abs(c) - 1):
        top = round_double(num if c > 0 else -num, num_bits)
        return Dyadic(top, abs(c).bit_length() - 1, num_bits)
    return Quotient(num, den, num_bits)


def divide(a: Dyadic, b: Dyadic) -> Dyadic | Quotient:
    """``FloatTrueDiv``: ``a / b`` of two doubles."""
    exact = _power_of_two(b)
    if exact is not None:  # dividing by a power of two is exact
        sign, k = exact
        return mul(a, Dyadic(z3.IntVal(sign * 2 ** max(-k, 0)), max(k, 0), 1 + abs(k)))
    return quotient(a.num * 2**b.exp if b.exp else a.num, b.num * 2**a.exp if a.exp else b.num, a.bits + b.exp)
