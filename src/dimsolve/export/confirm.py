"""Ask torch.export itself where dimsolve's all-dynamic trace cannot speak for it.

dimsolve's trace keeps every dimension dynamic, so one GuardSet serves every spec. A spec with
static sizes can send torch down other code paths (a flatten that is a view only for some sizes)
whose guards the dynamic trace never saw, and torch raises on any guard it cannot prove for a
named Dim, true or not. So:

- ``confirm_with_torch``: an "ok" verdict on a spec with static sizes the trace kept free is
  exported once; when torch raises, dimsolve traces again with those dims static and reports the
  real violations that trace shows, or (every guard holds, torch cannot prove one) a DS503 with a
  fix torch.export is seen to accept. Static sizes the guards pin (Linear's in-features) are not
  confirmed: usually the traces agree, and confirming them would double the cost of most checks;
  a pin that comes late in the model can still differ, which ``confirm_fix`` catches in fixes.
- ``confirm_fix``: every verified fix is exported once before it is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import sympy

from dimsolve.diagnostics.model import Diagnostic, Fix, MakeAuto, Severity
from dimsolve.dims.apply import apply_changes
from dimsolve.dims.model import DimKind, DimPath, Spec
from dimsolve.export.report import Report
from dimsolve.guards.model import GuardSet


def pinned_symbols(guardset: GuardSet) -> set[str]:
    """Symbols the guards fix to a constant (``Eq(s1, 4)``, or ``Eq(s0, s1)`` with s1 fixed)."""
    pairs: list[tuple[str, str]] = []
    pinned: set[str] = set()
    for g in guardset.guards:
        e = g.expr
        if not isinstance(e, sympy.Eq) or not all(isinstance(a, (sympy.Symbol, sympy.Integer)) for a in e.args):
            continue
        names = [str(a) for a in e.args if isinstance(a, sympy.Symbol)]
        if len(names) == 1:
            pinned.add(names[0])
        elif len(names) == 2:
            pairs.append((names[0], names[1]))
    changed = True
    while changed:
        changed = False
        for a, b in pairs:
            if (a in pinned) != (b in pinned):
                pinned |= {a, b}
                changed = True
    return pinned


def live_static_dims(spec: Spec, guardset: GuardSet) -> list[DimPath]:
    """Dims the spec makes static that the all-dynamic trace kept as free symbols: with them static,
    torch may emit guards that trace did not show (dims the guards pin are left out, see above)."""
    pinned = pinned_symbols(guardset)
    traced = {p for s in guardset.symbols if s.backed and s.name not in pinned for p in s.paths}
    return [e.path for e in spec.entries if e.dim.kind is DimKind.STATIC and e.path in traced]


def confirm(report: Report, model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any,
            strict: bool, timeout_ms: int, trace: Callable[..., GuardSet]) -> Report:
    """Both confirmations, in order: the verdict (``confirm_with_torch``), then the fix (``confirm_fix``)."""
    report = confirm_with_torch(report, model, args, kwargs, dynamic_shapes, strict, timeout_ms, trace)
    return confirm_fix(report, model, args, kwargs, strict)


def confirm_with_torch(report: Report, model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any,
                       strict: bool, timeout_ms: int, trace: Callable[..., GuardSet]) -> Report:
    """``report`` unless torch.export raises on a spec it calls ok; then what torch's objection is."""
    from dimsolve.export.pipeline import check_against
    from dimsolve.guards.confirm import torch_verdict

    if not report.ok or report.spec is None or report.guardset is None:
        return report
    static = live_static_dims(report.spec, report.guardset)
    if not static:
        return report
    verdict = torch_verdict(model, args, kwargs, dynamic_shapes, strict)
    if not verdict.constraint_violation:
        return report
    traced = trace(model, args, kwargs, strict=strict, static=static)
    if not traced.failures:
        again = check_against(traced, report.spec, timeout_ms)
        if not again.ok:
            note = "found with " + ", ".join(map(str, static)) + " traced static, as the spec has them"
            diagnostics = tuple(replace(d, notes=d.notes + (note,)) if d.is_error else d for d in again.diagnostics)
            return replace(again, diagnostics=diagnostics, pinned_spec=report.pinned_spec)
    return _unproven(report, verdict, model, args, kwargs, strict)


def _unproven(report: Report, verdict: Any, model: Any, args: tuple, kwargs: Mapping[str, Any] | None,
              strict: bool) -> Report:
    """DS503 for each guard torch could not prove; the fix leaves those dims to Dim.AUTO."""
    from dimsolve.guards.confirm import user_terms

    assert report.spec is not None
    spec = report.spec
    relaxed = _relax(spec, verdict, model, args, kwargs, strict)
    changes = relaxed.added if relaxed.fixed is not None else ()
    diagnostics = [_diagnostic(spec, u.dim, u.guard, changes) for u in verdict.unproven]
    if not diagnostics:  # torch raised without naming a guard: say so rather than call the spec ok
        diagnostics = [_diagnostic(spec, "", user_terms(_first_detail(verdict.message)), ())]
    return replace(report, diagnostics=report.diagnostics + tuple(diagnostics),
                   fixed_spec=relaxed.fixed, fix_verified=relaxed.fixed is not None)


