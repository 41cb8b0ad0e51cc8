"""What ``Dim.AUTO`` and ``Dim.DYNAMIC`` resolve to, and the named-``Dim`` spec that pins it.

Each hinted dimension becomes a fresh named root (``x_dim0``) and the ordinary fix synthesis runs
on that spec: the weakest fix *is* what export infers for a hint (a constant, a relation, a range,
or a non-linear function left to ``Dim.AUTO``). For AUTO that is information; for DYNAMIC a
constant is an error, and so is a range narrower than bounds the user wrote.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

import sympy

from dimsolve.diagnostics.model import (Diagnostic, Fix, MakeAuto, NewRoot, Relate, SetRange, Severity, Specialize,
                                        SpecChange)
from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec, SpecEntry
from dimsolve.export.findings import violation_diagnostics
from dimsolve.export.index_findings import INDEX_CODES
from dimsolve.export.terms import spec_summary
from dimsolve.guards.model import GuardSet
from dimsolve.solver.check import Status, check
from dimsolve.solver.forms import accepted_other_value
from dimsolve.solver.problem import build_problem, lowest_size
from dimsolve.solver.synthesis import synthesize

_HINTS = (DimKind.AUTO, DimKind.DYNAMIC)


@dataclass(frozen=True)
class Resolution:
    pinned: Spec | None  # the hinted spec with every hint replaced by what export infers
    diagnostics: tuple[Diagnostic, ...]


def _root_name(entry: SpecEntry, taken: set[str]) -> str:
    axis = "_value" if entry.path.is_scalar else f"_dim{entry.path.axis}"
    base = re.sub(r"\W+", "_", str(entry.path.input)).strip("_") + axis
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def name_hints(spec: Spec) -> tuple[Spec, dict[str, SpecEntry]]:
    """The spec with each AUTO/DYNAMIC dimension as its own named root; root name -> original entry."""
    taken = set(spec.roots)
    roots = dict(spec.roots)
    hinted: dict[str, SpecEntry] = {}
    entries = []
    for e in spec.entries:
        if e.dim.kind in _HINTS:
            name = _root_name(e, taken)
            # torch gives hinted dims the range [2, inf) unless bounds are written (int inputs [0, inf))
            low = lowest_size(e)
            roots[name] = RootDim(name, max(e.dim.min if e.dim.min is not None else low, low), e.dim.max)
            hinted[name] = e
            e = replace(e, dim=DimSpec(DimKind.ROOT, root=name))
        entries.append(e)
    return replace(spec, entries=tuple(entries), roots=roots), hinted


def _explain(d: Diagnostic, entry: SpecEntry, spec: Spec, original: Spec, fixed: Spec | None = None,
             relation: str = "", other: int | None = None) -> Diagnostic:
    """The finding for one hinted dim; ``other``: a second size every guard accepts when the fix
    pins the dim (the model narrows it, it does not pin it)."""
    change = d.fixes[0].changes[-1] if d.fixes and d.fixes[0].changes else None
    hint = entry.dim.expr_text()
    why = f" because of `{d.facts['guard']}`" if "guard" in d.facts else ""
    if d.labels and d.labels[0].location.code:
        loc = d.labels[0].location
        why = f" because of `{loc.code}` at {os.path.basename(loc.file)}:{loc.line}"
    severity, code = Severity.INFO, "DS405"
    silent = ""
    if isinstance(change, Specialize) and other is not None:
        what = f"accepts only some sizes (such as {change.value} and {other}), which no Dim range can say{',' if why else ''}"
        if entry.dim.kind is DimKind.DYNAMIC:
            severity, code, silent = Severity.ERROR, "DS302", ": torch would export, then reject admitted inputs at run time"
    elif isinstance(change, Specialize):
        what = f"is static ({change.value})"
        if entry.dim.kind is DimKind.DYNAMIC:
            severity, code = Severity.ERROR, "DS404"
    elif isinstance(change, Relate):
        other = _describe_root(spec, change.root)
        what = f"is dynamic{_range_in(fixed, entry)} and equals {_linear(other, change)}"
        if _torch_rejects_relation(change, original):
            severity, code = Severity.ERROR, "DS202"
            what = f"equals {_linear(other, change)}"
    elif isinstance(change, SetRange):
        hi = "inf" if change.max is None else change.max
        what = f"is dynamic in [{max(change.min, lowest_size(entry))}, {hi}]"
        if entry.dim.kind is DimKind.DYNAMIC and _narrower_than_written(entry, change):
            severity, code = Severity.ERROR, "DS301"
    elif isinstance(change, MakeAuto):
        what = {"linear": "is a linear function of other dimensions that a Dim cannot express, inferred by torch",
                "non-linear": "is a non-linear function of other dimensions, inferred by torch"}.get(
            relation, "is determined by other dimensions in a way a Dim cannot express, inferred by torch")
    else:
        what = "is dynamic"
    if d.code in INDEX_CODES and isinstance(change, (Specialize, Relate, SetRange)):
        return _unchecked(d, entry, spec, original, fixed, change, why)
    message = f"{entry.path} ({hint}) {what}{why}{silent}"
    if code == "DS202" and isinstance(change, Relate):
        message += f"; torch.export raises unless the spec writes it as `{_linear(change.root, change)}`"
    others = [p for p in d.paths if p != entry.spec_path]
    if code == "DS404" and others:
        message += f" (tied to {', '.join(others)})"
    help_lines: tuple[str, ...] = ()
    if other is not None and isinstance(change, Specialize):
        help_lines = (f"pinning {entry.path} to {change.value} is one safe choice, not what the model requires",)
    if code == "DS404":
        static = "None (static)" if entry.path.is_scalar else f"Dim.STATIC (or write {change.value})"
        help_lines = (f"mark {entry.path} {static}, or use Dim.AUTO to let export decide",)
    fixes: tuple[Fix, ...] = ()
    if severity is Severity.ERROR and isinstance(change, Specialize):
        fixes = (Fix(message, (Specialize(entry.target, change.value),)),)
    elif severity is Severity.ERROR and isinstance(change, SetRange):
        fixes = (Fix(message, (SetRange(entry.target, change.min, change.max),)),)
    elif severity is Severity.ERROR and isinstance(change, Relate):
        fixes = (Fix(message, (Relate(entry.target, change.root, change.coeff, change.offset),)),)
    facts = {k: v for k, v in d.facts.items() if k != "spec" and (severity is Severity.ERROR or k != "counterexample")}
    facts["spec"] = spec_summary(original)
    # an error names every entry it ties together; an explanation concerns its own dim only
    paths = (entry.spec_path,) + (tuple(others) if severity is Severity.ERROR else ())
    return replace(d, code=code, severity=severity, message=message, help=help_lines, fixes=fixes, facts=facts,
                   paths=paths)


def _unchecked(d: Diagnostic, entry: SpecEntry, spec: Spec, original: Spec, fixed: Spec | None,
               change: Specialize | Relate | SetRange, why: str) -> Diagnostic:
    """A hint narrowed by dimsolve's own index check (DS7xx), not by a torch guard: torch keeps the
    size as dynamic as the hint says, so the exported program accepts sizes it then fails on. For
    DYNAMIC that is the finding's error (or warning); for AUTO, which never violates, a warning."""
    fixes: tuple[SpecChange, ...]
    if isinstance(change, Specialize):
        what, fixes = f"must be {change.value}", (Specialize(entry.target, change.value),)
    elif isinstance(change, SetRange):
        lo = max(change.min, lowest_size(entry))
        what = f"must stay in [{lo}, {'inf' if change.max is None else change.max}]"
        fixes = (SetRange(entry.target, change.min, change.max, entry.dim.kind.name),)
    else:
        other = spec.users_of(change.root)[0]
        root = fixed.roots.get(change.root) if fixed is not None else None
        # the check itself (``x0 <= y0``), not the equality the weakest Dim-writable fix makes of it
        what = f"must satisfy `{d.facts['guard']}`" if "guard" in d.facts else f"must equal {_linear(str(other.path), change)}"
        fixes = (NewRoot(change.root, root.min if root else lowest_size(other), root.max if root else None),
                 Relate(other.target, change.root), Relate(entry.target, change.root, change.coeff, change.offset))
    assumed = d.facts.get("index", {}).get("assumed") or []
    if_values = " and ".join(f"`{a['input']}` holds values in [{a['min']}, {a['max']}]" for a in assumed)
    message = (f"{'if ' + if_values + ', as in the example, ' if if_values else ''}{entry.path} "
               f"({entry.dim.expr_text()}) {what}{why}; torch does not check this, so the exported program "
               "accepts other sizes and fails on them")
    severity = d.severity if entry.dim.kind is DimKind.DYNAMIC else Severity.WARNING
    facts = {k: v for k, v in d.facts.items() if k != "spec"}
    facts["spec"] = spec_summary(original)
    paths = (entry.spec_path,) + tuple(p for p in d.paths if p != entry.spec_path)
    first = ({Specialize: "make the size static, as the fix does",
              SetRange: f"give the {entry.dim.expr_text()} the range the fix writes"}.get(type(change))
             or "give the sizes the named Dim the fix writes")
    help_lines = (first,) + d.help[1:]
    return replace(d, severity=severity, message=message, fixes=(Fix(message, fixes),), facts=facts, paths=paths,
                   help=help_lines)


