"""``torch._check`` facts that decide a data-dependent guard the way the example decides it.

For a guard on one data-dependent value (``a // 2 >= 5`` with ``a = 32``) the suggestion is the
widest range around the example on which the guard keeps its value (``a >= 10``), which tells
torch more than the guard itself; otherwise the guard, as the example decides it. Every
suggestion is verified: with the facts assumed, z3 proves the guard takes the example's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy
import z3

from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, Outcome, make_solver
from dimsolve.solver.budget import check as run
from dimsolve.solver.search import widest_bound
from dimsolve.solver.translate import Unsupported, to_z3


@dataclass(frozen=True)
class UnbackedFacts:
    """What is known about one data-dependent value: its example and its range after tracing."""

    example: int | None
    lower: int | None = None
    upper: int | None = None


@dataclass(frozen=True)
class CheckSuggestion:
    facts: tuple[sympy.Basic, ...]  # each becomes one torch._check(...) line
    verified: bool


def _decided(expr: sympy.Basic, value: sympy.Basic) -> sympy.Basic:
    return expr if value in (sympy.true, True) else sympy.Not(expr)


def _known(env: Mapping[str, z3.ArithRef], backed: set[str]) -> list[z3.BoolRef]:
    """Only input sizes are known (>= 2). The ranges of data-dependent values after a real-tensor
    trace already include the deferred checks, so they are not assumed here."""
    return [env[name] >= 2 for name in backed if name in env]


def implies(facts: list[z3.BoolRef], goal: z3.BoolRef, timeout_ms: int) -> Outcome:
    solver = make_solver(timeout_ms)
    solver.add(*facts)
    solver.add(z3.Not(goal))
    return run(solver)


def _range_facts(goal: z3.BoolRef, var: z3.ArithRef, sym: sympy.Symbol, facts: UnbackedFacts,
                 known: list[z3.BoolRef], timeout_ms: int) -> tuple[sympy.Basic, ...] | None:
    if facts.example is None:
        return None
    bounds: dict[bool, int | None] = {}
    for up in (True, False):
        def ok(bound: int | None, up: bool = up) -> bool:
            lo, hi = (facts.example, bound) if up else (bound, facts.example)
            limits = [var >= lo] if lo is not None else []
            limits += [var <= hi] if hi is not None else []
            return implies(known + limits, goal, timeout_ms) is Outcome.UNSAT

        if not ok(facts.example):
            return None
        bounds[up] = widest_bound(facts.example, None, up, ok)
    lo, hi = bounds[False], bounds[True]
    interval = ([var >= lo] if lo is not None else []) + ([var <= hi] if hi is not None else [])
    # only a range that says exactly what the guard says: for ``k % 4 == 1`` the widest interval
    # around the example would reject values that take the same branch
    if not interval or implies(known, z3.And(*interval) == goal, timeout_ms) is not Outcome.UNSAT:
        return None
    out: list[sympy.Basic] = []
    if lo is not None:
        out.append(sympy.Ge(sym, lo))
    if hi is not None:
        out.append(sympy.Le(sym, hi))
    return tuple(out)


def suggest_checks(expr: sympy.Basic, value: sympy.Basic, unbacked: Mapping[str, UnbackedFacts],
                   timeout_ms: int = DEFAULT_TIMEOUT_MS) -> CheckSuggestion | None:
    """Facts that make ``expr`` evaluate to ``value``; None when the guard cannot be translated."""
    target = _decided(expr, value)
    names = {str(s) for s in expr.free_symbols}
    env = {n: z3.Int(n) for n in names}
    try:
        goal = to_z3(target, env)
    except Unsupported:
        return None
    backed = names - set(unbacked)
    known = _known(env, backed)
    in_expr = [n for n in names if n in unbacked]
    facts: tuple[sympy.Basic, ...] | None = None
    if len(in_expr) == 1 and not backed:
        sym = next(s for s in expr.free_symbols if str(s) == in_expr[0])
        facts = _range_facts(goal, env[in_expr[0]], sym, unbacked[in_expr[0]], known, timeout_ms)
    if facts is None:
        facts = (target,)
    try:
        assumed = [to_z3(f, env) for f in facts]
    except Unsupported:
        return CheckSuggestion(facts, False)
    return CheckSuggestion(facts, implies(known + assumed, goal, timeout_ms) is Outcome.UNSAT)