def _diagnostic(spec: Spec, root: str, guard: str, changes: tuple[MakeAuto, ...]) -> Diagnostic:
    users = [e for e in spec.entries if root and e.dim.is_named and e.dim.root == root]
    where = ", ".join(str(e.path) for e in users) or "the spec"
    bounds = spec.roots.get(root)
    keep = (f"Dim.DYNAMIC(min={bounds.min}" + (f", max={bounds.max})" if bounds.max is not None else ")")
            if bounds is not None else "Dim.DYNAMIC")
    help_lines = ((f"torch checks guards on a named Dim strictly and gives up on this one; "
                   f"use Dim.AUTO or {keep} for {where}: torch then keeps the guard and exports",) if root else
                  ("run torch.export with TORCH_LOGS=+dynamic to see the guard behind it",))
    return Diagnostic(
        code="DS503", severity=Severity.ERROR,
        message=f"torch.export cannot prove `{guard}` for {where} (`{root}`) and raises, "
                "although it holds for every size the spec admits" if root else
                f"torch.export raises a constraint violation dimsolve's guards do not explain: {guard}",
        paths=tuple(e.spec_path for e in users), help=help_lines,
        fixes=(Fix(f"leave {where} to Dim.AUTO", changes),) if changes else (),
        facts={"guard": guard},
    )


MAX_FIX_ROUNDS = 3  # exports after the first; each round sends the Dims torch named to Dim.AUTO


@dataclass(frozen=True)
class _Relaxed:
    fixed: Spec | None  # the spec torch accepted; None when it still objects
    added: tuple[MakeAuto, ...]  # the Dims left to Dim.AUTO on the way
    why: tuple[str, ...]  # torch's objection behind each round, in the user's words
    verdict: Any  # torch's last answer


def _relax(spec: Spec, verdict: Any, model: Any, args: tuple, kwargs: Mapping[str, Any] | None,
           strict: bool) -> _Relaxed:
    """After torch rejected ``spec`` (``verdict``): send the Dims it names to Dim.AUTO and
    export again, until torch accepts or names nothing more.

    Two objections have this fix: a guard it cannot prove on a named Dim, and a size it ties to a
    named Dim by a relation a Dim cannot write ("must always be related": ``x1 = 15 - 2*d0``).
    """
    from dimsolve.dims.render import to_torch
    from dimsolve.guards.confirm import torch_verdict

    added: list[MakeAuto] = []
    why: list[str] = []
    for _ in range(MAX_FIX_ROUNDS):
        unproven = {u.dim: u.guard for u in verdict.unproven if u.dim in spec.roots}
        related = [r for r in verdict.related if r in spec.roots and r not in unproven]
        if not unproven and not related:
            break
        changes = [MakeAuto(r) for r in [*unproven, *related]]
        why += [f"torch.export cannot prove `{g}` for `{r}`" for r, g in unproven.items()]
        why += [f"torch.export ties a size to `{r}` by a relation a Dim cannot write" for r in related]
        added += changes
        spec = apply_changes(spec, changes)
        verdict = torch_verdict(model, args, kwargs, to_torch(spec), strict)
        if verdict.exported:
            return _Relaxed(spec, tuple(added), tuple(why), verdict)
    return _Relaxed(None, tuple(added), tuple(why), verdict)


def confirm_fix(report: Report, model: Any, args: tuple, kwargs: Mapping[str, Any] | None, strict: bool) -> Report:
    """A verified fix is exported once with torch before it is shown.

    The solver proves the fix against the guards of the all-dynamic trace; torch exports the fixed
    spec with its own static sizes and rules. Objections ``_relax`` has a fix for (a guard torch
    cannot prove once a dim is static, a relation it cannot write) send those Dims to Dim.AUTO;
    anything else leaves the fix unverified.
    """
    from dimsolve.dims.render import to_torch
    from dimsolve.guards.confirm import torch_verdict, user_terms

    if report.spec is None or report.fixed_spec is None or not report.fix_verified:
        return report
    verdict = torch_verdict(model, args, kwargs, to_torch(report.fixed_spec), strict)
    if verdict.exported:
        return report
    relaxed = _relax(report.fixed_spec, verdict, model, args, kwargs, strict)
    if relaxed.fixed is not None:
        return _with_auto_changes(report, relaxed.fixed, relaxed.added, relaxed.why)
    note = "torch.export rejects this fix: " + user_terms(_first_detail(relaxed.verdict.message))
    diagnostics = tuple(replace(d, notes=d.notes + (note,)) if d.fixes else d for d in report.diagnostics)
    return replace(report, diagnostics=diagnostics, fix_verified=False)


def _first_detail(message: str) -> str:
    lines = [ln.strip().lstrip("- ") for ln in message.strip().splitlines()]
    return next((ln for ln in lines[1:] if ln and not ln.startswith("Suggested")), lines[0] if lines else "")


def _with_auto_changes(report: Report, fixed: Spec, added: tuple[MakeAuto, ...], why: tuple[str, ...]) -> Report:
    """The fix torch accepted, with the extra Dim.AUTO changes on the findings they belong to."""
    verb = " becomes" if len(added) == 1 else " become"
    note = "; ".join(why) + "; so " + ", ".join(f"`{c.target}`" for c in added) + verb + " Dim.AUTO"
    owners = [i for i, d in enumerate(report.diagnostics) if any(
        getattr(c, "target", None) in {a.target for a in added} or isinstance(c, MakeAuto)
        for f in d.fixes for c in f.changes)]
    if not owners:
        owners = [i for i, d in enumerate(report.diagnostics) if d.fixes][:1]
    diagnostics = list(report.diagnostics)
    for i in owners:
        d = diagnostics[i]
        diagnostics[i] = replace(d, fixes=tuple(replace(f, changes=f.changes + added) for f in d.fixes),
                                 notes=d.notes + (note,))
    return replace(report, diagnostics=tuple(diagnostics), fixed_spec=fixed)