def _range_in(fixed: Spec | None, entry: SpecEntry) -> str:
    """`` in [6, 512]``: the size range a derived dim gets from its root in the pinned spec."""
    e = fixed.entry(entry.path) if fixed is not None else None
    root = fixed.roots.get(e.dim.root or "") if fixed is not None and e is not None else None
    if e is None or root is None or not e.dim.is_named:
        return ""
    lo = max(e.dim.coeff * root.min + e.dim.offset, 2)
    hi = "inf" if root.max is None else e.dim.coeff * root.max + e.dim.offset
    return f" in [{lo}, {hi}]"


def _torch_rejects_relation(change: Relate, original: Spec) -> bool:
    """torch 2.13 raises "must always be related" when a hinted size is ``a*d + b``, larger than
    ``d`` at the example (``d + 1``, ``2*d``), for a Dim ``d`` some input uses directly: it keeps
    ``d`` and cannot make the hinted size derived from it. (A hinted size smaller than ``d``, such
    as ``d - 1``, is fine: torch makes ``d``'s input derived from the hinted size instead.)"""
    root_value = original.root_example(change.root)
    if not original.used_directly(change.root) or root_value is None:
        return False
    return change.coeff * root_value + change.offset > root_value


def _linear(other: str, change: Relate) -> str:
    from dimsolve.dims.model import linear_text

    return linear_text(other, change.coeff, change.offset)


