"""Guards over a derived Dim's root, restated over the input sizes the root defines.

torch.export of ``{"x": (d2 + 1, d3 + 1)}`` creates a symbol for each size (``s77`` for
``x.shape[0]``), then one for each root (``s56`` for ``d2``) and replaces ``s77`` by ``s56 + 1``
in its ShapeEnv: its guards read ``Eq(s56 + 1, s54 + 1)``, over roots that are no input's size. A
GuardSet names sizes, so such a guard is restated over the sizes' symbols: a form torch first
replaced a size by is that size (``s56 + 1`` is ``s77``), and a root with a unit form is the size
minus its offset wherever else it appears (``s56`` is ``s77 - 1``); a guard that becomes a
definition of another root (``Eq(s77, s54 + 1)``) is kept as one. The first replacement, not
the last: once the guard above holds torch also replaces ``s56`` by ``s54``, and restating over
that would turn the guard into ``True``. A guard that still names a root is left as torch wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import sympy

from dimsolve.guards.model import GuardRecord


@dataclass(frozen=True)
class RootForms:
    """How to restate a guard over the declared sizes."""

    forms: dict[sympy.Expr, sympy.Symbol]  # a*root + b -> the size torch replaced by it
    roots: dict[sympy.Symbol, sympy.Expr]  # root -> size - b, for a unit form
    constants: dict[int, sympy.Symbol]  # a size torch pinned to a constant before it checked the spec

    def _pinned_definition(self, expr: sympy.Basic) -> sympy.Basic | None:
        return _pinned(self.constants, expr)

    def restate(self, guards: list[GuardRecord], declared: set[str]) -> list[GuardRecord]:
        """``guards`` over the declared size symbols, wherever that removes every root."""
        if not (self.forms or self.constants):
            return guards
        out = []
        for g in guards:
            if {s.name for s in g.expr.free_symbols} - declared:  # type: ignore[attr-defined]
                pinned = self._pinned_definition(g.expr)
                restated = pinned if pinned is not None else g.expr.xreplace(self.forms).xreplace(self.roots)
                if restated is not sympy.true and ({s.name for s in restated.free_symbols} <= declared  # type: ignore[attr-defined]
                                                   or root_definition(restated, declared) is not None):
                    g = replace(g, expr=restated)
            out.append(g)
        return out


def _pinned(constants: dict[int, sympy.Symbol], expr: sympy.Basic) -> sympy.Basic | None:
    """``Eq(7, s40 + 3)``: the spec's ``x.shape[1] == d + 3`` checked after the model pinned the size
    to 7; restated as the definition ``Eq(size, s40 + 3)`` of the size pinned to 7."""
    if not isinstance(expr, sympy.Equality):
        return None
    for const, form in (expr.args, expr.args[::-1]):
        if isinstance(const, sympy.Integer) and int(const) in constants and _linear_form(form) is not None:
            return sympy.Eq(constants[int(const)], form)
    return None


def _linear_form(expr: object) -> tuple[sympy.Symbol, int, int] | None:
    """``(root, a, b)`` when ``expr`` is ``a*root + b`` with integers ``a != 0`` and ``b``."""
    if not isinstance(expr, sympy.Expr) or len(expr.free_symbols) != 1:
        return None
    (root,) = expr.free_symbols
    if not expr.is_polynomial(root):
        return None
    poly = sympy.Poly(expr, root)
    if poly.degree() != 1 or not all(c.is_Integer for c in poly.all_coeffs()):
        return None
    a, b = poly.all_coeffs()
    return root, int(a), int(b)  # type: ignore[return-value]


def root_definition(expr: sympy.Basic, declared: set[str]) -> tuple[sympy.Symbol, sympy.Basic] | None:
    """``(size, a*root + b)`` when ``expr`` is torch's definition ``Eq(size, a*root + b)`` of a
    derived Dim's root (one symbol no input declares) by a declared size, which the spec states itself."""
    if not isinstance(expr, sympy.Equality):
        return None
    for size, form in (expr.args, expr.args[::-1]):
        roots = [r for r in form.free_symbols if r.name not in declared]  # type: ignore[attr-defined]
        if (isinstance(size, sympy.Symbol) and size.name in declared and len(roots) == 1
                and form.free_symbols == set(roots) and form.is_polynomial(roots[0])
                and sympy.degree(form, roots[0]) == 1):
            return size, form
    return None


def root_forms(replacements: Mapping[sympy.Symbol, object], declared: set[str]) -> RootForms:
    """The forms torch first replaced declared sizes by, over undeclared roots."""
    forms: dict[sympy.Expr, sympy.Symbol] = {}
    roots: dict[sympy.Symbol, sympy.Expr] = {}
    constants: dict[int, sympy.Symbol] = {}
    for size, expr in replacements.items():
        if isinstance(expr, sympy.Integer) and getattr(size, "name", None) in declared:
            constants.setdefault(int(expr), size)  # type: ignore[arg-type]
            continue
        form = _linear_form(expr)
        if getattr(size, "name", None) not in declared or form is None or form[0].name in declared:
            continue
        root, a, b = form
        forms.setdefault(expr, size)  # type: ignore[arg-type]
        if a == 1:
            roots.setdefault(root, size - b)  # type: ignore[operator]
    return RootForms(forms, roots, constants)
