"""torch's rules on a fix (``dims.torch_rules``), applied where dimsolve's fixes are made.

The fixed spec is repaired before torch ever sees it (``3*dx - 2`` needs ``dx = Dim("dx", min=1)``),
and each root range the repair changes joins the finding whose fix brought that root in, so that
applying every finding's fix gives the repaired spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from dimsolve.diagnostics.model import Diagnostic, Fix, NewRoot, Relate, SetRange, SpecChange
from dimsolve.dims.model import DimKind, Spec
from dimsolve.dims.torch_rules import least_root, repair


def _mentions(change: SpecChange, root: str) -> int:
    """How directly ``change`` brings ``root`` in (0: not at all)."""
    if isinstance(change, Relate) and change.root == root:
        return 3
    if isinstance(change, NewRoot) and change.name == root:
        return 2
    return 1 if getattr(change, "target", None) == root else 0


def _owner(diagnostics: Sequence[Diagnostic], root: str) -> int | None:
    scores = [max((_mentions(c, root) for f in d.fixes[:1] for c in f.changes), default=0) for d in diagnostics]
    if scores and max(scores) > 0:
        return scores.index(max(scores))
    return next((i for i, d in enumerate(diagnostics) if d.is_error and d.fixes), None)


def _ranged(changes: tuple[SpecChange, ...], rng: SetRange) -> tuple[SpecChange, ...]:
    """``changes`` giving ``rng.target`` the range ``rng``: a NewRoot or SetRange of it is rewritten,
    otherwise the range comes last (after the relation that uses the root)."""
    out: list[SpecChange] = []
    done = False
    for c in changes:
        if isinstance(c, NewRoot) and c.name == rng.target:
            c, done = NewRoot(c.name, rng.min, rng.max), True
        elif isinstance(c, SetRange) and c.target == rng.target:
            c, done = rng, True
        out.append(c)
    return tuple(out) if done else tuple(out) + (rng,)


def _why(fixed: Spec, rng: SetRange) -> str:
    derived = [e for e in fixed.users_of(rng.target) if e.dim.kind is DimKind.DERIVED and least_root(e) == rng.min]
    if derived:
        return (f"torch needs `{rng.target}` >= {rng.min} so that {derived[0].dim.expr_text()} ({derived[0].path}) "
                f"is never negative: it checks a derived Dim's least value")
    return f"torch needs `{rng.target}` in [{rng.min}, {'inf' if rng.max is None else rng.max}] for its derived Dims"


def with_torch_rules(diagnostics: Sequence[Diagnostic], fixed: Spec) -> tuple[list[Diagnostic], Spec]:
    """The findings and fixed spec with ``torch_rules.repair`` applied to the fix."""
    repaired, ranges = repair(fixed)
    out = list(diagnostics)
    for rng in ranges:
        i = _owner(out, rng.target)
        if i is None:
            continue
        d = out[i]
        first = d.fixes[0]
        fixes = (Fix(first.title, _ranged(first.changes, rng), first.applicability),) + d.fixes[1:]
        out[i] = replace(d, fixes=fixes, notes=d.notes + (_why(fixed, rng),))
    return out, repaired
