"""Findings for data-dependent guards: where, what the example decided, and verified torch._check lines."""

from __future__ import annotations

import sympy

from dimsolve.diagnostics.model import AddCheck, Applicability, Diagnostic, Fix, Label, Severity
from dimsolve.export.terms import user_expr
from dimsolve.guards.model import GuardSet, TraceFailure
from dimsolve.solver.checks import UnbackedFacts, suggest_checks

REWRITE_HELP = (
    "a data-dependent value is used where torch needs a plain int (a Python range, a shape argument, "
    "a loop count): rewrite that code with tensor operations (e.g. `x.repeat(n)` instead of a loop that "
    "concatenates n copies), or pass the value as an int input so export specialises it"
)


def _unbacked_facts(guardset: GuardSet) -> dict[str, UnbackedFacts]:
    return {s.name: UnbackedFacts(s.example, s.lower, s.upper) for s in guardset.symbols if not s.backed}


def _range_note(guardset: GuardSet, failure: TraceFailure) -> tuple[str, ...]:
    notes = []
    for sym in sorted(failure.expr.free_symbols, key=str) if failure.expr is not None else []:
        info = guardset.symbol(str(sym))
        if info is None or info.backed or not info.label:
            continue
        lo = "-inf" if info.lower is None else info.lower
        hi = "inf" if info.upper is None else info.upper
        where = f" (`{info.origin.code}`, line {info.origin.line})" if info.origin else ""
        notes.append(f"{info.label}{where} is {info.example} in the example; with the checks it ranges over [{lo}, {hi}]")
    return tuple(notes)


def _decided_text(failure: TraceFailure, guard: str) -> str:
    return f"with the example inputs `{guard}` is {failure.value}"


def data_dependent_diagnostic(guardset: GuardSet, failure: TraceFailure) -> Diagnostic:
    guard = user_expr(failure.expr, guardset) if failure.expr is not None else "?"
    labels = (Label(failure.origin, guard),) if failure.origin else ()
    if failure.kind == "data_dependent_int":
        return Diagnostic(
            code="DS601", severity=Severity.ERROR,
            message=f"`{guard}` depends on data and torch needs it as a concrete int: no torch._check can help",
            labels=labels, help=(REWRITE_HELP,), notes=_range_note(guardset, failure),
            facts={"guard": guard, "kind": "specialized int from data-dependent value"},
        )
    suggestion = suggest_checks(failure.expr, failure.value, _unbacked_facts(guardset))
    facts = suggestion.facts if suggestion else (failure.expr if failure.value in (sympy.true, True) else sympy.Not(failure.expr),)
    lines = tuple(f"torch._check({user_expr(f, guardset)})" for f in facts)
    verified = suggestion is not None and suggestion.verified
    applicability = Applicability.VERIFIED if verified else Applicability.UNVERIFIED
    where = f" (line {failure.origin.line})" if failure.origin else ""
    return Diagnostic(
        code="DS601", severity=Severity.ERROR,
        message=f"`{guard}` depends on data, so torch.export cannot decide it while tracing",
        labels=labels,
        notes=(_decided_text(failure, guard),) + _range_note(guardset, failure),
        help=(f"insert before this line{where}: " + "; ".join(lines),),
        fixes=(Fix(f"add {len(lines)} torch._check line(s)", tuple(AddCheck(line, failure.origin) for line in lines),
                   applicability),),
        facts={"guard": guard, "kind": "guard on data-dependent expression", "checks": list(lines)},
    )


def data_dependent_diagnostics(guardset: GuardSet) -> list[Diagnostic]:
    return [data_dependent_diagnostic(guardset, f) for f in guardset.failures if f.kind.startswith("data_dependent")]
