"""Apply structured ``SpecChange``s (the fixes dimsolve proposes) to a ``Spec``.

A change's ``target`` is a root Dim's name (``dy``) or, for a dimension without a name, its path
(``x.shape[0]``; for an int input its spec path, ``dynamic_shapes["n"]``: ``SpecEntry.target``). Changes apply in order; roots no dimension uses any more are dropped at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from dimsolve.diagnostics.model import AddCheck, MakeAuto, NewRoot, Relate, SetRange, SpecChange, Specialize
from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec, SpecEntry


def apply_changes(spec: Spec, changes: Sequence[SpecChange]) -> Spec:
    """The spec with every change applied, in order.

    >>> fixed = apply_changes(spec, [Relate("dy", "dx"), SetRange("dx", 2, 64)])
    >>> fixed.roots
    {'dx': RootDim(name='dx', min=2, max=64)}
    """
    entries = list(spec.entries)
    roots = dict(spec.roots)
    for change in changes:
        _apply(change, entries, roots)
    used = {e.dim.root for e in entries if e.dim.is_named}
    kept = {name: root for name, root in roots.items() if name in used}
    return replace(spec, entries=tuple(entries), roots=kept)


def unknown_target_error(target: str, spec_roots: dict[str, RootDim]) -> ValueError:
    names = ", ".join(spec_roots) or "none"
    return ValueError(f"{target!r} is neither a root Dim of the spec (roots: {names}) nor a dimension path")


def _apply(change: SpecChange, entries: list[SpecEntry], roots: dict[str, RootDim]) -> None:
    if isinstance(change, SetRange):
        _set_range(change, entries, roots)
    elif isinstance(change, Specialize):
        _rewrite(change.target, entries, roots, lambda d: _static(d, change.value))
        roots.pop(change.target, None)
    elif isinstance(change, Relate):
        if change.root not in roots:
            raise unknown_target_error(change.root, roots)
        compose = change.target in roots
        _rewrite(change.target, entries, roots, lambda d: _relate(d, change, compose))
        if change.target != change.root:
            roots.pop(change.target, None)
    elif isinstance(change, NewRoot):
        roots[change.name] = RootDim(change.name, change.min, change.max)
    elif isinstance(change, MakeAuto):
        _rewrite(change.target, entries, roots, lambda d: DimSpec(DimKind.AUTO))
    elif isinstance(change, AddCheck):
        return  # a change to the model's source, not to the spec


def _set_range(change: SetRange, entries: list[SpecEntry], roots: dict[str, RootDim]) -> None:
    if change.target in roots:
        roots[change.target] = RootDim(change.target, change.min, change.max)
        return
    # a path to a Dim.AUTO / Dim.DYNAMIC dimension: bound the hint
    _rewrite(change.target, entries, roots, lambda d: replace(d, min=change.min, max=change.max))


def _rewrite(
    target: str, entries: list[SpecEntry], roots: dict[str, RootDim], fn: Callable[[DimSpec], DimSpec]
) -> None:
    """Replace the dim of every entry the target names: all users of a root, or one path."""
    if target in roots:
        chosen = [i for i, e in enumerate(entries) if e.dim.is_named and e.dim.root == target]
    else:
        chosen = [i for i, e in enumerate(entries) if target in (str(e.path), e.target)]
        if not chosen:
            raise unknown_target_error(target, roots)
    for i in chosen:
        entries[i] = replace(entries[i], dim=fn(entries[i].dim))


def _static(dim: DimSpec, value: int) -> DimSpec:
    """A named dim ``a*root + b`` with the root fixed to ``value``; any other dim fixed to ``value``."""
    if dim.is_named:
        return DimSpec(DimKind.STATIC, value=dim.coeff * value + dim.offset)
    return DimSpec(DimKind.STATIC, value=value)


def _relate(dim: DimSpec, change: Relate, compose: bool) -> DimSpec:
    """``a*target + b`` with ``target = c*root + d`` becomes ``(a*c)*root + (a*d + b)``.

    When the target is a path rather than a root, the dimension itself becomes ``c*root + d``.
    """
    a, b = (dim.coeff, dim.offset) if compose else (1, 0)
    coeff, offset = a * change.coeff, a * change.offset + b
    kind = DimKind.ROOT if (coeff, offset) == (1, 0) else DimKind.DERIVED
    return DimSpec(kind, root=change.root, coeff=coeff, offset=offset)
