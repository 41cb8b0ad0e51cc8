"""Join the guards of a second trace (torch's export of a candidate fix) into a GuardSet.

Each trace names its own symbols; what two traces share is the input dimension a symbol stands
for. The second trace's symbols are renamed onto the first's by input path, so a guard torch
emitted only on the candidate's code path (a branch taken once a dim is static) constrains the
same sizes the first trace's guards do. This module must not import torch.
"""

from __future__ import annotations

import sympy

from dimsolve.guards.model import GuardRecord, GuardSet, SymbolInfo


def _renaming(base: GuardSet, extra: GuardSet) -> tuple[dict[sympy.Symbol, sympy.Symbol], list[SymbolInfo]]:
    """extra's symbol -> base's symbol for the same input dim; extra's symbols base lacks (renamed
    when their name is taken)."""
    taken = {s.name for s in base.symbols}
    mapping: dict[sympy.Symbol, sympy.Symbol] = {}
    added: list[SymbolInfo] = []
    for s in extra.symbols:
        same = next((base.symbol_for(p) for p in s.paths if base.symbol_for(p) is not None), None) if s.backed else None
        if same is not None:
            mapping[s.sympy()] = same.sympy()
            continue
        name = s.name
        while name in taken:
            name += "_"
        taken.add(name)
        if name != s.name:
            mapping[s.sympy()] = sympy.Symbol(name, integer=True)
        added.append(SymbolInfo(name, s.paths, s.example, s.backed, s.label, s.origin, s.lower, s.upper))
    return mapping, added


def merge_guards(base: GuardSet, extra: GuardSet) -> GuardSet:
    """``base`` plus every guard of ``extra`` it does not already have, in ``base``'s symbols.

    >>> merged = merge_guards(all_dynamic, candidate_trace)       # doctest: +SKIP
    """
    mapping, added = _renaming(base, extra)
    have = {g.expr for g in base.guards}
    new: list[GuardRecord] = []
    for g in extra.guards:
        expr = g.expr.xreplace(mapping) if mapping else g.expr
        if expr in have or expr in (sympy.true, True):
            continue
        have.add(expr)
        index = g.index.renamed(mapping) if g.index is not None and mapping else g.index
        new.append(GuardRecord(expr, g.kind, g.origin, index))
    if not new and not added:
        return base
    return GuardSet(base.symbols + tuple(added), base.guards + tuple(new), base.specializations, base.failures,
                    base.strict, base.torch_version, dict(base.meta))
