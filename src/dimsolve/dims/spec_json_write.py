"""Writing a ``Spec`` as JSON (schema in ``dims.spec_json``).

Only what reading needs is written: an input the user gave as ``None`` is left out, since the
traced inputs give it back as static at its example sizes.
"""

from __future__ import annotations

from typing import Any

from dimsolve.dims.model import DimKind, InputPath, LayoutNode, NodeKind, Spec, SpecEntry
from dimsolve.dims.spec_json_fields import SCHEMA_VERSION


def spec_to_json(spec: Spec) -> dict[str, Any]:
    """The JSON-ready form of ``spec``.

    >>> spec_to_json(Spec(entries=()))["schema_version"]
    1

    An input the user's spec gives as ``None`` is left out (it is static at its example sizes),
    so ``spec_from_json(spec_to_json(s), inputs)`` rebuilds ``s`` given the traced inputs; without
    them it rebuilds the other entries and the roots. The JSON form does not keep how a tensor's
    dims were written (tuple, list or dict of axis) or list-versus-tuple containers: they come
    back as tuples, which torch reads the same.
    """
    unwritten = _none_inputs(spec.layout) if spec.layout is not None else set()
    return {
        "schema_version": SCHEMA_VERSION,
        "params": list(spec.params or dict.fromkeys(str(e.path.input.keys[0]) for e in spec.entries)),
        "roots": {name: {"min": r.min, "max": r.max} for name, r in spec.roots.items()},
        "dims": [_entry_to_json(e) for e in spec.entries if e.path.input not in unwritten or e.dim.is_dynamic],
    }


def _none_inputs(node: LayoutNode) -> set[InputPath]:
    if node.kind is NodeKind.NONE and node.input is not None:
        return {node.input}
    return {p for child in node.children for p in _none_inputs(child)}


def _entry_to_json(entry: SpecEntry) -> dict[str, Any]:
    d = entry.dim
    out: dict[str, Any] = {"input": list(entry.path.input.keys), "axis": entry.path.axis, "kind": d.kind.value,
                           "example": entry.example}
    if d.kind is DimKind.STATIC:
        out["value"] = d.value
    elif d.is_named:
        out.update(root=d.root, coeff=d.coeff, offset=d.offset)
    else:
        out.update(min=d.min, max=d.max)
    return out
