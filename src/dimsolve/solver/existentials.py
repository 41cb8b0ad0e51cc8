"""``Exists(sizes, constraints)`` with the sizes an equality defines substituted away first.

Sizes left to ``Dim.AUTO`` are existential: a spec is valid when *some* AUTO size makes every
guard hold. z3 decides such quantified queries slowly (a third of a second each on
``x + y == (z + 1)//2``, and a range search asks dozens). Most AUTO sizes are defined by a guard
in which they occur linearly with coefficient 1 or -1 (torch's ``cat``/broadcast relations): then
``Exists v: v == e and P(v)`` is exactly ``P(e)`` over the integers, and no quantifier is needed
for ``v``. Only sizes no such equality defines stay quantified.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import z3


def exists(free: Sequence[z3.ArithRef], constraints: Iterable[z3.BoolRef]) -> z3.BoolRef:
    """``Exists(free, And(constraints))``, equivalent, with defined sizes substituted."""
    parts = _conjuncts(constraints)
    left = list(free)
    for v in list(left):
        found = _definition(v, parts)
        if found is None:
            continue
        index, value = found
        parts = [z3.substitute(c, (v, value)) for i, c in enumerate(parts) if i != index]
        left.remove(v)
    body = z3.And(*parts) if parts else z3.BoolVal(True)
    return z3.Exists(left, body) if left else body


def _conjuncts(constraints: Iterable[z3.BoolRef]) -> list[z3.BoolRef]:
    out: list[z3.BoolRef] = []
    stack = list(constraints)[::-1]
    while stack:
        c = stack.pop()
        if z3.is_and(c):
            stack.extend(c.children()[::-1])
        else:
            out.append(c)
    return out


def _definition(v: z3.ArithRef, parts: list[z3.BoolRef]) -> tuple[int, z3.ArithRef] | None:
    """(index of an equality ``c*v + d == 0`` with c = +-1 and v not in d, the term ``-c*d``)."""
    zero, one = z3.IntVal(0, v.ctx), z3.IntVal(1, v.ctx)
    for i, c in enumerate(parts):
        if not (z3.is_eq(c) and z3.is_int(c.arg(0)) and _mentions(c, v)):
            continue
        diff = c.arg(0) - c.arg(1)
        rest = z3.substitute(diff, (v, zero))
        coeff = z3.simplify(z3.substitute(diff, (v, one)) - rest)
        if not (z3.is_int_value(coeff) and coeff.as_long() in (1, -1)):
            continue
        linear = z3.simplify(diff - rest - coeff * v, som=True)
        if not (z3.is_int_value(linear) and linear.as_long() == 0):
            continue  # v also occurs inside a non-linear term
        return i, z3.simplify(-coeff.as_long() * rest)
    return None


def _mentions(term: z3.ExprRef, v: z3.ArithRef) -> bool:
    stack, seen = [term], set()
    while stack:
        t = stack.pop()
        if t.eq(v):
            return True
        key = t.get_id()
        if key in seen:
            continue
        seen.add(key)
        stack.extend(t.children())
    return False
