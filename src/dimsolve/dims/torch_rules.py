"""torch 2.13's rules on a spec it is handed, as ``Dim`` construction and ``_process_dynamic_shapes`` check them.

Every fix dimsolve proposes is handed to torch (``export.fix_loop``): one torch refuses to read is
no fix. ``breaches`` names what torch would refuse, each rule after the check it mirrors
(``torch/export/dynamic_shapes.py``):

- ``root-range``: ``Dim(name, min=, max=)`` needs ``0 <= min < max`` ("Cannot create Dim with
  inconsistent min=..., max=...") -- a one-value range is written as that size (``render``);
- ``derived-min`` / ``derived-max``: ``_DerivedDim.min`` and ``.max`` need ``A*root.min + B >= 0``
  ("Expected derived min value of 3*dx - 2 to be >= 0") and ``A*root.max + B <= sys.maxsize - 1``;
- ``hint-range``: ``Dim.DYNAMIC(min=, max=)`` / ``Dim.AUTO(...)`` need bounds ``>= 0`` and ``min <= max``;
- ``named-int``: ``_check_dynamic_shapes`` takes no named Dim for an int input ("Unable to specify
  input integers as dynamic through named Dims");
- ``phantom-root``: ``_process_dynamic_shapes`` solves ``A*root + B == size`` for a root no input uses
  directly ("Expected shape[0] = 10 of input Tensor to be of the form 3*dx - 2, where dx is an
  integer"): every example size of its dims must be of the form, all with one root value;
- ``example-range``: each traced size inside its dim's range ("8 not in range [2, 4]").

``repair`` rewrites what can be rewritten without changing the sizes a fix admits: a root's min
raised until every size derived from it is >= 0 (sizes are >= 2 anyway), a root's max lowered so
derived sizes stay below torch's limit, a hint's negative min dropped, an int input's named Dim
written as the hint torch takes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from dimsolve.diagnostics.model import SetRange
from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec, SpecEntry, linear_text

MAX_SIZE = sys.maxsize - 1  # the largest derived size torch allows


@dataclass(frozen=True, slots=True)
class Breach:
    """One rule torch would enforce on the spec, broken at ``spec_path``."""

    rule: str
    spec_path: str
    message: str


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def least_root(entry: SpecEntry) -> int:
    """The least root value keeping ``entry``'s derived size ``A*root + B`` >= 0."""
    return _ceil_div(-entry.dim.offset, entry.dim.coeff)


def _root_breaches(spec: Spec) -> list[Breach]:
    out = []
    for root in spec.roots.values():
        users = spec.users_of(root.name)
        where = users[0].spec_path if users else root.name
        if root.min < 0 or (root.max is not None and root.max < root.min):
            out.append(Breach("root-range", where, f"{root.name} has the range [{root.min}, {root.max}]: "
                                                   "torch needs 0 <= min <= max"))
    return out


def _derived_breaches(spec: Spec, e: SpecEntry) -> list[Breach]:
    root = spec.roots.get(e.dim.root or "")
    if root is None or e.dim.kind is not DimKind.DERIVED:
        return []
    text = linear_text(root.name, e.dim.coeff, e.dim.offset)
    out = []
    if e.dim.coeff * root.min + e.dim.offset < 0:
        out.append(Breach("derived-min", e.spec_path, f"{text} is {e.dim.coeff * root.min + e.dim.offset} at "
                                                      f"{root.name}'s min {root.min}: torch needs it >= 0"))
    if root.max is not None and e.dim.coeff * root.max + e.dim.offset > MAX_SIZE:
        out.append(Breach("derived-max", e.spec_path, f"{text} passes {MAX_SIZE} at {root.name}'s max {root.max}"))
    return out


def _hint_breaches(e: SpecEntry) -> list[Breach]:
    d = e.dim
    bad = any(b is not None and b < 0 for b in (d.min, d.max)) or (
        d.min is not None and d.max is not None and d.min > d.max)
    return [Breach("hint-range", e.spec_path, f"{e.path} has {d.expr_text()}(min={d.min}, max={d.max}): "
                                              "torch needs bounds >= 0 and min <= max")] if bad else []


def _example_breaches(spec: Spec, e: SpecEntry) -> list[Breach]:
    d = e.dim
    if d.kind in (DimKind.AUTO, DimKind.DYNAMIC):
        low, high = d.min, d.max
    elif d.is_named and d.root in spec.roots:
        root = spec.roots[d.root]
        low, high = d.coeff * root.min + d.offset, None if root.max is None else d.coeff * root.max + d.offset
    else:
        return []
    if (low is not None and e.example < low) or (high is not None and e.example > high):
        return [Breach("example-range", e.spec_path, f"{e.path} = {e.example} is outside the range [{low}, {high}] "
                                                     f"of {d.expr_text()}")]
    return []