def _describe_root(spec: Spec, root: str) -> str:
    users = spec.users_of(root)
    return str(users[0].path) if users else root


def _narrower_than_written(entry: SpecEntry, change: SetRange) -> bool:
    lo_written, hi_written = entry.dim.min, entry.dim.max
    too_high = lo_written is not None and change.min > lo_written
    too_low = hi_written is not None and (change.max is None or change.max < hi_written)
    return too_high or (too_low and change.max is not None)


def _unconstrained(entry: SpecEntry) -> Diagnostic:
    d = entry.dim
    written = d.min is not None or d.max is not None
    low = lowest_size(entry)
    rng = f" in [{max(d.min or low, low)}, {'inf' if d.max is None else d.max}]" if written else ""
    return Diagnostic(code="DS405", severity=Severity.INFO,
                      message=f"{entry.path} ({d.expr_text()}) is dynamic{rng}: no guard constrains it",
                      paths=(entry.spec_path,), facts={"unconstrained": True})


def resolve_hints(guardset: GuardSet, spec: Spec, timeout_ms: int) -> Resolution:
    """Explain every AUTO/DYNAMIC dimension and give the equivalent named spec."""
    named, hinted = name_hints(spec)
    if not hinted:
        return Resolution(None, ())
    problem = build_problem(guardset, named)
    verdict = check(problem, timeout_ms)
    if verdict.status is not Status.VIOLATED:
        return Resolution(_readable(named), tuple(_unconstrained(e) for e in hinted.values()))
    plan = synthesize(problem, verdict, timeout_ms)
    if plan is None:
        return Resolution(None, ())
    explained: dict[str, Diagnostic] = {}
    for d in violation_diagnostics(problem, verdict, plan):
        change = d.fixes[0].changes[-1] if d.fixes and d.fixes[0].changes else None
        target = getattr(change, "target", None)
        if target in hinted:
            relation = relation_kind([v.guard.expr for v in verdict.violations
                                      if _symbol_of(guardset, hinted[target]) in v.guard.symbols])
            other = accepted_other_value(problem, target, change.value) if isinstance(change, Specialize) else None
            explained[target] = _explain(d, hinted[target], named, spec, plan.fixed_spec, relation, other)
    diagnostics = [explained.get(name) or _unconstrained(entry) for name, entry in hinted.items()]
    return Resolution(_readable(plan.fixed_spec) if plan.verified else None, tuple(diagnostics))


