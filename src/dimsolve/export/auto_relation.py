"""The relation a size left to ``Dim.AUTO`` must satisfy, in the user's terms.

A DS203 says a size is "determined by other dimensions"; which function of them is what the user
needs to read: ``attention_mask.shape[1] == input_ids.shape[1] + past.shape[2]``. torch often
states it as two inequalities (``kv <= q + past`` from one branch, ``kv >= q + past`` from
another), so both forms are read.
"""

from __future__ import annotations

import sympy

from dimsolve.export.terms import user_expr
from dimsolve.guards.model import GuardSet
from dimsolve.solver.check import GuardViolation
from dimsolve.solver.problem import Problem


def _at_most_zero(expr: sympy.Basic) -> sympy.Expr | None:
    """``e`` with ``expr`` meaning ``e <= 0``, for integer relations; None for anything else."""
    if isinstance(expr, sympy.Le):
        return expr.lhs - expr.rhs
    if isinstance(expr, sympy.Ge):
        return expr.rhs - expr.lhs
    if isinstance(expr, sympy.Lt):
        return expr.lhs - expr.rhs + 1
    if isinstance(expr, sympy.Gt):
        return expr.rhs - expr.lhs + 1
    return None


def _zero_forms(vs: list[GuardViolation]) -> list[sympy.Expr]:
    """Expressions the guards together make zero: an equality's sides, or two inequalities that bound
    one expression from both sides."""
    out = [sympy.expand(v.guard.expr.lhs - v.guard.expr.rhs) for v in vs if isinstance(v.guard.expr, sympy.Equality)]
    bounds = [sympy.expand(e) for v in vs if (e := _at_most_zero(v.guard.expr)) is not None]
    for i, a in enumerate(bounds):
        out += [a for b in bounds[i + 1:] if sympy.expand(a + b) == 0]
    return out


def defining_relation(problem: Problem, guardset: GuardSet, target: str, vs: list[GuardViolation]) -> str | None:
    """``"input_ids.shape[1] + past.shape[2]"``: what the sizes of root ``target`` equal, or None when
    the guards do not say it as one linear equation."""
    symbols = {sym for sym, entries in problem.entries_of.items()
               if any(e.dim.root == target and (e.dim.coeff, e.dim.offset) == (1, 0) for e in entries)}
    for form in _zero_forms(vs):
        for sym in sorted(form.free_symbols, key=str):
            if str(sym) not in symbols or form.coeff(sym) not in (1, -1):
                continue
            rest = form - form.coeff(sym) * sym
            if sym in rest.free_symbols or not rest.free_symbols:
                continue
            return user_expr(sympy.expand(-rest * form.coeff(sym)), guardset)
    return None
