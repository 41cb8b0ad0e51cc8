"""Linear reasoning on guards, without z3.

- Exact rational Gaussian elimination for the linear equalities of spec and guards (``params``).
  Variables are ranked: the lowest rank is eliminated first, so symbols disappear before roots and
  the user's earliest root is the last to go: what stays free is what the fixed spec names.
- ``BoxEvaluator``: guards evaluated on affine forms over bounded atoms, which settles most guards
  a spec implies (``problem.settle``, ``boxes``) before anything is sent to z3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import sympy
from sympy.logic.boolalg import BooleanFunction

# a linear expression: {var: coeff}, with the constant under the key "" (never a variable name)
LinExpr = dict[str, Fraction]
CONST = ""


def lin_from_sympy(expr: sympy.Expr, allowed: set[str]) -> LinExpr | None:
    """``expr`` as a linear expression over ``allowed`` symbols, or None if it is not one.

    >>> s0, s1 = sympy.symbols("s0 s1", integer=True)
    >>> lin_from_sympy(2 * (s0 + 1) - s1, {"s0", "s1"}) == {"s0": 2, CONST: 2, "s1": -1}
    True
    """
    direct = _terms(expr, allowed)  # already a sum of coeff*symbol: expanding (slow) changes nothing
    if direct is not None:
        return direct
    # only sums, products and powers can expand to a linear form: skip ``sympy.expand`` (which
    # re-evaluates torch's FloorDiv/Mod) for everything else
    if not all(isinstance(n, (sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol, sympy.Number))
               for n in sympy.preorder_traversal(expr)):
        return None
    return _terms(sympy.expand(expr), allowed)


def _terms(expr: sympy.Expr, allowed: set[str]) -> LinExpr | None:
    out: LinExpr = {}
    for term in sympy.Add.make_args(expr):
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Rational:
            return None
        if rest == 1:
            out[CONST] = out.get(CONST, Fraction(0)) + Fraction(int(coeff.p), int(coeff.q))
        elif isinstance(rest, sympy.Symbol) and rest.name in allowed:
            out[rest.name] = out.get(rest.name, Fraction(0)) + Fraction(int(coeff.p), int(coeff.q))
        else:
            return None
    return {k: v for k, v in out.items() if v != 0}


def substitute(expr: LinExpr, solved: Mapping[str, LinExpr]) -> LinExpr:
    out: LinExpr = {}
    for var, coeff in expr.items():
        if var != CONST and var in solved:
            for v2, c2 in solved[var].items():
                out[v2] = out.get(v2, Fraction(0)) + coeff * c2
        else:
            out[var] = out.get(var, Fraction(0)) + coeff
    return {k: v for k, v in out.items() if v != 0}


@dataclass
class Elimination:
    """``solved[var]`` is an expression over free variables only (and the constant)."""

    rank: dict[str, int]
    solved: dict[str, LinExpr]
    inconsistent: bool = False

    def add(self, equation: LinExpr) -> bool:
        """Add ``equation == 0``; False if it was redundant (or contradictory)."""
        eq = substitute(equation, self.solved)
        unknowns = [v for v in eq if v != CONST]
        if not unknowns:
            if eq.get(CONST, 0) != 0:
                self.inconsistent = True
            return False
        pivot = min(unknowns, key=lambda v: self.rank.get(v, -1))
        coeff = eq.pop(pivot)
        expr = {v: -c / coeff for v, c in eq.items()}
        for var, sol in self.solved.items():
            if pivot in sol:
                self.solved[var] = substitute(sol, {pivot: expr})
        self.solved[pivot] = expr
        return True

    def value_of(self, var: str) -> LinExpr:
        return self.solved.get(var, {var: Fraction(1)})


def eliminate(equations: Sequence[LinExpr], order: Sequence[str]) -> tuple[Elimination, list[bool]]:
    """Solve the system; ``order`` lists variables from first-to-eliminate to last."""
    elim = Elimination({v: i for i, v in enumerate(order)}, {})
    used = [elim.add(dict(eq)) for eq in equations]
    return elim, used


# --- guards on affine forms over bounded atoms --------------------------------------------------------
#
# A guard is evaluated exactly where it is linear in the atoms (``Eq(s1, s0 + 1)`` with
# ``s1 = d + 1``, ``s0 = d`` is ``0 == 0``) and by interval arithmetic with a known divisor
# elsewhere (``s0*s1 <= 16384`` with both in [2, 128], ``Mod(2*d*s1, 2) == 0``). Three-valued:
# True and False hold on the whole box, None is "not decided here" (anything unreadable included).

INF = math.inf
Interval = tuple[float, float]  # int bounds, or -inf/inf


class BoxValue(NamedTuple):  # a NamedTuple: tens of thousands are made per build
    """``sum(terms[a] * a) + const`` exactly when ``exact``; otherwise only within ``[lo, hi]``.
    Always a multiple of ``divisor`` (0: the value is 0)."""

    terms: tuple[tuple[str, int], ...] = ()
    const: int = 0
    exact: bool = True
    lo: float = 0
    hi: float = 0
    divisor: int = 0


_MINUS_ONE = BoxValue(const=-1)


def _times(a: float, b: float) -> float:
    return 0 if a == 0 or b == 0 else a * b


def _floor_div(a: float, k: int) -> float:
    return a if math.isinf(a) else a // k


class BoxEvaluator:
    """Evaluates sympy guards on sizes given as affine forms over atoms, each atom in an interval:
    ``always(guard)`` is True only if the guard holds for every integer value of the atoms."""

    def __init__(self, atoms: Mapping[str, Interval], forms: Mapping[str, BoxValue]) -> None:
        self.atoms = atoms  # atom -> its interval
        self.forms = forms  # symbol name -> its value
        self.memo: dict[sympy.Basic, BoxValue | bool | None] = {}

    def bounds(self, v: BoxValue) -> Interval:
        if not v.exact:
            return v.lo, v.hi
        lo = hi = float(v.const)
        for atom, c in v.terms:
            alo, ahi = self.atoms[atom]
            lo, hi = lo + min(_times(c, alo), _times(c, ahi)), hi + max(_times(c, alo), _times(c, ahi))
        return lo, hi

    def loose(self, v: BoxValue) -> BoxValue:
        lo, hi = self.bounds(v)
        divisor = v.divisor if not v.exact else math.gcd(v.const, *(c for _, c in v.terms))
        return BoxValue(exact=False, lo=lo, hi=hi, divisor=divisor)

    def add(self, a: BoxValue, b: BoxValue) -> BoxValue:
        if a.exact and b.exact:
            terms = dict(a.terms)
            for atom, c in b.terms:
                terms[atom] = terms.get(atom, 0) + c
            return BoxValue(tuple((k, c) for k, c in terms.items() if c), a.const + b.const)
        a, b = self.loose(a), self.loose(b)
        return BoxValue(exact=False, lo=a.lo + b.lo, hi=a.hi + b.hi, divisor=math.gcd(a.divisor, b.divisor))

    def mul(self, a: BoxValue, b: BoxValue) -> BoxValue:
        if b.exact and not b.terms:
            a, b = b, a
        if a.exact and not a.terms:  # scaling by a constant
            k = a.const
            if b.exact:
                return BoxValue(tuple((atom, k * c) for atom, c in b.terms if k * c), k * b.const)
            ends = (_times(k, b.lo), _times(k, b.hi))
            return BoxValue(exact=False, lo=min(ends), hi=max(ends), divisor=abs(k) * b.divisor)
        a, b = self.loose(a), self.loose(b)
        ends = [_times(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        return BoxValue(exact=False, lo=min(ends), hi=max(ends), divisor=a.divisor * b.divisor)

    def divide(self, a: BoxValue, k: int, mod: bool) -> BoxValue:
        """``a // k`` or ``a % k`` (Python semantics) for a constant ``k > 0``."""
        if a.exact and all(c % k == 0 for _, c in a.terms):
            if mod:
                return BoxValue(const=a.const % k)
            return BoxValue(tuple((atom, c // k) for atom, c in a.terms), a.const // k)
        a = self.loose(a)
        if mod:
            if a.divisor % k == 0:
                return BoxValue()
            return a if 0 <= a.lo and a.hi < k else BoxValue(exact=False, lo=0, hi=k - 1, divisor=math.gcd(a.divisor, k))
        divisor = a.divisor // k if a.divisor % k == 0 else 1
        return BoxValue(exact=False, lo=_floor_div(a.lo, k), hi=_floor_div(a.hi, k), divisor=divisor)

    def always(self, guard: sympy.Basic) -> bool:
        return self.node(guard) is True

    def value(self, expr: sympy.Basic) -> BoxValue | None:
        out = self.node(expr)
        return out if isinstance(out, BoxValue) else None

    def node(self, expr: sympy.Basic) -> BoxValue | bool | None:
        if expr not in self.memo:
            self.memo[expr] = self._evaluate(expr)
        return self.memo[expr]

    def _evaluate(self, expr: sympy.Basic) -> BoxValue | bool | None:
        if isinstance(expr, sympy.Integer):
            return BoxValue(const=int(expr))
        if isinstance(expr, sympy.Symbol):
            return self.forms.get(expr.name)
        if expr is sympy.true or expr is sympy.false:
            return bool(expr)
        if isinstance(expr, (sympy.Add, sympy.Mul)):
            args = [self.value(a) for a in expr.args]
            if any(a is None for a in args):
                return None
            combine = self.add if isinstance(expr, sympy.Add) else self.mul
            out = args[0]
            for a in args[1:]:
                out = combine(out, a)  # type: ignore[arg-type]
            return out
        if isinstance(expr, sympy.Pow):
            return self._power(*expr.args)
        if type(expr) in _RELATIONS:
            return self._compare(expr)
        if isinstance(expr, BooleanFunction):
            return self._logic(expr)
        return self._function(expr)

    def _power(self, base: sympy.Basic, exponent: sympy.Basic) -> BoxValue | None:
        value = self.value(base)
        if value is None or not isinstance(exponent, sympy.Integer) or not 1 <= int(exponent) <= 8:
            return None
        out = value
        for _ in range(int(exponent) - 1):
            out = self.mul(out, value)
        return out

    def _function(self, expr: sympy.Basic) -> BoxValue | None:
        name = type(expr).__name__
        if name in ("FloorDiv", "CleanDiv", "Mod", "PythonMod") and len(expr.args) == 2:
            a, k = self.value(expr.args[0]), expr.args[1]
            if a is None or not isinstance(k, sympy.Integer) or int(k) <= 0:
                return None
            return self.divide(a, int(k), name in ("Mod", "PythonMod"))
        if name in ("Min", "Max"):
            args = [self.value(a) for a in expr.args]
            if any(a is None for a in args):
                return None
            pick = min if name == "Min" else max
            loose = [self.loose(a) for a in args]  # type: ignore[arg-type]
            return BoxValue(exact=False, lo=pick(a.lo for a in loose), hi=pick(a.hi for a in loose),
                          divisor=math.gcd(*(a.divisor for a in loose)))
        return None

    def _compare(self, expr: sympy.Basic) -> bool | None:
        lhs, rhs = (self.value(a) for a in expr.args)
        if lhs is None or rhs is None:
            return None
        lo, hi = self.bounds(self.add(lhs, self.mul(_MINUS_ONE, rhs)))
        return _RELATIONS[type(expr)](lo, hi)

    def _logic(self, expr: sympy.Basic) -> bool | None:
        args = [self.node(a) for a in expr.args]
        if any(isinstance(a, BoxValue) for a in args):
            return None
        if isinstance(expr, sympy.Not):
            return None if args[0] is None else not args[0]
        if isinstance(expr, sympy.And):
            return False if False in args else (None if None in args else True)
        if isinstance(expr, sympy.Or):
            return True if True in args else (None if None in args else False)
        return None


def _decide(always: bool, never: bool) -> bool | None:
    return True if always else (False if never else None)


# relation -> its truth from the bounds [lo, hi] of ``lhs - rhs``: True/False on the whole box, None
_RELATIONS = {
    sympy.Equality: lambda lo, hi: _decide(lo == hi == 0, lo > 0 or hi < 0),
    sympy.Unequality: lambda lo, hi: _decide(lo > 0 or hi < 0, lo == hi == 0),
    sympy.StrictLessThan: lambda lo, hi: _decide(hi < 0, lo >= 0),
    sympy.LessThan: lambda lo, hi: _decide(hi <= 0, lo > 0),
    sympy.StrictGreaterThan: lambda lo, hi: _decide(lo > 0, hi <= 0),
    sympy.GreaterThan: lambda lo, hi: _decide(lo >= 0, hi < 0),
}
