"""Guards no input can satisfy, or that a GuardSet cannot mean: never a reason to answer "valid".

A traced GuardSet holds on its own example, so these come from GuardSets written or edited by hand
(a cache file, a service request): ``False`` (``Eq(s0, s0 + 1)`` reads as ``False``), a guard over a
name the GuardSet does not declare, two bounds on one size that cross. Left alone, the first two
would not reach the solver at all (a guard is checked when its symbols are input sizes) and the
spec would be answered valid while no input passes the model's guards.

One guard over an undeclared name is torch's own: for a derived Dim (``2*dx``) torch makes a
symbol for the root and records ``Eq(s0, 2*s92)``, the spec's relation restated. Such a definition
(a declared size equal to ``a*root + b`` of one undeclared root, ``a >= 1``) is not a defect; it
is left out of the solver as before, since the spec carries the relation itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import sympy

from dimsolve.guards.model import GuardKind, GuardRecord, GuardSet
from dimsolve.solver.bounds import affine


class Defect(str, enum.Enum):
    ALWAYS_FALSE = "always_false"  # no sizes satisfy it
    UNDECLARED_SYMBOL = "undeclared_symbol"  # it names a symbol the GuardSet does not declare
    CONTRADICTS = "contradicts"  # it and another guard on the same size admit no size together


@dataclass(frozen=True)
class GuardDefect:
    guard: GuardRecord
    defect: Defect
    names: tuple[str, ...] = ()  # UNDECLARED_SYMBOL: the names
    other: GuardRecord | None = None  # CONTRADICTS: the guard it contradicts (itself: alone)


def guard_defects(guardset: GuardSet) -> list[GuardDefect]:
    """The guards (not data-dependent failures) that are constant false or name undeclared symbols.

    >>> s0 = sympy.Symbol("s0", integer=True)
    >>> gs = GuardSet((), (GuardRecord(sympy.false), GuardRecord(s0 > 2)))
    >>> [(d.defect.value, d.names) for d in guard_defects(gs)]
    [('always_false', ()), ('undeclared_symbol', ('s0',))]
    """
    declared = {s.name for s in guardset.symbols}
    out: list[GuardDefect] = []
    for g in guardset.guards:
        if g.kind is GuardKind.DATA_DEPENDENT:
            continue
        names = {s.name for s in g.expr.free_symbols}  # type: ignore[attr-defined]  # no printing (10k guards)
        undeclared = tuple(sorted(names - declared))
        if undeclared and not is_root_definition(g.expr, declared):
            out.append(GuardDefect(g, Defect.UNDECLARED_SYMBOL, names=undeclared))
        elif not names and g.expr is not sympy.true and g.expr is not True and g.kind is not GuardKind.INDEX_BOUND:
            # (an index check false at every size is the model's, on its own example: DS701)
            out.append(GuardDefect(g, Defect.ALWAYS_FALSE))
    return out


def is_root_definition(expr: sympy.Basic, declared: set[str]) -> bool:
    """``expr`` is torch's definition of a derived size: ``Eq(size, a*root + b)`` with ``a >= 1``,
    ``size`` over declared symbols only and ``root`` one undeclared symbol.

    >>> s0, s92 = sympy.symbols("s0 s92", integer=True)
    >>> is_root_definition(sympy.Eq(s0, 2 * s92 + 1), {"s0"}), is_root_definition(s0 > s92, {"s0"})
    (True, False)
    """
    if not isinstance(expr, sympy.Equality):
        return False
    for size, root in (expr.args, expr.args[::-1]):
        form = affine(root)
        names = {s.name for s in size.free_symbols}  # type: ignore[attr-defined]
        if form is not None and form[0] is not None and form[0] not in declared and form[1] >= 1 \
                and names and names <= declared:
            return True
    return False
