"""Example sizes 0 and 1 make torch specialise a dimension the spec wants dynamic.

dimsolve says so, then looks at what the model needs with a size-2+ example: it copies the example
inputs with those dimensions grown (keeping every relation of the spec: growing ``dx`` also grows
``dx + 1`` elsewhere), traces again, and checks the spec against the new guards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dimsolve.dims.model import DimKind, DimPath, InputPath, Spec, SpecEntry
from dimsolve.guards.model import GuardSet


@dataclass(frozen=True)
class Bump:
    sizes: dict[DimPath, int]  # new size of every dimension that changes
    args: tuple
    kwargs: dict[str, Any]


def specialised_dims(spec: Spec, guardset: GuardSet) -> list[DimPath]:
    """Dimensions the spec makes dynamic that torch traced as 0/1 constants, and that a grown example
    could keep dynamic (not those whose Dim stops below 2: see ``capped_at_one``)."""
    special = {s.path for s in guardset.specializations}
    return [e.path for e in spec.entries if e.dim.is_dynamic and e.path in special and not capped_at_one(spec, e)]


def capped_at_one(spec: Spec, entry: SpecEntry) -> bool:
    """A size the spec's own Dim keeps at 0 or 1 (``Dim("batch", max=1)``): torch specialises every
    such size, so it can never be dynamic, and no grown example is admitted."""
    if entry.dim.is_named and entry.dim.root in spec.roots:
        root = spec.roots[entry.dim.root]
        return root.max is not None and entry.dim.coeff * root.max + entry.dim.offset < 2
    return entry.dim.max is not None and entry.dim.max < 2


def _new_sizes(spec: Spec, dims: list[DimPath], shift_all_hints: bool) -> dict[DimPath, int] | None:
    sizes: dict[DimPath, int] = {}
    roots: dict[str, int] = {}
    hint_delta = 0
    for path in dims:
        entry = spec.entry(path)
        if entry is None:
            continue
        d = entry.dim
        if d.is_named and d.root:
            users = spec.users_of(d.root)
            current = spec.root_example(d.root)
            needed = max([current] + [-((u.dim.offset - 2) // u.dim.coeff) for u in users])
            root = spec.roots.get(d.root)
            if root is not None and root.max is not None and needed > root.max:
                return None
            roots[d.root] = max(roots.get(d.root, needed), needed)
        elif shift_all_hints:
            hint_delta = max(hint_delta, max(2, d.min or 2) - entry.example)
        else:
            sizes[path] = max(2, d.min or 2)
    if hint_delta:
        # shift every hinted dim by the same amount: keeps the additive relations (y = x + 1) that
        # the model may have between them, which growing one dim alone would break
        for e in spec.entries:
            if e.dim.kind in (DimKind.AUTO, DimKind.DYNAMIC):
                sizes[e.path] = e.example + hint_delta
    for root, value in roots.items():
        for u in spec.users_of(root):
            sizes[u.path] = u.dim.coeff * value + u.dim.offset
    return {p: n for p, n in sizes.items() if spec.entry(p) is None or spec.entry(p).example != n}  # type: ignore[union-attr]


def _resize(t: Any, axis: int, n: int) -> Any:
    import torch

    old = t.shape[axis]
    if old == 0:
        shape = list(t.shape)
        shape[axis] = n
        return torch.zeros(shape, dtype=t.dtype)
    index = torch.arange(n) % old  # repeat the example's own values: data-dependent code sees real data
    return t.index_select(axis, index)


def _rebuild(value: Any, ipath: InputPath, depth: int, sizes: dict[DimPath, int]) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        for dim, n in sizes.items():
            if dim.input == ipath:
                value = _resize(value, dim.axis, n)
        return value
    if isinstance(value, (list, tuple)):
        items = [_rebuild(v, InputPath(ipath.keys + (i,)), depth + 1, sizes) for i, v in enumerate(value)]
        return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
    if isinstance(value, dict):
        return {k: _rebuild(v, InputPath(ipath.keys + (k,)), depth + 1, sizes) for k, v in value.items()}
    return value


def bump_inputs(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, spec: Spec, dims: list[DimPath],
                shift_all_hints: bool = False) -> Bump | None:
    """Copies of the example inputs with every 0/1 dynamic dimension grown to 2 or more.

    Named roots grow with every dim that uses them. Hinted dims either grow alone, or all shift
    together (``shift_all_hints``), which keeps additive relations such as ``y = x + 1`` that the
    model may have between them but breaks sizes the model pins; the caller tries both.
    """
    sizes = _new_sizes(spec, dims, shift_all_hints)
    return resized_inputs(model, args, kwargs, sizes) if sizes else None


def solved_sizes(spec: Spec, oblivious: GuardSet, timeout_ms: int) -> dict[DimPath, int] | None:
    """The sizes nearest the example that the guards of a size-oblivious trace admit, every
    dynamic size >= 2: grows the dims the model ties to a 0/1 dim (``z = x*y``) along with it."""
    from dimsolve.solver.nearest import nearest_admitted
    from dimsolve.solver.problem import build_problem

    point = nearest_admitted(build_problem(oblivious, spec), timeout_ms)
    if point is None:
        return None
    sizes = {p: point[s.name] for s in oblivious.symbols if s.backed and s.name in point for p in s.paths
             if point[s.name] != s.example}
    return sizes or None


def resized_inputs(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, sizes: dict[DimPath, int]) -> Bump:
    """Copies of the example inputs with the given sizes (values repeated from the example)."""
    import inspect

    fn = model.forward if hasattr(model, "forward") else model
    bound = inspect.signature(fn).bind(*args, **(kwargs or {}))
    new_args = tuple(
        _rebuild(v, InputPath((name,)), 0, sizes) for name, v in list(bound.arguments.items())[: len(args)]
    )
    new_kwargs = {k: _rebuild(v, InputPath((k,)), 0, sizes) for k, v in (kwargs or {}).items()}
    return Bump(sizes, new_args, new_kwargs)



@dataclass(frozen=True)
class RootShift:
    """A named root used only in derived dims whose example value is 0 or 1 (``x: d + 2`` with
    x = 3): torch specialises the root, and every dim derived from it, though no size is 0/1."""

    root: str
    value: int  # the root's value at the example
    new_root: str
    shift: int  # new_root = root + shift, so new_root is >= 2 at the example

    def changes(self, spec: Spec) -> tuple[Any, ...]:
        """The same sizes, spelled with a root that is >= 2 at the example: ``d + 2`` becomes ``_d``."""
        from dimsolve.diagnostics.model import NewRoot, Relate

        old = spec.roots[self.root]
        top = None if old.max is None else old.max + self.shift
        return (NewRoot(self.new_root, old.min + self.shift, top), Relate(self.root, self.new_root, 1, -self.shift))


def root_shifts(spec: Spec) -> list[RootShift]:
    out = []
    for name in spec.roots:
        users = [e for e in spec.users_of(name) if e.dim.is_named]
        if not users or spec.used_directly(name):
            continue  # a root some input uses directly is that input's size: 0/1 there is the usual case
        value = spec.root_example(name)
        if value in (0, 1):
            new = "_" + name
            while new in spec.roots:
                new = "_" + new
            # prefer making one ``d + k`` size the new root itself: torch keeps roots >= 2, so
            # ``_d + 1`` would lose the size 2 that ``d + 2`` (d >= 0) admits, ``_d`` keeps it
            unit = [e.dim.offset for e in users if e.dim.coeff == 1]
            out.append(RootShift(name, value, new, min(unit) if unit else 2 - value))
    return out
