"""Speak the user's language: symbols become ``x.shape[0]``, roots keep the user's Dim names."""

from __future__ import annotations

import re

import sympy
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

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


def _equal_classes(guardset: GuardSet) -> dict[str, set[str]]:
    """Symbols the guards make equal (``Eq(s0, s2)``): torch writes later guards with one of them."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.get(a, a) != a:
            a = parent[a]
        return a

    for g in guardset.guards:
        e = g.expr
        if isinstance(e, sympy.Equality) and all(isinstance(side, sympy.Symbol) for side in e.args):
            a, b = (find(str(side)) for side in e.args)
            parent[a] = b
    classes: dict[str, set[str]] = {}
    for name in list(parent):
        classes.setdefault(find(name), set()).add(name)
    for root, members in list(classes.items()):
        members.add(root)
        for m in members:
            classes[m] = members
    return classes


def display_names(guardset: GuardSet, symbols: set[str], code: str = "") -> dict[str, str]:
    """The user's name for each symbol, preferring the input the source line itself mentions.

    After ``x + y`` torch writes ``x.shape[0]`` as ``y.shape[0]``'s symbol; a guard from
    ``if x.shape[0] <= 64`` should still read ``x.shape[0] <= 64``.
    """
    words = set(re.findall(r"[A-Za-z_]\w*", code))
    classes = _equal_classes(guardset) if code else {}
    out = {name: symbol_path(guardset, name) for name in symbols}
    for name in sorted(symbols):
        own = guardset.symbol(name)
        if own is not None and any(str(p.input.keys[0]) in words for p in own.paths):
            continue  # the line already speaks about this symbol's own input
        for other in sorted(classes.get(name, ())):
            info = guardset.symbol(other)
            candidates = [str(p) for p in (info.paths if info else ()) if str(p.input.keys[0]) in words]
            # never give two symbols of one guard the same name: Eq(a, b) must not read a == a
            free = [c for c in candidates if c not in out.values()]
            if free:
                out[name] = free[0]
                break
    return out


def user_expr(expr: sympy.Basic, guardset: GuardSet, code: str = "") -> str:
    """``Eq(s0, s2)`` -> ``x.shape[0] == y.shape[0]``; never shows torch's symbol names."""
    names = display_names(guardset, {str(s) for s in expr.free_symbols}, code)
    mapping = {s: sympy.Symbol(names[str(s)]) for s in expr.free_symbols}
    renamed = expr.xreplace(mapping)
    for cls, op in _REL.items():
        if isinstance(renamed, cls):
            return f"{_term(renamed.lhs)} {op} {_term(renamed.rhs)}"
    return _term(renamed)


class _PythonPrinter(StrPrinter):
    """Print torch's shape functions as the Python a user would write (and can paste into
    ``torch._check``): ``k % 4``, ``a // 2``, ``min(a, b)``."""

    _INFIX = {"Mod": "%", "PythonMod": "%", "FloorDiv": "//"}
    _REL_OPS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
    printmethod = "_dimsolve_python"  # ignore torch's own _sympystr (it prints ``((a//2))``)

    def _print_Relational(self, expr: sympy.Basic) -> str:  # noqa: N802
        op = self._REL_OPS.get(expr.rel_op, expr.rel_op)
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _print_Function(self, expr: sympy.Basic) -> str:  # noqa: N802 - sympy's printer protocol
        name = type(expr).__name__
        args = [self.parenthesize(a, PRECEDENCE["Mul"]) for a in expr.args]
        if name in self._INFIX and len(args) == 2:  # parenthesised: ``2*(k % 4)``, never ``2*k % 4``
            return f"({args[0]} {self._INFIX[name]} {args[1]})"
        if name in ("Min", "Max"):
            return f"{name.lower()}({', '.join(self._print(a) for a in expr.args)})"
        if name == "CeilDiv" and len(args) == 2:
            return f"(-(-{args[0]} // {args[1]}))"
        return super()._print_Function(expr)

    _print_Mod = _print_Function
    _print_Min = _print_Function
    _print_Max = _print_Function
    _print_FloorDiv = _print_Function
    _print_PythonMod = _print_Function
    _print_CeilDiv = _print_Function

    def _print_Not(self, expr: sympy.Basic) -> str:  # noqa: N802
        return f"not ({self._print(expr.args[0])})"

    def _print_And(self, expr: sympy.Basic) -> str:  # noqa: N802
        return " and ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr: sympy.Basic) -> str:  # noqa: N802
        return " or ".join(f"({self._print(a)})" for a in expr.args)


def _term(expr: sympy.Basic) -> str:
    return _PythonPrinter().doprint(expr)


def spec_summary(spec: Spec) -> str:
    """``x: (dx, d1)  y: (dy, d1)``: the spec of each input that has a dynamic dim."""
    by_input: dict[str, list[str]] = {}
    scalars = {str(e.path.input) for e in spec.entries if e.path.is_scalar}
    for e in spec.entries:
        by_input.setdefault(str(e.path.input), []).append(e.dim.expr_text())
    parts = [f"{name}: {dims[0]}" if name in scalars else f"{name}: ({', '.join(dims)}{',' if len(dims) == 1 else ''})"
             for name, dims in by_input.items()]
    return "  ".join(parts)


def root_paths(spec: Spec, root: str) -> str:
    """Where the user used a root: ``x.shape[0]`` (the first plain use, else the first use)."""
    users = spec.users_of(root)
    plain = [e for e in users if e.dim.coeff == 1 and e.dim.offset == 0]
    chosen = (plain or list(users))[:1]
    return str(chosen[0].path) if chosen else root


def _plain_path(spec: Spec, root: str) -> str | None:
    return next((str(e.path) for e in spec.users_of(root) if (e.dim.coeff, e.dim.offset) == (1, 0)), None)


def root_term(spec: Spec, root: str) -> str:
    """A root inside an expression: the input dim that *is* the root (``x.shape[0]``), else its name.

    ``x.shape[0]`` of ``x: d + 1`` is not ``d``: writing ``x.shape[0] - 1`` for ``d`` would mix the two."""
    return _plain_path(spec, root) or root


def root_ref(spec: Spec, root: str) -> str:
    """A root as the subject of a message: ``x.shape[0] (`d`)``, or ``d`` (x.shape[0] is d + 1)."""
    plain = _plain_path(spec, root)
    if plain is not None:
        return f"{plain} (`{root}`)"
    users = spec.users_of(root)
    return f"`{root}` ({users[0].path} is {users[0].dim.expr_text()})" if users else f"`{root}`"


def root_uses(spec: Spec, roots: list[str]) -> str:
    """`` (y.shape[0] is d3 + 1)``: how the input dims relate to the roots a message names by name."""
    uses = [f"{u[0].path} is {u[0].dim.expr_text()}" for r in dict.fromkeys(roots)
            if _plain_path(spec, r) is None and (u := spec.users_of(r))]
    return f" ({', '.join(uses)})" if uses else ""