def _phantom_breaches(spec: Spec) -> list[Breach]:
    out = []
    for name in spec.roots:
        if spec.used_directly(name):
            continue
        values = set()
        for e in spec.users_of(name):
            if (e.example - e.dim.offset) % e.dim.coeff:
                out.append(Breach("phantom-root", e.spec_path, f"{e.path} = {e.example} is not of the form "
                                                               f"{e.dim.expr_text()} for an integer {name}"))
            values.add((e.example - e.dim.offset) // e.dim.coeff)
        if len(values) > 1:
            out.append(Breach("phantom-root", spec.users_of(name)[0].spec_path,
                              f"the example sizes give {name} the values {sorted(values)}"))
    return out


def breaches(spec: Spec) -> list[Breach]:
    """Every rule of torch 2.13 the spec breaks (empty: torch reads it and traces with its examples).

    >>> [b.rule for b in breaches(spec)]   # y: 3*dx - 2 with dx = Dim("dx")    # doctest: +SKIP
    ['derived-min']
    """
    out = _root_breaches(spec) + _phantom_breaches(spec)
    for e in spec.entries:
        if e.path.is_scalar and e.dim.is_named:
            out.append(Breach("named-int", e.spec_path, f"{e.path} is an int input: torch takes Dim.AUTO or "
                                                        "Dim.DYNAMIC for it, not a named Dim"))
        out += _derived_breaches(spec, e) + _example_breaches(spec, e)
        if e.dim.kind in (DimKind.AUTO, DimKind.DYNAMIC):
            out += _hint_breaches(e)
    return out


def _repaired_root(spec: Spec, root: RootDim) -> RootDim:
    derived = [e for e in spec.users_of(root.name) if e.dim.kind is DimKind.DERIVED]
    low = max([root.min, 0] + [least_root(e) for e in derived])
    high = root.max
    for e in derived:
        if high is not None and e.dim.coeff * high + e.dim.offset > MAX_SIZE:
            high = (MAX_SIZE - e.dim.offset) // e.dim.coeff
    return RootDim(root.name, low, high)


def _int_as_hint(spec: Spec, e: SpecEntry) -> SpecEntry:
    """An int input's named Dim as the hint torch takes: its range, or Dim.AUTO for a derived one
    (torch infers the relation)."""
    root = spec.roots.get(e.dim.root or "")
    if e.dim.kind is DimKind.ROOT and root is not None:
        return replace(e, dim=DimSpec(DimKind.DYNAMIC, min=root.min or None, max=root.max))
    return replace(e, dim=DimSpec(DimKind.AUTO))


def _hint_clamped(e: SpecEntry) -> SpecEntry:
    """A hint bound below 0 (``Dim.DYNAMIC(min=-1)`` raises in torch) dropped: sizes are >= 0 anyway."""
    d = e.dim
    if d.kind not in (DimKind.AUTO, DimKind.DYNAMIC) or not any(b is not None and b < 0 for b in (d.min, d.max)):
        return e
    low = None if d.min is not None and d.min < 0 else d.min
    return replace(e, dim=replace(d, min=low))


def repair(spec: Spec) -> tuple[Spec, tuple[SetRange, ...]]:
    """``spec`` with what torch would refuse and dimsolve can rewrite rewritten, and the root range
    changes that made (for the fix that introduced the root). Sizes the spec admits stay the same.

    >>> repaired, changes = repair(spec)   # y: 3*dx - 2 with dx = Dim("dx")    # doctest: +SKIP
    >>> changes
    (SetRange(target='dx', min=1, max=None),)
    """
    entries = tuple(_hint_clamped(_int_as_hint(spec, e) if e.path.is_scalar and e.dim.is_named else e)
                    for e in spec.entries)
    used = {e.dim.root for e in entries if e.dim.is_named}
    spec = replace(spec, entries=entries, roots={k: v for k, v in spec.roots.items() if k in used})
    roots = dict(spec.roots)
    changes = []
    for name, root in spec.roots.items():
        fixed = _repaired_root(spec, root)
        if fixed != root:
            roots[name] = fixed
            changes.append(SetRange(name, fixed.min, fixed.max))
    if not changes:
        return spec, ()
    return replace(spec, roots=roots), tuple(changes)
