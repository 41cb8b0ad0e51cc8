"""DS904: guards that no input can satisfy, or that name symbols the GuardSet does not declare.

The solver finds them (``solver.defects``, ``solver.bounds``); this module words them. Each is an
error: a spec checked against such a GuardSet is never reported valid.
"""

from __future__ import annotations

from dimsolve.diagnostics.model import Diagnostic, Label, Severity
from dimsolve.export.terms import user_expr
from dimsolve.guards.model import GuardRecord, GuardSet
from dimsolve.solver.defects import Defect, GuardDefect
from dimsolve.solver.problem import Problem

_HELP = ("re-trace the model with dimsolve.trace_guards, or restore the GuardSet as it was written: a traced "
         "GuardSet holds on its own example inputs")


def _text(record: GuardRecord, guardset: GuardSet) -> str:
    return user_expr(record.expr, guardset, record.origin.code if record.origin else "")


def _message(defect: GuardDefect, guardset: GuardSet) -> tuple[str, str, tuple[GuardRecord, ...]]:
    """(message, the guard as quoted, the guards whose lines are labelled)."""
    if defect.defect is Defect.UNDECLARED_SYMBOL:
        guard = str(defect.guard.expr)  # its names have no input to be shown as: quote the GuardSet's own text
        names = ", ".join(f"`{n}`" for n in defect.names)
        return f"the guard `{guard}` names {names}, which the GuardSet does not declare", guard, (defect.guard,)
    guard = _text(defect.guard, guardset)
    if defect.defect is Defect.ALWAYS_FALSE:
        return f"the guard `{guard}` is always false: no input passes the model's guards", guard, (defect.guard,)
    other = defect.other if defect.other is not None else defect.guard
    if other is defect.guard:
        return f"no size satisfies the guard `{guard}`: no input passes the model's guards", guard, (defect.guard,)
    message = (f"no size satisfies both `{guard}` and `{_text(other, guardset)}`: no input passes the model's "
               "guards")
    return message, guard, (defect.guard, other)


def defect_diagnostics(problem: Problem) -> list[Diagnostic]:
    """One DS904 error per defect, in the GuardSet's order."""
    out = []
    for defect in problem.defects:
        message, guard, records = _message(defect, problem.guardset)
        labels = tuple(Label(r.origin, _text(r, problem.guardset) if r is not defect.guard else guard)
                       for r in records if r.origin)
        out.append(Diagnostic(code="DS904", severity=Severity.ERROR, message=message, labels=labels, help=(_HELP,),
                              facts={"guard": guard}))
    return out
