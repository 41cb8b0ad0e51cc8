"""A static size (often of an input given no spec) that the model ties to a dynamic Dim.

``{"input_ids": (batch, seq), "attention_mask": (batch, seq), "token_type_ids": None}``: the model
adds token_type_ids' embedding to input_ids', so ``token_type_ids.shape == input_ids.shape``, and
the static ``(2, 8)`` of token_type_ids pins batch and seq. torch (and a fix that only reads the
Dims) makes batch and seq static: every dynamic size the user asked for is gone. The weakest fix
gives the forgotten input the same Dims: ``"token_type_ids": (batch, seq)``.

Found by checking the spec again with those sizes left to ``Dim.AUTO`` (what the model ties them to
is then what export infers, ``export.hints``); taken only when it keeps more of the spec's dynamic
sizes than the fix that specialises them; the finding's help names that specialisation as the
alternative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from dimsolve.diagnostics.model import Diagnostic, Fix, Relate, Severity, Specialize
from dimsolve.dims.model import DimKind, DimSpec, InputPath, LayoutNode, NodeKind, Spec, SpecEntry, linear_text
from dimsolve.export.report import Report
from dimsolve.export.terms import spec_summary

_PINNING = ("DS401", "DS402")


def _unwritten_inputs(node: LayoutNode | None) -> set[InputPath]:
    """Inputs whose whole spec is ``None`` (or missing): static only because nothing was written."""
    if node is None:
        return set()
    if node.kind is NodeKind.NONE and node.input is not None:
        return {node.input}
    return {p for child in node.children for p in _unwritten_inputs(child)}


def _loose(spec: Spec, pinned_values: list[int]) -> list[SpecEntry]:
    """Static tensor sizes (unwritten ones, and ints the user wrote: ``(batch, 8)`` beside
    ``(batch, seq)``) that can be what pinned a Dim: equal to, a multiple or a divisor of a pinned
    value (a vision model's height pinned to 32 has nothing to do with its 3 channels: no re-check)."""
    def related(size: int) -> bool:
        return not pinned_values or any(p == size or (size > 1 and p > 1 and (p % size == 0 or size % p == 0))
                                        for p in pinned_values)

    return [e for e in spec.entries if e.dim.kind is DimKind.STATIC and not e.path.is_scalar
            and related(e.dim.value if e.dim.value is not None else e.example)]


def _dynamic_kept(spec: Spec | None, original: Spec) -> int:
    """How many of the user's dynamic sizes stay dynamic in ``spec``."""
    if spec is None:
        return 0
    wanted = {e.path for e in original.entries if e.dim.is_dynamic}
    return sum(1 for e in spec.entries if e.path in wanted and e.dim.is_dynamic)


def free_static_ties(spec: Spec, report: Report, check: Callable[[Spec], Report],
                     verify: Callable[[Spec], bool]) -> Report | None:
    """``report`` improved by giving unwritten inputs the Dims the model ties them to, or None when
    that keeps no more dynamism (or nothing was pinned). ``check``/``verify``: the pipeline's own,
    against the same GuardSet."""
    if not any(d.code in _PINNING for d in report.diagnostics):
        return None
    pins = [(c, d) for d in report.diagnostics if d.code in _PINNING for f in d.fixes for c in f.changes
            if isinstance(c, Specialize)]
    loose = _loose(spec, [c.value for c, _ in pins])
    if not loose:
        return None
    freed_spec = replace(spec, entries=tuple(replace(e, dim=DimSpec(DimKind.AUTO)) if e in loose else e
                                             for e in spec.entries))
    other = check(freed_spec)
    pinned = other.pinned_spec
    if pinned is None:
        return None
    tied = {e.path: (e, pinned.entry(e.path)) for e in loose}
    # tied to one of the user's Dims; a size only free when left to AUTO (a new Dim) pins nothing: static again
    freed = {path: (e, p) for path, (e, p) in tied.items()
             if p is not None and p.dim.is_named and p.dim.root in spec.roots}
    if not freed:
        return None
    base = other.fixed_spec or freed_spec
    entries = tuple(_settled(e, tied, freed) for e in base.entries)
    used = {e.dim.root for e in entries if e.dim.root}
    roots = {**base.roots, **{p.dim.root: pinned.roots[p.dim.root] for _, p in freed.values()
                              if p.dim.root in pinned.roots and p.dim.root not in base.roots}}
    fixed = replace(base, entries=entries, roots={r: v for r, v in roots.items() if r in used or r in spec.roots})
    if _dynamic_kept(fixed, spec) <= _dynamic_kept(report.fixed_spec, spec) or not verify(fixed):
        return None
    found = [_tie_finding(spec, e, p, other, pins) for e, p in freed.values()]
    # the re-check's other findings, in the user's spec's terms
    kept = [replace(d, facts={**d.facts, "spec": spec_summary(spec)}) if "spec" in d.facts else d
            for d in other.diagnostics if not _about(d, tied)]
    return Report(tuple(found + kept), spec, fixed, other.guardset, True, report.pinned_spec)


def _settled(entry: SpecEntry, tied: dict[object, tuple[SpecEntry, SpecEntry | None]],
             freed: dict[object, tuple[SpecEntry, SpecEntry]]) -> SpecEntry:
    """A loose entry as the model ties it to a user's Dim, or static again at its example."""
    if entry.path in freed:
        return replace(entry, dim=freed[entry.path][1].dim)
    if entry.path in tied:
        return replace(entry, dim=tied[entry.path][0].dim)
    return entry


def _about(d: Diagnostic, tied: dict[object, tuple[SpecEntry, SpecEntry | None]]) -> bool:
    """A finding of the re-check about a size that was only left to AUTO to find its tie: of a
    ``Dim.AUTO`` the user never wrote (the fix gives it a Dim, or leaves it static)."""
    paths = {e.spec_path for e, _ in tied.values()}
    return bool(d.paths) and d.paths[0] in paths


def _tie_finding(spec: Spec, entry: SpecEntry, pinned: SpecEntry, other: Report,
                 pins: list[tuple[Specialize, Diagnostic]]) -> Diagnostic:
    """The DS201 for one freed size; its counterexample is the pinning finding's (an admitted input
    whose Dim differs from the static size)."""
    root = pinned.dim.root or ""
    relation = linear_text(root, pinned.dim.coeff, pinned.dim.offset)
    users = [e for e in spec.entries if e.dim.is_named and e.dim.root == root]
    where = f"{users[0].path} (`{root}`)" if users and (users[0].dim.coeff, users[0].dim.offset) == (1, 0) else f"`{root}`"
    info = next((d for d in other.diagnostics if d.paths and d.paths[0] == entry.spec_path), None)
    fixes = (Fix(f"give {entry.path} the Dim the model ties it to",
                 (Relate(entry.target, root, pinned.dim.coeff, pinned.dim.offset),)),)
    pin, pinning = next(((c, d) for c, d in pins if c.target == root), (None, None))
    static = f" (`{root} = {pin.value}`, torch's suggestion)" if pin is not None else ""
    facts: dict[str, object] = {"spec": spec_summary(spec)}
    pinning = pinning or next((d for _, d in pins), None)
    if pinning is not None:
        facts.update({k: v for k, v in pinning.facts.items() if k in ("counterexample", "guard")})
    why = ("its input has no spec, so it is static" if entry.path.input in _unwritten_inputs(spec.layout)
           else "the spec makes it static")
    return Diagnostic(
        code="DS201", severity=Severity.ERROR,
        message=f"{entry.path} must equal {relation if relation != root else where}, but {why} ({entry.example}) "
                f"and pins the Dim",
        paths=(entry.spec_path,) + tuple(e.spec_path for e in users[:1]),
        labels=info.labels if info is not None else (),
        help=(f"give {entry.path.input} a spec that uses `{root}`, as the fix does; making `{root}` static "
              f"instead{static} loses the dynamic size",),
        fixes=fixes,
        facts=facts,
    )
