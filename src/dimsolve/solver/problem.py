"""The decision problem: a spec's admitted inputs and the model's guards, as z3 formulas.

Every backed symbol of the GuardSet becomes a z3 integer. The spec constrains it through its
dimension's ``DimSpec`` (static value, ``coeff*root + offset`` with the root's range, hint bounds).
Sizes the spec makes dynamic are taken ``>= 2``: torch traces assuming sizes 0 and 1 do not occur
(they specialise), so guards say nothing about them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

from dimsolve.dims.model import DimKind, Spec, SpecEntry
from dimsolve.guards.model import GuardRecord, GuardSet
from dimsolve.solver.translate import Unsupported, to_z3

MIN_DYNAMIC_SIZE = 2


@dataclass
class Problem:
    """Everything the checks need, built once per (GuardSet, Spec)."""

    spec: Spec
    guardset: GuardSet
    vars: dict[str, z3.ArithRef]  # symbol name -> z3 var
    roots: dict[str, z3.ArithRef]  # root Dim name -> z3 var
    auto: dict[str, z3.ArithRef]  # AUTO symbols: existentially quantified
    domain: list[z3.BoolRef]  # constraints on named/static symbols and roots
    auto_domain: list[z3.BoolRef]  # bounds of AUTO symbols
    guards: list[tuple[GuardRecord, z3.BoolRef]]  # translated backed guards, in trace order
    unsupported: list[tuple[GuardRecord, str]] = field(default_factory=list)
    entries_of: dict[str, list[SpecEntry]] = field(default_factory=dict)  # symbol -> spec entries
    unsymbolic: list[SpecEntry] = field(default_factory=list)  # dynamic in the spec, static in the trace

    def example(self) -> dict[str, int]:
        out = {}
        for s in self.guardset.symbols:
            if s.backed and s.example is not None:
                out[s.name] = s.example
        return out


def root_var(name: str) -> z3.ArithRef:
    return z3.Int(f"root!{name}")


def _entry_constraint(entry: SpecEntry, var: z3.ArithRef, spec: Spec, roots: dict[str, z3.ArithRef]) -> list[z3.BoolRef]:
    d = entry.dim
    if d.kind is DimKind.STATIC:
        return [var == (d.value if d.value is not None else entry.example)]
    if d.kind in (DimKind.ROOT, DimKind.DERIVED) and d.root is not None:
        if d.root not in roots:
            roots[d.root] = root_var(d.root)
        return [var == d.coeff * roots[d.root] + d.offset, var >= MIN_DYNAMIC_SIZE]
    bounds = [var >= max(d.min or 0, MIN_DYNAMIC_SIZE)]
    if d.max is not None:
        bounds.append(var <= d.max)
    return bounds


def _root_bounds(spec: Spec, roots: dict[str, z3.ArithRef]) -> list[z3.BoolRef]:
    out: list[z3.BoolRef] = []
    for name, var in roots.items():
        root = spec.roots.get(name)
        if root is None:
            continue
        out.append(var >= root.min)
        if root.max is not None:
            out.append(var <= root.max)
    return out


def build_problem(guardset: GuardSet, spec: Spec) -> Problem:
    vars_ = {s.name: z3.Int(s.name) for s in guardset.symbols if s.backed}
    roots: dict[str, z3.ArithRef] = {}
    auto: dict[str, z3.ArithRef] = {}
    domain: list[z3.BoolRef] = []
    auto_domain: list[z3.BoolRef] = []
    entries_of: dict[str, list[SpecEntry]] = {}
    unsymbolic: list[SpecEntry] = []
    for entry in spec.entries:
        info = guardset.symbol_for(entry.path)
        if info is None or info.name not in vars_:
            if entry.dim.is_dynamic:
                unsymbolic.append(entry)
            continue
        entries_of.setdefault(info.name, []).append(entry)
        var = vars_[info.name]
        if entry.dim.kind in (DimKind.AUTO, DimKind.DYNAMIC):  # torch infers these: existential
            auto[info.name] = var
            auto_domain.extend(_entry_constraint(entry, var, spec, roots))
        else:
            domain.extend(_entry_constraint(entry, var, spec, roots))
    # a symbol no spec entry mentions (an input the spec does not cover) keeps its example size
    for name, var in vars_.items():
        if name not in entries_of:
            example = guardset.symbol(name).example  # type: ignore[union-attr]
            domain.append(var == example)
    domain.extend(_root_bounds(spec, roots))
    # AUTO symbols also named elsewhere (aliased input) are not free
    for name in list(auto):
        if any(e.dim.kind not in (DimKind.AUTO, DimKind.DYNAMIC) for e in entries_of.get(name, [])):
            del auto[name]
    problem = Problem(spec, guardset, vars_, roots, auto, domain, auto_domain, [], entries_of=entries_of, unsymbolic=unsymbolic)
    env = {**vars_}
    for g in guardset.backed_guards():
        try:
            problem.guards.append((g, to_z3(g.expr, env)))
        except Unsupported as exc:
            problem.unsupported.append((g, str(exc)))
    return problem
