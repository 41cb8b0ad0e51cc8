"""Guards that hold identically once related sizes are written in terms of their common root.

``linear.BoxEvaluator`` reasons with intervals, so a product loses its factors: with ``s43 = s72 =
b`` it cannot see that ``Mod(s43*s53, s72)`` is ``Mod(b*s53, b) = 0``. sympy can (and torch's own
``Mod``/``FloorDiv`` simplify the same way): each size is replaced by ``coeff*atom + offset``, and
a guard that sympy reduces to ``true`` holds for every integer value of the atoms. Only tried where
two sizes share an atom (otherwise the substitution is a renaming and proves nothing new) and the
guard divides by a size or equates polynomials, and memoised per (guard, substitution): the answer
is a pure function of both.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import sympy

MEMO_SIZE = 4096

Form = tuple[str | None, int, int]  # (atom, coeff, offset), as in ``problem.Form``
Interval = tuple[float, float]

_MEMO: OrderedDict[tuple[object, ...], bool] = OrderedDict()


def identically_true(expr: sympy.Basic, atoms: Mapping[str, Interval], forms: Mapping[str, Form]) -> bool:
    """``expr`` is true for every integer value of the atoms (each size ``coeff*atom + offset``).

    >>> s0, s1, s2 = sympy.symbols("s0 s1 s2", integer=True)
    >>> forms = {"s0": ("b", 1, 0), "s1": ("q", 1, 0), "s2": ("b", 1, 0)}
    >>> identically_true(sympy.Eq(sympy.Mod(s0 * s1, s2), 0), {"b": (2, 64), "q": (2, 64)}, forms)
    True
    """
    substitution: list[tuple[str, Form, bool]] = []
    for sym in expr.free_symbols:  # type: ignore[attr-defined]
        form = forms.get(sym.name)
        if form is None or (form[0] is not None and form[1] and form[0] not in atoms):
            return False
        positive = form[0] is not None and bool(form[1]) and atoms[form[0]][0] >= 1
        substitution.append((sym.name, form, positive))
    shared = [f[0] for _, f, _ in substitution if f[0] is not None and f[1]]
    if len(shared) == len(set(shared)):
        return False
    key = (expr, tuple(sorted(substitution, key=lambda t: t[0])))
    found = _MEMO.get(key)
    if found is None:
        found = _MEMO[key] = _worth_trying(expr) and _reduces_to_true(expr, substitution)
        while len(_MEMO) > MEMO_SIZE:
            _MEMO.popitem(last=False)
    return found


_DIVISIONS = ("FloorDiv", "CleanDiv", "CeilDiv", "Mod", "PythonMod")


def _worth_trying(expr: sympy.Basic) -> bool:
    """Where sympy can see more than intervals: a division by a size (``Mod(b*q, b)``), or an
    equation between polynomials (``Eq(s0*s1, s2*s3)``). Product bounds and divisions by constants
    are ``BoxEvaluator``'s; substituting them costs sympy time for nothing."""
    functions = expr.atoms(sympy.Function)
    if any(type(f).__name__ in _DIVISIONS and len(f.args) == 2 and not f.args[1].is_Integer for f in functions):
        return True
    return isinstance(expr, (sympy.Equality, sympy.Unequality)) and not functions


def _reduces_to_true(expr: sympy.Basic, substitution: list[tuple[str, Form, bool]]) -> bool:
    values: dict[str, sympy.Basic] = {}
    for name, (atom, coeff, offset), positive in substitution:
        atom_value = sympy.Symbol(atom, integer=True, positive=positive) if atom is not None and coeff else 0
        values[name] = coeff * atom_value + offset
    try:  # the guard's symbols carry their own assumptions: replace them by name
        reduced = expr.xreplace({s: values[s.name] for s in expr.free_symbols})  # type: ignore[attr-defined]
    except (ArithmeticError, TypeError, ValueError):
        return False
    return reduced is sympy.true
