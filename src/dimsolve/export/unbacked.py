"""Findings for data-dependent guards: where, what the example decided, and verified torch._check lines."""

from __future__ import annotations

from dataclasses import replace

import sympy

from dimsolve.diagnostics.model import AddCheck, Applicability, Diagnostic, Fix, Label, Severity
from dimsolve.export.source_words import condition_at, is_variable
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


def _nameable(guardset: GuardSet, expr: sympy.Basic) -> bool:
    """Every value in ``expr`` has a name a ``torch._check`` line can use: an input size, or a
    variable of the user's code (``n_img``, ``idx.shape[0]``), not a value torch computes unnamed."""
    for sym in expr.free_symbols:
        info = guardset.symbol(str(sym))
        if info is None or (info.backed and not info.paths) or (not info.backed and not is_variable(info.label)):
            return False
    return True


_DISTRIBUTIONS_HELP = ("torch.distributions validates its arguments with their values: create the distribution "
                       "with validate_args=False, and check the values outside the exported model if you need to")


def _unnamed_diagnostic(guardset: GuardSet, failure: TraceFailure) -> Diagnostic:
    """A data-dependent condition on a value no variable of the user's code holds: no check line can
    name it, so the finding says which expression on which line needs deciding, and no code."""
    loc = failure.origin
    line = f"line {loc.line}" if loc is not None else "its line"
    condition = condition_at(loc)
    if condition is not None:
        subject = f"`{condition}` ({line})"
        remedy = (f"compute the value it tests into a variable before {line} (.item() for a tensor's value), "
                  "add torch._check(...) on that variable and test the variable; or compute both branches "
                  "with torch.where")
    elif loc is not None and loc.op:
        subject = f"a condition inside {loc.op} (called at {line})"
        remedy = _DISTRIBUTIONS_HELP if "/distributions/" in loc.op else "change the arguments of that call"
    else:
        subject = f"a value computed from tensor data at {line}" + (f" (`{loc.code}`)" if loc and loc.code else "")
        remedy = f"assign it to a variable before {line} (with .item() for a number) and add torch._check(...) on it"
    if failure.kind == "data_dependent_int":
        message = f"{subject} depends on data and torch needs it as a concrete int: no torch._check can help"
        help_text = REWRITE_HELP
    else:
        message = f"{subject} depends on data, so torch.export cannot decide it while tracing"
        help_text = f"it is held in no variable of your code, so no torch._check line can name it: {remedy}"
    return Diagnostic(
        code="DS601", severity=Severity.ERROR, message=message,
        labels=(Label(loc, "depends on data"),) if loc is not None else (),
        notes=_range_note(guardset, failure), help=(help_text,),
        facts={"guard": subject, "kind": "guard on data-dependent expression"},
    )


def data_dependent_diagnostic(guardset: GuardSet, failure: TraceFailure) -> Diagnostic:
    if failure.expr is not None and not _nameable(guardset, failure.expr):
        return _unnamed_diagnostic(guardset, failure)
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
    """One finding per data-dependent condition; conditions that read the same at the same line (a
    library checking each of its arguments) are one finding that says how many there are."""
    found: dict[tuple[object, ...], list[Diagnostic]] = {}
    for f in guardset.failures:
        if f.kind.startswith("data_dependent"):
            d = data_dependent_diagnostic(guardset, f)
            found.setdefault((d.message, d.labels, d.help, d.notes), []).append(d)
    out = []
    for same in found.values():
        d = same[0]
        if len(same) > 1:
            d = replace(d, notes=d.notes + (f"torch meets {len(same)} such conditions at this line",))
        out.append(d)
    return out
