"""Exact rational Gaussian elimination for the linear equalities of spec and guards.

Variables are ranked: the lowest rank is eliminated first, so symbols disappear before roots and
the user's earliest root is the last to go: what stays free is what the fixed spec names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import sympy

# a linear expression: {var: coeff}, with the constant under the key "" (never a variable name)
LinExpr = dict[str, Fraction]
CONST = ""


def lin_from_sympy(expr: sympy.Expr, allowed: set[str]) -> LinExpr | None:
    """``expr`` as a linear expression over ``allowed`` symbols, or None if it is not one."""
    expr = sympy.expand(expr)
    out: LinExpr = {}
    for term in sympy.Add.make_args(expr):
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Rational:
            return None
        if rest == 1:
            out[CONST] = out.get(CONST, Fraction(0)) + Fraction(int(coeff.p), int(coeff.q))
        elif isinstance(rest, sympy.Symbol) and str(rest) in allowed:
            out[str(rest)] = out.get(str(rest), Fraction(0)) + Fraction(int(coeff.p), int(coeff.q))
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
