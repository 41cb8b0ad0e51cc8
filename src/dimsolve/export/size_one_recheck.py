"""A size-1 finding made on the spec's trace is checked again on torch's trace of the fix.

The size-1 check (``export.size_one``) runs on the trace of the spec as written, whose guards torch
recorded under that spec's ranges. The fix narrows other ranges, and under them torch's own range
analysis decides some of those guards while tracing, so they are not among the checks its program
makes: MobileViT's ``4*batch != (H'//4)*(W'//4)`` is a recorded guard with height in [32, 256] and
a decided one with height in [57, 64], where the program runs at batch = 1. A size-1 finding whose
min raise the fix's own trace does not need is dropped, and the fix without it is exported.
"""

from __future__ import annotations

from dataclasses import dataclass

from dimsolve.diagnostics.model import Diagnostic, SetRange
from dimsolve.dims.apply import apply_changes
from dimsolve.dims.model import Spec
from dimsolve.export.report import Report
from dimsolve.guards.model import GuardSet


@dataclass(frozen=True)
class Reconsidered:
    """The fix without the size-1 min raises torch's trace of it does not need, and the findings dropped."""

    spec: Spec
    dropped: tuple[Diagnostic, ...]


def _at_size_one(report: Report) -> list[Diagnostic]:
    """Size-1 findings on one of torch's guards (a runtime assert is in the program's graph whatever the ranges)."""
    return [d for d in report.diagnostics if d.facts.get("at_size_one") and d.facts.get("check") == "torch_guard"]


def unneeded_size_one(report: Report, candidate: Spec, traced: GuardSet, timeout_ms: int) -> Reconsidered | None:
    """``candidate`` with the Dims' min back where the user had them, when the size-1 findings that raised
    them do not hold on ``traced`` (torch's trace of ``candidate``); None when every one still holds."""
    from dimsolve.export.pipeline import check_against

    findings = _at_size_one(report)
    if not findings or report.spec is None:
        return None
    original = report.spec.roots
    changes = [SetRange(c.target, original[c.target].min, candidate.roots[c.target].max)
               for d in findings for f in d.fixes for c in f.changes
               if isinstance(c, SetRange) and c.target in original and c.target in candidate.roots
               and candidate.roots[c.target].min > original[c.target].min]
    if not changes:
        return None
    relaxed = apply_changes(candidate, changes)
    if not check_against(traced, relaxed, timeout_ms).ok:
        return None
    return Reconsidered(relaxed, tuple(findings))
