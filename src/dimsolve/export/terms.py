"""Speak the user's language: symbols become ``x.shape[0]``, roots keep the user's Dim names."""

from __future__ import annotations

import sympy

from dimsolve.dims.model import Spec
from dimsolve.guards.model import GuardSet

_REL = {sympy.Eq: "==", sympy.Ne: "!=", sympy.Lt: "<", sympy.Le: "<=", sympy.Gt: ">", sympy.Ge: ">="}


def symbol_path(guardset: GuardSet, name: str) -> str:
    """The user's name for a symbol: ``x.shape[0]``, or ``k`` for ``k = n.item()``."""
    info = guardset.symbol(name)
    if info is not None and info.paths:
        return str(info.paths[0])
    if info is not None and info.label:
        return info.label
    return "a data-dependent value"


def user_expr(expr: sympy.Basic, guardset: GuardSet) -> str:
    """``Eq(s0, s2)`` -> ``x.shape[0] == y.shape[0]``; never shows torch's symbol names."""
    mapping = {s: sympy.Symbol(symbol_path(guardset, str(s))) for s in expr.free_symbols}
    renamed = expr.xreplace(mapping)
    for cls, op in _REL.items():
        if isinstance(renamed, cls):
            return f"{_term(renamed.lhs)} {op} {_term(renamed.rhs)}"
    return _term(renamed)


def _term(expr: sympy.Basic) -> str:
    text = str(expr)
    return text.replace("Mod(", "Mod(").replace("FloorDiv(", "FloorDiv(")


def spec_summary(spec: Spec) -> str:
    """``x: (dx, d1)  y: (dy, d1)``: the spec of each input that has a dynamic dim."""
    by_input: dict[str, list[str]] = {}
    for e in spec.entries:
        by_input.setdefault(str(e.path.input), []).append(e.dim.expr_text())
    parts = [f"{name}: ({', '.join(dims)}{',' if len(dims) == 1 else ''})" for name, dims in by_input.items()]
    return "  ".join(parts)


def root_paths(spec: Spec, root: str) -> str:
    """Where the user used a root: ``x.shape[0]`` (the first plain use, else the first use)."""
    users = spec.users_of(root)
    plain = [e for e in users if e.dim.coeff == 1 and e.dim.offset == 0]
    chosen = (plain or list(users))[:1]
    return str(chosen[0].path) if chosen else root
