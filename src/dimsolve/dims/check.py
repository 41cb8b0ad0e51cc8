"""Checks of a parsed spec against itself and the example inputs (DS104 - DS108).

Structural problems (keys, ranks, types) are found while walking the spec in ``parse``; what is
left here needs the whole picture: every root's range and every example size.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from dimsolve.diagnostics.model import Applicability, Diagnostic, Fix, SetRange
from dimsolve.dims._common import bounds_call, diag, root_text
from dimsolve.dims.model import DimKind, RootDim, SpecEntry, linear_text

_MAX_SIZE = sys.maxsize - 1  # torch refuses derived dims whose max goes past this


def check_entries(entries: Sequence[SpecEntry], roots: Mapping[str, RootDim]) -> list[Diagnostic]:
    """Every DS104 - DS108 finding of a spec whose structure is already valid."""
    found: list[Diagnostic] = []
    found += _static_mismatches(entries)
    found += _empty_ranges(entries, roots)
    found += _example_values(entries, roots)
    return found


def _range_text(low: int, high: int | None) -> str:
    return f"[{low}, {'inf' if high is None else high}]"


def _static_mismatches(entries: Iterable[SpecEntry]) -> Iterable[Diagnostic]:
    for e in entries:
        if e.dim.kind is DimKind.STATIC and e.dim.value is not None and e.dim.value != e.example:
            yield diag(
                "DS108",
                f"static size {e.dim.value} for {e.path} does not match the example size {e.example}",
                (e.spec_path,),
                f"write {e.example} for {e.spec_path}, or make it dynamic with a Dim",
                {"spec": e.dim.value, "example": e.example},
            )


def _empty_ranges(entries: Sequence[SpecEntry], roots: Mapping[str, RootDim]) -> Iterable[Diagnostic]:
    reported: set[str] = set()
    for e in entries:
        d = e.dim
        if d.kind in (DimKind.AUTO, DimKind.DYNAMIC):
            if d.min is not None and d.max is not None and d.min > d.max:
                yield diag(
                    "DS104",
                    f"the range of {d.expr_text()}(min={d.min}, max={d.max}) is empty: min is greater than max",
                    (e.spec_path,),
                    f"swap the bounds: {d.expr_text()}(min={d.max}, max={d.min})",
                )
            continue
        root = roots.get(d.root or "")
        if root is None:
            continue
        if root.max is not None and root.min > root.max:
            if root.name not in reported:
                reported.add(root.name)
                yield diag(
                    "DS104",
                    f"the range of {root.name} is empty: min {root.min} is greater than max {root.max}",
                    (e.spec_path,),
                    f"give {root.name} a range with min <= max: {root_text(RootDim(root.name, root.max, root.min))}",
                )
            continue
        if d.kind is DimKind.DERIVED:
            yield from _derived_range(e, root)


def _derived_range(e: SpecEntry, root: RootDim) -> Iterable[Diagnostic]:
    d = e.dim
    text = linear_text(root.name, d.coeff, d.offset)
    low = d.coeff * root.min + d.offset
    if low < 0:
        need = -(d.offset // d.coeff)  # ceil(-offset / coeff): the least root value keeping text >= 0
        yield diag(
            "DS104",
            f"the range of {text} starts at {low}: {root.name}'s min {root.min} allows negative sizes",
            (e.spec_path,),
            f"give {root.name} min={need}: {root_text(RootDim(root.name, need, root.max))}",
        )
    if root.max is not None and d.coeff * root.max + d.offset > _MAX_SIZE:
        yield diag(
            "DS104",
            f"the range of {text} ends above the largest size torch allows ({_MAX_SIZE})",
            (e.spec_path,),
            f"give {root.name} a smaller max",
        )


def _example_values(entries: Sequence[SpecEntry], roots: Mapping[str, RootDim]) -> Iterable[Diagnostic]:
    first: dict[str, tuple[int, SpecEntry]] = {}
    for e in entries:
        d = e.dim
        if d.kind in (DimKind.AUTO, DimKind.DYNAMIC):
            yield from _hint_outside(e)
            continue
        root = roots.get(d.root or "")
        if not d.is_named or root is None:
            continue
        if (e.example - d.offset) % d.coeff != 0:
            yield _not_derived(e)
            continue
        value = (e.example - d.offset) // d.coeff
        if root.name in first and first[root.name][0] != value:
            yield _two_values(root.name, first[root.name], (value, e))
        first.setdefault(root.name, (value, e))
        if not root.admits(value):
            yield _outside(e, root, value)


def _not_derived(e: SpecEntry) -> Diagnostic:
    d = e.dim
    text = linear_text(d.root or "?", d.coeff, d.offset)
    below = e.example - (e.example - d.offset) % d.coeff
    return diag(
        "DS106",
        f"size {e.example} of {e.path} is not of the form {text}",
        (e.spec_path,),
        f"use an example size of the form {text} (e.g. {below} or {below + d.coeff}), or change {e.spec_path}",
        {"example": e.example},
    )


def _two_values(name: str, a: tuple[int, SpecEntry], b: tuple[int, SpecEntry]) -> Diagnostic:
    def where(value: int, e: SpecEntry) -> str:
        if e.dim.kind is DimKind.ROOT:
            return f"{value} from {e.path}"
        return f"{value} from {e.path} = {e.example} = {e.dim.expr_text()}"

    return diag(
        "DS107",
        f"the Dim {name} takes two values in the examples: {where(*a)} and {where(*b)}",
        (b[1].spec_path, a[1].spec_path),
        f"make the example sizes agree with the spec, or give {b[1].spec_path} its own Dim",
        {name: [a[0], b[0]]},
    )


def _outside(e: SpecEntry, root: RootDim, value: int) -> Diagnostic:
    d = e.dim
    high = None if root.max is None else d.coeff * root.max + d.offset
    wider = RootDim(root.name, min(root.min, value), None if root.max is None else max(root.max, value))
    return _example_outside(e, (d.coeff * root.min + d.offset, high), d.expr_text(), root_text(wider),
                            SetRange(root.name, wider.min, wider.max), {"root_value": value})


def _hint_outside(e: SpecEntry) -> Iterable[Diagnostic]:
    """``Dim.DYNAMIC(max=4)`` with an example of 8: the same mistake as a named Dim whose range
    excludes the example, so the same finding (torch exports, then rejects the very example it
    traced with, where a named Dim makes it raise)."""
    d = e.dim
    low, high = d.min, d.max
    if (low is not None and e.example < low) or (high is not None and e.example > high):
        wider_low = None if low is None else min(low, e.example)
        wider_high = None if high is None else max(high, e.example)
        written = d.expr_text() + bounds_call(low, high)
        note = "torch would export with that range, then reject the very example it traced with"
        yield _example_outside(e, (low if low is not None else 0, high), written,
                               d.expr_text() + bounds_call(wider_low, wider_high),
                               SetRange(e.target, wider_low if wider_low is not None else 0, wider_high), {}, note)


def _example_outside(e: SpecEntry, span: tuple[int, int | None], written: str, wider: str, change: SetRange,
                     facts: dict[str, object], note: str = "") -> Diagnostic:
    """DS105 for any kind of dim: the path, the example value, the range, and the widened range as the fix."""
    what = "value" if e.path.is_scalar else "size"
    found = diag(
        "DS105",
        f"{what} {e.example} of {e.path} is outside the range {_range_text(*span)} of {written}",
        (e.spec_path,),
        f"widen the range: {wider}, or use an example inside it",
        {"example": e.example, **facts},
    )
    # the example or the range may be the mistake, and nothing was traced: the fix is not verified
    fix = Fix(f"widen the range to admit the example: {wider}", (change,), Applicability.UNVERIFIED)
    return replace(found, fixes=(fix,), notes=(note,) if note else ())
