"""The decision problem: a spec's admitted inputs and the model's guards, as z3 formulas.

Every backed symbol of the GuardSet becomes a z3 integer. The spec constrains it through its
dimension's ``DimSpec`` (static value, ``coeff*root + offset`` with the root's range, hint bounds).
Sizes the spec makes dynamic are taken ``>= 2``: torch traces assuming sizes 0 and 1 do not occur
(they specialise), so guards say nothing about them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import z3

from dimsolve.dims.model import DimKind, Spec, SpecEntry
from dimsolve.guards.model import GuardKind, GuardRecord, GuardSet
from dimsolve.solver.bounds import merge_bounds
from dimsolve.solver.defects import Defect, GuardDefect, guard_defects
from dimsolve.solver.linear import INF, BoxEvaluator, BoxValue, Interval
from dimsolve.solver.size import MAX_EXPANDED_TERMS, expanded_terms
from dimsolve.solver.symbolic import identically_true
from dimsolve.solver.terms import at_least, at_most, equals_affine, int_var
from dimsolve.solver.translate import Translator, Unsupported

MIN_DYNAMIC_SIZE = 2
MIN_INT_VALUE = 0  # an int input torch makes a symbol ranges over [0, inf): it keeps 0 and 1 symbolic
TRANSLATION_CACHE_SIZE = 8  # GuardSets whose translated guards are kept (re-checks, fix verification)


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
    # guards true on every size the spec admits, found without z3 (``settle``): never sent to the solver
    implied: frozenset[GuardRecord] = frozenset()
    # guards no input satisfies or naming undeclared symbols (``defects``): never a valid spec
    defects: tuple[GuardDefect, ...] = ()
    # bound guards implied by a tighter one on the same size (``bounds``): not sent to the solver
    covered: tuple[GuardRecord, ...] = ()

    def example(self) -> dict[str, int]:
        out = {}
        for s in self.guardset.symbols:
            if s.backed and s.example is not None:
                out[s.name] = s.example
        return out


def root_var(name: str) -> z3.ArithRef:
    return int_var(f"root!{name}")


def lowest_size(entry: SpecEntry) -> int:
    """The least value a dynamic ``entry`` takes: 2 for a tensor size (torch specialises 0 and 1, so
    its guards say nothing about them), 0 for an int input (torch keeps 0 and 1, and guards on them)."""
    return MIN_INT_VALUE if entry.path.is_scalar else MIN_DYNAMIC_SIZE


def _entry_constraint(entry: SpecEntry, name: str, roots: dict[str, z3.ArithRef]) -> list[z3.BoolRef]:
    """The constraints of one spec entry on symbol ``name`` (z3 terms from ``terms``' cache)."""
    d = entry.dim
    if d.kind is DimKind.STATIC:
        return [equals_affine(name, None, 0, d.value if d.value is not None else entry.example)]
    if d.kind in (DimKind.ROOT, DimKind.DERIVED) and d.root is not None:
        if d.root not in roots:
            roots[d.root] = root_var(d.root)
        return [equals_affine(name, f"root!{d.root}", d.coeff, d.offset), at_least(name, lowest_size(entry))]
    bounds = [at_least(name, max(d.min or 0, lowest_size(entry)))]
    if d.max is not None:
        bounds.append(at_most(name, d.max))
    return bounds


def _root_bounds(spec: Spec, roots: dict[str, z3.ArithRef]) -> list[z3.BoolRef]:
    out: list[z3.BoolRef] = []
    for name in roots:
        root = spec.roots.get(name)
        if root is None:
            continue
        out.append(at_least(f"root!{name}", root.min))
        if root.max is not None:
            out.append(at_most(f"root!{name}", root.max))
    return out


def build_problem(guardset: GuardSet, spec: Spec) -> Problem:
    vars_ = {s.name: int_var(s.name) for s in guardset.symbols if s.backed}
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
        if entry.dim.kind in (DimKind.AUTO, DimKind.DYNAMIC):  # torch infers these: existential
            auto[info.name] = vars_[info.name]
            auto_domain.extend(_entry_constraint(entry, info.name, roots))
        else:
            domain.extend(_entry_constraint(entry, info.name, roots))
    # a symbol no spec entry mentions (an input the spec does not cover) keeps its example size
    for name in vars_:
        if name not in entries_of:
            example = guardset.symbol(name).example  # type: ignore[union-attr]
            domain.append(equals_affine(name, None, 0, example))  # type: ignore[arg-type]
    domain.extend(_root_bounds(spec, roots))
    # AUTO symbols also named elsewhere (aliased input) are not free
    for name in list(auto):
        if any(e.dim.kind not in (DimKind.AUTO, DimKind.DYNAMIC) for e in entries_of.get(name, [])):
            del auto[name]
    problem = Problem(spec, guardset, vars_, roots, auto, domain, auto_domain, [], entries_of=entries_of, unsymbolic=unsymbolic)
    translated = translated_guards(guardset)
    problem.guards = list(translated.guards)
    problem.unsupported = list(translated.unsupported)
    problem.defects, problem.covered = translated.defects, translated.covered
    problem.implied = settle(problem)
    return problem


@dataclass(frozen=True)
class TranslatedGuards:
    guards: tuple[tuple[GuardRecord, z3.BoolRef], ...]
    unsupported: tuple[tuple[GuardRecord, str], ...]
    defects: tuple[GuardDefect, ...] = ()
    covered: tuple[GuardRecord, ...] = ()


# id(guardset) -> (guardset, z3 context, its translation). The GuardSet is kept alive with its
# entry, so an id is never reused while cached; a z3 term depends only on the GuardSet (each
# symbol is ``z3.Int(name)`` whatever the spec), so every spec checked against it shares the
# translation, within one default z3 context (the service makes a fresh one per check).
_TRANSLATED: OrderedDict[int, tuple[GuardSet, z3.Context, TranslatedGuards]] = OrderedDict()


def backed_guards(guardset: GuardSet) -> list[GuardRecord]:
    """``guardset.backed_guards()``, with one walk of each expression and no printing (a third of
    the translation time at 10k guards)."""
    backed = {s.name for s in guardset.symbols if s.backed}
    out = []
    for g in guardset.guards:
        if g.kind is not GuardKind.DATA_DEPENDENT:
            names = {s.name for s in g.expr.free_symbols}  # type: ignore[attr-defined]
            if names and names <= backed:
                out.append(g)
    return out


def translated_guards(guardset: GuardSet) -> TranslatedGuards:
    """The backed guards of ``guardset`` in z3, translated once per GuardSet (one shared translator):
    bound guards merged per size first (``bounds``), guards too large to expand refused unread."""
    ctx = z3.main_ctx()
    hit = _TRANSLATED.get(id(guardset))
    if hit is not None and hit[0] is guardset and hit[1] is ctx:
        _TRANSLATED.move_to_end(id(guardset))
        return hit[2]
    for key in [k for k, (_, c, _) in _TRANSLATED.items() if c is not ctx]:
        del _TRANSLATED[key]  # another default context's terms (the service's per-check contexts) would keep it alive
    translator = Translator({s.name: z3.Int(s.name) for s in guardset.symbols if s.backed})
    guards: list[tuple[GuardRecord, z3.BoolRef]] = []
    unsupported: list[tuple[GuardRecord, str]] = []
    merged = merge_bounds(backed_guards(guardset))
    for g in merged.kept:
        if expanded_terms(g.expr) > MAX_EXPANDED_TERMS:
            unsupported.append((g, f"it expands to more than {MAX_EXPANDED_TERMS} terms (max_expr_terms)"))
            continue
        try:
            guards.append((g, translator.condition(g.expr)))
        except Unsupported as exc:
            unsupported.append((g, str(exc)))
    defects = guard_defects(guardset) + [GuardDefect(lo, Defect.CONTRADICTS, other=hi)
                                         for lo, hi in merged.contradictions]
    result = TranslatedGuards(tuple(guards), tuple(unsupported), tuple(defects), merged.covered)
    _TRANSLATED[id(guardset)] = (guardset, ctx, result)
    _TRANSLATED.move_to_end(id(guardset))
    while len(_TRANSLATED) > TRANSLATION_CACHE_SIZE:
        _TRANSLATED.popitem(last=False)
    return result


# --- guards the spec settles alone ----------------------------------------------------------------
#
# Each size the spec constrains is an affine form over atoms (its root, or the size itself when
# only a range is known), each atom with an interval; ``linear.BoxEvaluator`` proves a guard true
# on the whole box or leaves it to z3. Sound because every fact used is in the domain.

Form = tuple[str | None, int, int]  # a size as (atom, coeff, offset): coeff*atom + offset


def implied(guards: Iterable[GuardRecord], atoms: Mapping[str, Interval],
            forms: Mapping[str, Form]) -> set[GuardRecord]:
    """The guards true whatever integer value in its interval each atom takes, where symbol ``s`` is
    ``coeff*atom + offset`` for ``forms[s] = (atom, coeff, offset)`` (atom None: the constant offset).
    Symbols without a form (or whose atom has no interval) are unknown: a guard on one is never implied.

    >>> import sympy
    >>> s0, s1 = sympy.symbols("s0 s1", integer=True)
    >>> forms = {"s0": ("d", 1, 0), "s1": ("d", 1, 1)}
    >>> guards = [GuardRecord(sympy.Eq(s1, s0 + 1)), GuardRecord(s0 * s1 <= 64), GuardRecord(s0 <= 6)]
    >>> sorted(str(g.expr) for g in implied(guards, {"d": (2, 7)}, forms))
    ['Eq(s1, s0 + 1)', 's0*s1 <= 64']
    """
    values = {s: BoxValue(((a, c),), o) if a is not None and c else BoxValue(const=o)
              for s, (a, c, o) in forms.items() if a is None or not c or a in atoms}  # no interval: unknown
    evaluator = BoxEvaluator(atoms, values)
    return {g for g in guards if evaluator.always(g.expr) or identically_true(g.expr, atoms, forms)}


def size_forms(problem: Problem) -> tuple[dict[str, Interval], dict[str, Form]]:
    """Each symbol's value as the domain states it, and the intervals of the atoms those use."""
    atoms: dict[str, Interval] = {}
    forms: dict[str, Form] = {}
    for name, entries in problem.entries_of.items():
        free = name in problem.auto
        for e in entries if free else [e for e in entries if e.dim.kind not in (DimKind.AUTO, DimKind.DYNAMIC)]:
            d = e.dim
            if d.kind is DimKind.STATIC:
                forms[name] = (None, 0, d.value if d.value is not None else e.example)
            elif d.kind in (DimKind.ROOT, DimKind.DERIVED) and d.root is not None:
                root = "root!" + d.root
                lo, hi = atoms.get(root, _root_interval(problem, d.root))
                atoms[root] = (max(lo, -((d.offset - lowest_size(e)) // d.coeff)), hi)  # the size is >= 2 (int: 0)
                forms[name] = (root, d.coeff, d.offset)
            else:
                atoms[name] = (max(d.min or 0, lowest_size(e)), INF if d.max is None else d.max)
                forms[name] = (name, 1, 0)
            break
    for name in problem.vars:
        if name not in problem.entries_of:
            forms[name] = (None, 0, problem.guardset.symbol(name).example)  # type: ignore[union-attr, arg-type]
    return atoms, forms


def _root_interval(problem: Problem, name: str) -> Interval:
    root = problem.spec.roots.get(name)
    if root is None:
        return -INF, INF
    return root.min, INF if root.max is None else root.max


def settle(problem: Problem) -> frozenset[GuardRecord]:
    """The guards true on every size the spec admits, decided without z3 (see above)."""
    return frozenset(implied((record for record, _ in problem.guards), *size_forms(problem)))
