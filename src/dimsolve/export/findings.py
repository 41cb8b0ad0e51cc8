"""Turn the solver's verdict and fix plan into Diagnostics worded in the user's terms.

The solver says *which* guards fail and *what* change fixes them; this module decides the code and
the words. One diagnostic per change, carrying every violated guard that the change resolves.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy

from dimsolve.diagnostics.model import (
    Applicability,
    Diagnostic,
    Fix,
    Label,
    MakeAuto,
    NewRoot,
    Relate,
    SetRange,
    Severity,
    SpecChange,
    Specialize,
)
from dimsolve.dims.model import DimKind, Spec, SpecEntry, linear_text
from dimsolve.export.auto_relation import defining_relation
from dimsolve.export.finding_owners import assign_guards, range_text, roots_of, shared_note
from dimsolve.export.index_findings import index_finding
from dimsolve.export.terms import display_names, root_paths, root_ref, root_term, root_uses, spec_summary, user_expr
from dimsolve.export.torch_behaviour import TorchModel
from dimsolve.guards.model import GuardRecord, GuardSet
from dimsolve.solver.check import GuardViolation, Verdict
from dimsolve.solver.problem import Problem
from dimsolve.solver.synthesis import FixPlan


_SILENT = ": torch would export, then reject admitted inputs at run time"


def _describe(change: SpecChange, spec: Spec, multi_symbol: bool, nonlinear: bool = False,
              raises: bool = True) -> tuple[str, str]:
    """(code, message) for one change; ``raises``: torch.export raises on these guards (torch_behaviour)."""
    if isinstance(change, Specialize):
        return _describe_specialize(change, spec, nonlinear, raises)
    if isinstance(change, Relate):
        return _describe_relate(change, spec, raises)
    if isinstance(change, SetRange):
        return _describe_range(change, spec, multi_symbol, raises)
    if isinstance(change, MakeAuto):
        where = root_ref(spec, change.target)
        if nonlinear:
            return "DS502", f"{where} is a non-linear function of other dimensions, which a Dim cannot express"
        return "DS203", f"{where} is determined by other dimensions in a way a Dim cannot express"
    return "DS302", "the spec admits inputs the model rejects"


def _describe_specialize(change: Specialize, spec: Spec, nonlinear: bool, raises: bool) -> tuple[str, str]:
    if not raises:  # torch keeps the guard as a run-time check: the dim is not static, the guard narrows it
        if nonlinear:
            return "DS502", (f"{root_ref(spec, change.target)} is tied to other dimensions by a non-linear guard, "
                             f"which a Dim cannot express{_SILENT}")
        return "DS302", f"the model only supports {root_ref(spec, change.target)} = {change.value}{_SILENT}"
    if any(e.dim.kind is DimKind.DERIVED for e in spec.users_of(change.target)):
        return "DS402", f"`{change.target}` must be {change.value}: the model's guards pin it to one value"
    where = root_paths(spec, change.target)
    return "DS401", f"{where} must be static ({change.value}), but the spec makes it dynamic (`{change.target}`)"


def _describe_relate(change: Relate, spec: Spec, raises: bool) -> tuple[str, str]:
    if change.root.startswith("_") and change.root not in spec.roots:
        form = linear_text(change.root, change.coeff, change.offset)
        message = f"{root_ref(spec, change.target)} must be of the form {form}"
        return ("DS501", message) if raises else ("DS302", message + _SILENT)
    other = root_term(spec, change.root) if change.root in spec.roots else change.root
    relation = linear_text(other, change.coeff, change.offset)
    message = f"{root_term(spec, change.target)} must equal {relation}{root_uses(spec, [change.target, change.root])}"
    if not raises:
        return "DS302", message + _SILENT
    return ("DS201" if (change.coeff, change.offset) == (1, 0) else "DS202"), message


def _describe_range(change: SetRange, spec: Spec, multi_symbol: bool, raises: bool) -> tuple[str, str]:
    if multi_symbol:
        message = f"the model only supports part of the range of {root_ref(spec, change.target)}"
    elif root_term(spec, change.target) != change.target:  # the root is an input dim: x.shape[0] (`d`) <= 4
        message = f"the model only supports {root_ref(spec, change.target)} {range_text(change.min, change.max)}"
    else:  # only derived uses: the range is the root's, `d` <= 4 (x.shape[0] is d + 1)
        rng = range_text(change.min, change.max)
        message = f"the model only supports `{change.target}` {rng}{root_uses(spec, [change.target])}"
    return ("DS301", message) if raises else ("DS302", message + _SILENT)


def _is_nonlinear(expr: sympy.Basic) -> bool:
    return any(len(m.free_symbols) > 1 for m in expr.atoms(sympy.Mul)) or any(
        isinstance(p.exp, sympy.Integer) and p.exp > 1 for p in expr.atoms(sympy.Pow))


def _code(v: GuardViolation) -> str:
    return v.guard.origin.code if v.guard.origin else ""


def _guard_text(problem: Problem, v: GuardViolation) -> str:
    return user_expr(v.guard.expr, problem.guardset, _code(v))


def _counterexample(problem: Problem, v: GuardViolation) -> dict[str, int]:
    names = display_names(problem.guardset, set(v.guard.symbols), _code(v))
    return {names[sym]: v.counterexample[sym] for sym in sorted(v.guard.symbols) if sym in v.counterexample}


def _guard_paths(problem: Problem, vs: list[GuardViolation]) -> tuple[str, ...]:
    """Static entries the guards mention: a dim fixed by the spec that the guard ties to."""
    out: list[str] = []
    for v in vs:
        for sym in sorted(v.guard.symbols):
            for e in problem.entries_of.get(sym, []):
                if e.dim.kind is DimKind.STATIC and e.spec_path not in out:
                    out.append(e.spec_path)
    return tuple(out)


def _spec_paths(spec: Spec, roots: set[str], primary: str = "") -> tuple[str, ...]:
    """Spec entries of ``roots``, those of the ``primary`` root (the one the fix changes) first."""
    entries = [e for e in spec.entries if e.dim.root in roots]
    entries.sort(key=lambda e: e.dim.root != primary)
    return tuple(e.spec_path for e in entries)


def _torch_raises(problem: Problem, plan: FixPlan, change: SpecChange, vs: list[GuardViolation],
                  torch: TorchModel) -> bool:
    """torch.export raises on these guards (rather than narrowing silently), now or once the plan's other
    static dims are applied (``x*y % 2 == 0`` becomes ``3*y % 2 == 0`` with ``x = 3``)."""
    if not vs:  # shown for context only: follow what torch does with the spec as a whole
        return bool(torch.raising)
    if any(torch.raises(v.index) for v in vs) or getattr(change, "target", None) in torch.raising_roots:
        return True
    static = {c.target: c.value for c in plan.changes if isinstance(c, Specialize) and c != change}
    if not torch.raising or not static:
        return False
    again = TorchModel(problem, torch.violated, static)
    return any(again.raises(v.index) for v in vs)


def _diagnostic(problem: Problem, change: SpecChange, extra: Sequence[SpecChange], vs: list[GuardViolation],
                verified: bool, raises: bool, more_notes: tuple[str, ...] = ()) -> Diagnostic:
    multi = any(len(v.guard.symbols) > 1 for v in vs)
    nonlinear = any(_is_nonlinear(v.guard.expr) for v in vs)
    code, message = _describe(change, problem.spec, multi, nonlinear, raises)
    if isinstance(change, MakeAuto) and code == "DS203":
        relation = defining_relation(problem, problem.guardset, change.target, vs)
        if relation is not None:
            message = (f"{root_ref(problem.spec, change.target)} must equal {relation}, "
                       f"which a Dim cannot express")
    chosen = _chosen_form(problem, change)
    if chosen:
        message = chosen[0] + (_SILENT if code == "DS302" else "")
    first = vs[0] if vs else None
    guards = [_guard_text(problem, v) for v in vs]
    facts: dict[str, object] = {"spec": spec_summary(problem.spec)}
    if first is not None:
        facts["guard"] = guards[0]
        facts["counterexample"] = _counterexample(problem, first)
    labels = tuple(Label(v.guard.origin, _guard_text(problem, v)) for v in vs if v.guard.origin)
    notes = tuple(f"also required: {g}" for g in dict.fromkeys(guards[1:]) if g != guards[0])
    notes += chosen[1:] + more_notes
    if isinstance(change, MakeAuto) and guards:
        notes += (f"with Dim.AUTO, torch.export infers it from `{guards[0]}` and checks it at run time",)
    roots = {getattr(change, "target", "")} | ({change.root} if isinstance(change, Relate) else set())
    applicability = Applicability.VERIFIED if verified else Applicability.UNVERIFIED
    return index_finding(problem, change, vs, Diagnostic(
        code=code,
        severity=Severity.ERROR,
        message=message,
        paths=_spec_paths(problem.spec, roots, getattr(change, "target", "")) + _guard_paths(problem, vs),
        labels=labels,
        notes=notes,
        fixes=(Fix(message, tuple(extra) + (change,), applicability),),
        facts=facts,
    ))


def _chosen_form(problem: Problem, change: SpecChange) -> tuple[str, ...]:
    """(message, note) when a new-root form is one safe choice, not what the model requires (a
    branch guard ``h % 32 != 0`` rejects some sizes; ``8*_h + 4`` avoids them, so does ``h = 33``);
    () when the form is required or no form is involved."""
    from dimsolve.solver.forms import accepted_off_form

    if not isinstance(change, Relate) or change.root in problem.spec.roots or not change.root.startswith("_"):
        return ()
    other = accepted_off_form(problem, change.target, change.coeff, change.offset)
    if other is None:
        return ()
    ref = root_ref(problem.spec, change.target)
    form = linear_text(change.root, change.coeff, change.offset)
    return (f"the model rejects some sizes of {ref} that the spec admits, and no Dim range leaves out only "
            f"those: of the form {form} it admits accepted sizes only",
            f"the form is a choice, not a requirement: `{change.target}` = {other} also passes every guard")


def violation_diagnostics(problem: Problem, verdict: Verdict, plan: FixPlan | None,
                          raised_roots: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """``raised_roots``: roots torch's own export of the spec objected to (it raised on them), which
    overrule the replayed model of when torch raises."""
    out: list[Diagnostic] = []
    remaining = list(verdict.violations)
    torch = TorchModel(problem, {v.index for v in verdict.violations})
    torch.raising_roots |= raised_roots
    if plan is not None:
        new_roots = {c.name: c for c in plan.changes if isinstance(c, NewRoot)}
        owners = assign_guards(problem, verdict, plan)
        remaining = owners.remaining
        for i, change in enumerate(owners.changes):
            if i in owners.folded:
                continue
            vs = owners.owned[i]
            if not vs and isinstance(change, Specialize):  # a DS401 names the guard that pins it
                vs = _pinning(problem, change)
            extra = [new_roots[change.root]] if isinstance(change, Relate) and change.root in new_roots else []
            shared = [owners.changes[k] for k, j in owners.folded.items() if j == i]
            notes = tuple(shared_note(problem.spec, c, change) for c in shared)  # type: ignore[arg-type]
            raises = _torch_raises(problem, plan, change, vs, torch)
            out.append(_diagnostic(problem, change, extra + shared, vs, plan.verified, raises, notes))
    out += [_unattributed(problem, v, v.index < 0 or torch.raises(v.index)) for v in remaining]
    return sorted(out, key=_source_order)


def _pinning(problem: Problem, change: Specialize) -> list[GuardViolation]:
    """The guard that fails when the specialised root moves one step from its example."""
    from dimsolve.solver.progressions import moved, pinning_guard

    example = problem.example()
    users = {sym: (e.dim.coeff, e.dim.offset) for sym, entries in problem.entries_of.items()
             for e in entries if e.dim.is_named and e.dim.root == change.target and sym in example}
    if not users:
        return []
    sym, (coeff, offset) = next(iter(users.items()))
    found = pinning_guard(problem, moved(example, users, (example[sym] - offset) // coeff))
    if found is None:
        return []
    index = {r: i for i, (r, _) in enumerate(problem.guards)}
    return [GuardViolation(found[0], index.get(found[0], -1), found[1])]


def _source_order(d: Diagnostic) -> tuple[str, int]:
    loc = d.labels[0].location if d.labels else None
    return (loc.file, loc.line) if loc else ("~", 0)


def _raising_code(expr: sympy.Basic) -> str:
    """The code of what torch says when it raises on ``expr`` (a relation, a divisibility, a range)."""
    if any(type(a).__name__ in ("Mod", "PythonMod") for a in expr.atoms(sympy.Function)):
        return "DS501"
    return "DS202" if isinstance(expr, sympy.Equality) else "DS301"


def _unattributed(problem: Problem, v: GuardViolation, raises: bool) -> Diagnostic:
    guard = _guard_text(problem, v)
    return index_finding(problem, None, [v], Diagnostic(
        code=_raising_code(v.guard.expr) if raises else "DS302",
        severity=Severity.ERROR,
        message=f"the spec admits inputs that fail `{guard}`" + ("" if raises else _SILENT),
        paths=_spec_paths(problem.spec, roots_of(problem, v)),
        labels=(Label(v.guard.origin, guard),) if v.guard.origin else (),
        help=("no fix in torch's Dim language was found; narrow the Dims involved or use Dim.AUTO",),
        facts={"guard": guard, "counterexample": _counterexample(problem, v), "spec": spec_summary(problem.spec)},
    ))


_UNSUPPORTED_HELP = "this guard was not checked; please report it so dimsolve can learn the operation"
_UNKNOWN_HELP = "raise the budget with timeout_ms=..., or simplify the spec (fewer dynamic dims)"


def _undecided(record: GuardRecord, guardset: GuardSet, code: str, why: str, help_text: str) -> Diagnostic:
    guard = user_expr(record.expr, guardset, record.origin.code if record.origin else "")
    return Diagnostic(
        code=code, severity=Severity.ERROR, message=why.format(guard=guard),
        labels=(Label(record.origin, guard),) if record.origin else (), help=(help_text,), facts={"guard": guard},
    )


def solver_limit_diagnostics(problem: Problem, verdict: Verdict, guardset: GuardSet) -> list[Diagnostic]:
    """Guards dimsolve could not decide: never reported as valid, always as DS9xx."""
    out = [_undecided(r, guardset, "DS902", "cannot decide `{guard}`: " + reason.replace("{", "{{").replace("}", "}}"),
                      _UNSUPPORTED_HELP) for r, reason in problem.unsupported if r not in verdict.enumerated]
    out += [_undecided(r, guardset, "DS901", "the solver could not decide `{guard}` within its budget",
                       _UNKNOWN_HELP) for r in verdict.undecided]
    return out


def root_shift_diagnostics(spec: Spec) -> list[Diagnostic]:
    """A root that is 0/1 at the example though every size it defines is >= 2 (``x: d + 2``, x = 3)."""
    from dimsolve.export.zero_one import root_shifts

    out = []
    for shift in root_shifts(spec):
        users = spec.users_of(shift.root)
        sizes = ", ".join(f"{e.path} = {e.example} is {e.dim.expr_text()}" for e in users)
        changes = shift.changes(spec)
        out.append(Diagnostic(
            code="DS403", severity=Severity.ERROR,
            message=f"`{shift.root}` is {shift.value} at the example ({sizes}), so torch specialises it and "
                    f"every dim derived from it",
            paths=tuple(e.spec_path for e in users),
            help=(f"spell the same sizes with a root that is at least 2 at the example: {shift.new_root} = "
                  f"{shift.root} + {shift.shift}",),
            fixes=(Fix(f"introduce {shift.new_root}", changes),),
            facts={"spec": spec_summary(spec)},
        ))
    return out


def zero_one_diagnostics(problem: Problem) -> list[Diagnostic]:
    """Dims the spec makes dynamic but torch traced as static because the example size is 0 or 1."""
    from dimsolve.export.zero_one import capped_at_one

    out = []
    for entry in problem.unsymbolic:
        if entry.example not in (0, 1):
            continue
        name = f" (`{entry.dim.expr_text()}`)" if entry.dim.is_named else f" ({entry.dim.expr_text()})"
        if capped_at_one(problem.spec, entry):
            out.append(_capped_diagnostic(problem.spec, entry, name))
            continue
        # AUTO asked torch to decide, and torch decided "static": a surprise worth a warning, not an error
        severity = Severity.WARNING if entry.dim.kind is DimKind.AUTO else Severity.ERROR
        out.append(Diagnostic(
            code="DS403", severity=severity,
            message=f"{entry.path}{name} has example size {entry.example}, so torch specialises it to {entry.example}",
            paths=(entry.spec_path,),
            help=(f"use an example input with {entry.path} >= 2 to keep it dynamic",),
            facts={"spec": spec_summary(problem.spec)},
        ))
    return out


def _capped_diagnostic(spec: Spec, entry: SpecEntry, name: str) -> Diagnostic:
    """A size whose own Dim stops below 2: torch specialises 0 and 1, so it is static whatever the example."""
    root = entry.dim.root if entry.dim.is_named and entry.dim.root in spec.roots else None
    fixes: tuple[Fix, ...] = ()
    if root is not None:
        value = (entry.example - entry.dim.offset) // entry.dim.coeff
        fixes = (Fix(f"make `{root}` static ({value})", (Specialize(root, value),)),)
    return Diagnostic(
        code="DS403", severity=Severity.ERROR,
        message=(f"{entry.path}{name} can only be 0 or 1 under the spec, and torch specialises sizes 0 and 1: "
                 f"it cannot be dynamic"),
        paths=(entry.spec_path,),
        help=(f"make it static ({entry.example}), or raise the Dim's max and use an example >= 2 to keep it dynamic",),
        fixes=fixes,
        facts={"spec": spec_summary(spec)},
    )