def _symbol_of(guardset: GuardSet, entry: SpecEntry) -> str:
    info = guardset.symbol_for(entry.path)
    return info.name if info is not None else ""


def relation_kind(exprs: list[sympy.Basic]) -> str:
    """``"linear"`` when every relation is affine in the sizes (``x1 + y1 == 32``: a Dim cannot say
    ``y1 = 32 - x1``, derived Dims increase), ``"non-linear"`` when one multiplies sizes, else ``""``
    (floor division, modulo: neither word fits).

    >>> s, t = sympy.symbols("s t", integer=True)
    >>> relation_kind([sympy.Eq(s + t, 32)]), relation_kind([sympy.Eq(s * t, 32)])
    ('linear', 'non-linear')
    """
    equalities = [e for e in exprs if isinstance(e, sympy.Equality)]  # the relations; the rest bound ranges
    if not equalities:
        return ""
    kinds = set()
    for e in equalities:
        diff = e.lhs - e.rhs
        syms = sorted(diff.free_symbols, key=str)
        if diff.atoms(sympy.Function) or not syms or not diff.is_polynomial(*syms):
            kinds.add("")
        else:
            kinds.add("linear" if sympy.Poly(diff, *syms).total_degree() <= 1 else "non-linear")
    if "non-linear" in kinds:
        return "non-linear"
    return "linear" if kinds == {"linear"} else ""


def _readable(pinned: Spec) -> Spec:
    """The pinned spec as torch reads it (``torch_rules.repair``): an int input's named root is
    written as the hint torch takes for an int."""
    from dimsolve.dims.torch_rules import repair

    return repair(pinned)[0]


def apply_hint_fixes(spec: Spec, diagnostics: tuple[Diagnostic, ...]) -> Spec | None:
    """The spec with every hint error fixed: specialised where the model pins it, bounds narrowed,
    relations torch insists on written out."""
    by_path: dict[str, DimSpec] = {}
    roots = dict(spec.roots)
    for d in diagnostics:
        if d.code in INDEX_CODES and d.fixes:
            _index_fix(spec, d.fixes[0].changes, by_path, roots)
            continue
        change = d.fixes[0].changes[-1] if d.fixes and d.fixes[0].changes else None
        if d.code in ("DS404", "DS302") and isinstance(change, Specialize):  # DS302: a narrowing pin
            by_path[d.paths[0]] = DimSpec(DimKind.STATIC, value=change.value)
        elif d.code == "DS301" and isinstance(change, SetRange):
            by_path[d.paths[0]] = DimSpec(DimKind.DYNAMIC, min=change.min, max=change.max)
        elif d.code == "DS202" and isinstance(change, Relate):
            by_path[d.paths[0]] = DimSpec(DimKind.DERIVED, root=change.root, coeff=change.coeff, offset=change.offset)
    if not by_path:
        return None
    return replace(spec, entries=tuple(replace(e, dim=by_path.get(e.spec_path, e.dim)) for e in spec.entries),
                   roots=roots)


def _index_fix(spec: Spec, changes: tuple[SpecChange, ...], by_path: dict[str, DimSpec],
               roots: dict[str, RootDim]) -> None:
    """A hint's DS7xx fix (``_unchecked``) into ``by_path``: a static size, the hint with a range,
    or a new named Dim shared by the sizes it relates."""
    by_target = {e.target: e for e in spec.entries if e.dim.kind in _HINTS}
    for change in changes:
        if isinstance(change, NewRoot):
            roots[change.name] = RootDim(change.name, change.min, change.max)
            continue
        entry = by_target.get(getattr(change, "target", ""))
        if entry is None:
            continue
        if isinstance(change, Specialize):
            by_path[entry.spec_path] = DimSpec(DimKind.STATIC, value=change.value)
        elif isinstance(change, SetRange):
            by_path[entry.spec_path] = DimSpec(entry.dim.kind, min=change.min, max=change.max)
        elif isinstance(change, Relate):
            kind = DimKind.ROOT if (change.coeff, change.offset) == (1, 0) else DimKind.DERIVED
            by_path[entry.spec_path] = DimSpec(kind, root=change.root, coeff=change.coeff, offset=change.offset)
