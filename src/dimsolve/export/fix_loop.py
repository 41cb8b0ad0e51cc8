"""Every candidate fix is exported with torch before it is called verified.

z3 proves a candidate against the guards dimsolve has seen; torch.export of the candidate can show
more: a static size sends the model down another code path with guards of its own, and torch
refuses guards on a named Dim it cannot prove. Each round exports the candidate with the guard
capture on (with the grown example when the user's has sizes 0/1). When torch exports it and z3
proves every guard and runtime assert of that program, the fix is verified. Otherwise torch's new
guards join the GuardSet and synthesis runs again; when synthesis has nothing new (every guard
holds, torch cannot prove one), the Dims torch objected to go to Dim.AUTO. At most
``MAX_FIX_ROUNDS`` exports, each recorded in ``Report.rounds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dimsolve.diagnostics.model import AddCheck, Diagnostic, MakeAuto
from dimsolve.dims.apply import apply_changes
from dimsolve.dims.model import Spec
from dimsolve.export.report import FixRound, Report
from dimsolve.guards.attempt import Attempt, attempt_export
from dimsolve.guards.model import GuardSet

MAX_FIX_ROUNDS = 4


@dataclass
class _State:
    """What the rounds so far have learnt."""

    candidate: Spec
    guardset: GuardSet
    rounds: list[FixRound] = field(default_factory=list)
    found: list[Diagnostic] = field(default_factory=list)  # findings torch's traces of candidates added
    autos: list[MakeAuto] = field(default_factory=list)
    why_auto: list[str] = field(default_factory=list)
    known: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)  # (code, paths) already reported


def _parse(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any) -> tuple[Spec | None, str]:
    from dimsolve.dims.parse import parse_spec

    parsed = parse_spec(model, args, kwargs, dynamic_shapes)
    if parsed.spec is None:
        return None, "; ".join(d.message for d in parsed.diagnostics if d.is_error) or "the spec does not parse"
    return parsed.spec, ""


def _objection(attempt: Attempt, spec: Spec, timeout_ms: int) -> str:
    """Why torch's export of ``spec`` does not verify it, in the user's words; "" when it does."""
    from dimsolve.export.index_findings import INDEX_CODES
    from dimsolve.export.pipeline import check_against

    if attempt.exported:
        own = check_against(attempt.guardset, spec, timeout_ms)
        errors = [d.message for d in own.diagnostics if d.is_error or d.code in INDEX_CODES]
        return "" if not errors else "the exported program rejects sizes the fix admits: " + errors[0]
    if attempt.failure is not None:
        return attempt.failure.message
    return "torch.export did not export it"


def _next_candidate(state: _State, attempt: Attempt, base: Spec, timeout_ms: int) -> Spec | None:
    """Synthesis again with torch's new guards; the Dims torch objected to go to Dim.AUTO when that
    finds nothing new."""
    from dimsolve.export.pipeline import check_against
    from dimsolve.export.unproven import relax
    from dimsolve.guards.merge import merge_guards

    merged = merge_guards(state.guardset, attempt.guardset)
    if merged is not state.guardset:
        state.guardset = merged
        again = check_against(merged, base, timeout_ms)
        proposal = apply_changes(again.fixed_spec, state.autos) if again.fixed_spec is not None else None
        if proposal is not None and proposal != state.candidate:
            note = f"torch.export's trace of the candidate fix (round {len(state.rounds)}) shows this guard too"
            for d in again.diagnostics:
                if d.is_error and (d.code, d.paths) not in state.known:
                    state.known.add((d.code, d.paths))
                    state.found.append(replace(d, notes=d.notes + (note,)))
            return proposal
    relaxed = relax(state.candidate, attempt)
    if relaxed is None:
        return None
    state.autos += [c for c in relaxed.changes if c not in state.autos]
    state.why_auto += relaxed.why
    return relaxed.spec


def confirm_fix(report: Report, model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any,
                strict: bool, timeout_ms: int, options: Mapping[str, Any] | None = None) -> Report:
    """``report`` with its fix exported by torch: verified (maybe after further rounds) or not.

    ``options``: the user's further ``torch.export.export`` arguments, used for every round too.
    """
    from dimsolve.export.extremes import fails_at_extremes

    if report.spec is None or report.fixed_spec is None or report.guardset is None:
        return replace(report, torch_confirmed=True)
    if any(f.kind.startswith("data_dependent") for f in report.guardset.failures):
        # torch cannot export the model before the torch._check lines are in its source: the spec fix
        # stays proven against the guards, not exported
        return report
    example = report.fixed_example
    ex_args, ex_kwargs = (example.args, example.kwargs) if example is not None else (args, kwargs)
    base = _parse(model, ex_args, ex_kwargs, dynamic_shapes)[0] or report.spec
    state = _State(report.fixed_spec, report.guardset, known={(d.code, d.paths) for d in report.diagnostics})
    for _ in range(MAX_FIX_ROUNDS):
        attempt, problem = _export_candidate(state.candidate, model, ex_args, ex_kwargs, strict, timeout_ms, options)
        if attempt is not None and not problem:  # a DS7xx fix: the program must also run at the fix's extreme sizes
            problem = fails_at_extremes(report, attempt.program, state.candidate, model, ex_args, ex_kwargs)
        state.rounds.append(FixRound(state.candidate, not problem, problem))
        if not problem:
            return _verified(_without_unneeded_size_one(report, state, attempt, model, ex_args, ex_kwargs, strict,
                                                        timeout_ms, options), state)
        following = _next_candidate(state, attempt, base, timeout_ms) if attempt is not None else None
        if following is None:
            break
        state.candidate = following
    return _unverified(report, state)


def _export_candidate(candidate: Spec, model: Any, args: tuple, kwargs: Mapping[str, Any] | None, strict: bool,
                      timeout_ms: int, options: Mapping[str, Any] | None) -> tuple[Attempt | None, str]:
    """torch's export of ``candidate`` (None when the spec does not parse), and why it does not
    verify the candidate ("" when it does)."""
    from dimsolve.dims.render import to_torch

    spec, problem = _parse(model, args, kwargs, to_torch(candidate))
    if spec is None:
        return None, problem
    attempt = attempt_export(model, args, kwargs, to_torch(candidate), strict, options=options)
    return attempt, _objection(attempt, spec, timeout_ms)


def _without_unneeded_size_one(report: Report, state: _State, attempt: Attempt, model: Any, args: tuple,
                               kwargs: Mapping[str, Any] | None, strict: bool, timeout_ms: int,
                               options: Mapping[str, Any] | None) -> Report:
    """``report`` without the size-1 findings torch's trace of the fix does not bear out, when the fix
    without their min raise exports too (one more round); ``state.candidate`` follows."""
    from dimsolve.export.size_one_recheck import unneeded_size_one

    found = unneeded_size_one(report, state.candidate, attempt.guardset, timeout_ms)
    if found is None or len(state.rounds) >= MAX_FIX_ROUNDS:
        return report
    problem = _export_candidate(found.spec, model, args, kwargs, strict, timeout_ms, options)[1]
    state.rounds.append(FixRound(found.spec, not problem, problem))
    if problem:
        return report
    state.candidate = found.spec
    return replace(report, diagnostics=tuple(d for d in report.diagnostics if d not in found.dropped))


def _verified(report: Report, state: _State) -> Report:
    diagnostics = list(report.diagnostics) + state.found
    if state.autos:
        diagnostics = _with_auto_changes(diagnostics, tuple(state.autos), tuple(state.why_auto))
    return replace(report, diagnostics=tuple(diagnostics), fixed_spec=state.candidate, fix_verified=True,
                   torch_confirmed=True, rounds=tuple(state.rounds))


def _unverified(report: Report, state: _State) -> Report:
    last = state.rounds[-1].why if state.rounds else ""
    note = "torch.export rejects this fix: " + last
    diagnostics = tuple(replace(d, notes=d.notes + (note,)) if _has_spec_fix(d) else d for d in report.diagnostics)
    return replace(report, diagnostics=diagnostics + tuple(state.found), fix_verified=False, torch_confirmed=True,
                   rounds=tuple(state.rounds))


def _has_spec_fix(d: Diagnostic) -> bool:
    return any(not isinstance(c, AddCheck) for f in d.fixes for c in f.changes)


def _with_auto_changes(diagnostics: list[Diagnostic], added: tuple[MakeAuto, ...],
                       why: tuple[str, ...]) -> list[Diagnostic]:
    """The extra Dim.AUTO changes on the findings they belong to, with torch's reason."""
    verb = " becomes" if len(added) == 1 else " become"
    note = "; ".join(why) + "; so " + ", ".join(f"`{c.target}`" for c in added) + verb + " Dim.AUTO"
    targets = {a.target for a in added}
    owners = [i for i, d in enumerate(diagnostics)
              if any(getattr(c, "target", None) in targets for f in d.fixes for c in f.changes)]
    if not owners:
        owners = [i for i, d in enumerate(diagnostics) if d.fixes][:1]
    for i in owners:
        d = diagnostics[i]
        fixes = tuple(replace(f, changes=f.changes + tuple(a for a in added if a not in f.changes)) for f in d.fixes)
        diagnostics[i] = replace(d, fixes=fixes, notes=d.notes + (note,))
    return diagnostics
