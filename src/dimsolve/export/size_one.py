"""DS302 at size 1: a named Dim admits 1, the exported program's checks reject it.

The solver proves guards for sizes >= 2 (``solver.problem``); torch's exported program keeps the
named Dim's range, so ``Dim("batch", min=1)`` (or the default ``min=0``) sends batch = 1 through
the program's own checks. ``solver.size_one`` finds a size-1 point that fails one; here it becomes
a silent-narrowing finding whose fix raises the Dim's ``min`` to 2, repeated until no named size
of 1 fails (each round narrows one more root, so at most one round per root).
"""

from __future__ import annotations

from dataclasses import dataclass

from dimsolve.diagnostics.model import Diagnostic, Fix, Label, SetRange, Severity
from dimsolve.dims.apply import apply_changes
from dimsolve.dims.model import Spec
from dimsolve.export.index_findings import check_of
from dimsolve.export.terms import display_names, root_ref, spec_summary, user_expr
from dimsolve.guards.model import GuardSet
from dimsolve.solver.check import GuardViolation

_WHY = ("torch traces with sizes >= 2, but the exported program also runs its checks at size 1, which a "
        "named Dim admits unless its min is 2")


@dataclass(frozen=True)
class SizeOne:
    diagnostics: tuple[Diagnostic, ...]
    fixed_spec: Spec


def _min_for_two(spec: Spec, root: str) -> int:
    """The smallest root value at which every size it defines is >= 2."""
    users = spec.users_of(root)
    return max([spec.roots[root].min] + [-((u.dim.offset - 2) // u.dim.coeff) for u in users])


def _diagnostic(spec: Spec, guardset: GuardSet, v: GuardViolation, change: SetRange, value: int) -> Diagnostic:
    # a range check on a data-dependent value reads in the value's own name (``k``), never in the
    # size its check line makes it equal to
    data = any(not info.backed for info in map(guardset.symbol, v.guard.symbols) if info is not None)
    code = v.guard.origin.code if v.guard.origin and not data else ""
    guard = user_expr(v.guard.expr, guardset, code)
    names = display_names(guardset, set(v.guard.symbols), code)
    cex = {str(e.path): e.dim.coeff * value + e.dim.offset for e in spec.users_of(change.target)}
    cex.update({names[s]: v.counterexample[s] for s in sorted(v.guard.symbols) if s in v.counterexample})
    ref = root_ref(spec, change.target)
    message = f"the exported program rejects {ref} = {value}, which the spec admits: `{guard}` fails there"
    return Diagnostic(
        code="DS302", severity=Severity.ERROR, message=message,
        paths=tuple(e.spec_path for e in spec.users_of(change.target)),
        labels=(Label(v.guard.origin, guard),) if v.guard.origin else (),
        notes=(_WHY,),
        help=(f"raise the min of `{change.target}` to {change.min}, or make the model accept size 1",),
        fixes=(Fix(message, (change,)),),
        facts={"guard": guard, "counterexample": cex, "spec": spec_summary(spec), "check": check_of(v.guard),
               "at_size_one": True},
    )


def size_one_findings(guardset: GuardSet, spec: Spec, timeout_ms: int) -> SizeOne | None:
    """Findings for the named sizes of 1 ``spec`` admits that the program's checks reject, and
    ``spec`` with those Dims' min raised; None when there are none."""
    from dimsolve.solver.problem import build_problem
    from dimsolve.solver.size_one import size_one_violations

    out: list[Diagnostic] = []
    fixed = spec
    for _ in range(len(spec.roots)):
        vs = size_one_violations(build_problem(guardset, fixed), timeout_ms)
        if not vs:
            break
        point = vs[0].counterexample
        at_one = [r for r in fixed.roots if any(
            point.get(f"root!{r}") is not None and u.dim.coeff * point[f"root!{r}"] + u.dim.offset == 1
            for u in fixed.users_of(r))]
        if not at_one:
            break
        changes = [SetRange(r, _min_for_two(fixed, r), fixed.roots[r].max) for r in at_one]
        changes = [c for c in changes if c.max is None or c.min <= c.max]  # a Dim of sizes 0/1 only: no fix
        if not changes:
            break
        out += [_diagnostic(fixed, guardset, vs[0], c, point[f"root!{c.target}"]) for c in changes]
        fixed = apply_changes(fixed, changes)
    return SizeOne(tuple(out), fixed) if out else None
