"""Torch refuses a spec although every guard holds: say which guard, and leave those Dims to Dim.AUTO.

torch.export checks a guard on a named Dim with its own range reasoning and raises when that
cannot prove it, true or not (wav2vec2's strided convs: ``((s//10) - 1)**2 > 1`` for s in
[400, 16000]). z3 proves such a guard, so dimsolve's findings are empty while torch raises: the
objection is DS503, read from torch's objects (``guards.objections``), and the candidate fix sends
the Dims torch named to Dim.AUTO, which torch accepts with the guard kept as a runtime check. The
fix loop (``export.fix_loop``) exports that candidate before it is called verified.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dimsolve.diagnostics.model import Diagnostic, Fix, Label, MakeAuto, Severity
from dimsolve.dims.apply import apply_changes
from dimsolve.dims.model import Spec
from dimsolve.export.report import Report
from dimsolve.export.terms import user_expr
from dimsolve.guards.attempt import Attempt


@dataclass(frozen=True)
class Relaxed:
    spec: Spec  # the candidate with the named Dims torch objected to left to Dim.AUTO
    changes: tuple[MakeAuto, ...]
    why: tuple[str, ...]  # torch's objection behind each change, in the user's words


def objected_roots(spec: Spec, attempt: Attempt) -> dict[str, str]:
    """Named roots of ``spec`` that torch objected to, each with the guard it named (user terms, or "")."""
    roots: dict[str, str] = {}
    for o in attempt.objections:
        for path in o.dims:
            entry = spec.entry(path)
            if entry is None or not entry.dim.is_named or entry.dim.root not in spec.roots:
                continue
            guard = user_expr(o.guard, attempt.guardset) if o.guard is not None else ""
            if guard or entry.dim.root not in roots:
                roots[entry.dim.root] = guard
    return roots


def relax(spec: Spec, attempt: Attempt) -> Relaxed | None:
    """``spec`` with every named root torch objected to left to Dim.AUTO; None when it named none."""
    roots = objected_roots(spec, attempt)
    if not roots:
        return None
    changes = tuple(MakeAuto(r) for r in roots)
    why = tuple(f"torch.export cannot prove `{g}` for `{r}`" if g else f"torch.export objects to `{r}`"
                for r, g in roots.items())
    return Relaxed(apply_changes(spec, changes), changes, why)


def _diagnostic(spec: Spec, root: str, guard: str, changes: tuple[MakeAuto, ...]) -> Diagnostic:
    users = [e for e in spec.entries if e.dim.is_named and e.dim.root == root]
    where = ", ".join(str(e.path) for e in users)
    bounds = spec.roots[root]
    keep = f"Dim.DYNAMIC(min={bounds.min}" + (f", max={bounds.max})" if bounds.max is not None else ")")
    what = f"`{guard}`" if guard else "a guard"
    return Diagnostic(
        code="DS503", severity=Severity.ERROR,
        message=f"torch.export cannot prove {what} for {where} (`{root}`) and raises, "
                "although it holds for every size the spec admits",
        paths=tuple(e.spec_path for e in users),
        help=(f"torch checks guards on a named Dim strictly and gives up on this one; use Dim.AUTO or {keep} "
              f"for {where}: torch then keeps the guard as a runtime check and exports",),
        fixes=(Fix(f"leave {where} to Dim.AUTO", changes),) if changes else (),
        facts={"guard": guard} if guard else {},
    )


def unproven_report(report: Report, attempt: Attempt) -> Report:
    """DS503 for each Dim torch objected to on a spec whose guards all hold; the fix leaves them to AUTO."""
    assert report.spec is not None  # callers pass a checked report
    spec = report.spec
    roots = objected_roots(spec, attempt)
    relaxed = relax(spec, attempt)
    changes = relaxed.changes if relaxed is not None else ()
    diagnostics = [_diagnostic(spec, r, g, tuple(c for c in changes if c.target == r)) for r, g in roots.items()]
    if not diagnostics:
        return unexplained_failure(report, attempt)
    return replace(report, diagnostics=report.diagnostics + tuple(diagnostics),
                   fixed_spec=relaxed.spec if relaxed is not None else None, fix_verified=relaxed is not None)


def unexplained_failure(report: Report, attempt: Attempt) -> Report:
    """torch.export raised on the spec and nothing dimsolve sees explains it: an error, never "ok"."""
    failure = attempt.failure
    message = failure.message if failure is not None else "torch.export did not export the spec"
    d = Diagnostic(
        code="DS503" if attempt.constraint_violation else "DS903", severity=Severity.ERROR,
        message=("torch.export raises a constraint violation dimsolve's guards do not explain: " if
                 attempt.constraint_violation else "torch.export fails on the spec as written: ") + message,
        labels=(Label(failure.origin, "here"),) if failure is not None and failure.origin else (),
        help=("run torch.export with TORCH_LOGS=+dynamic to see the guard behind it",),
    )
    return replace(report, diagnostics=report.diagnostics + (d,))
