"""Requests in the wire form for the service tests: hand-made GuardSets and specs, no torch needed."""

from __future__ import annotations

import json

# what dimsolve.trace_guards records for the tutorial model: `x + y`, `if w.shape[0] <= 512`, `Linear(4, 4)`
SHAPES = {"x": [6, 4], "y": [6, 4]}
TUTORIAL_GUARDS = ("Eq(s0, s2)", "s2 <= 512", "Eq(s1, 4)", "Eq(s3, 4)")


def wire_guardset(guards=TUTORIAL_GUARDS, *, meta: bool = True) -> dict:
    symbols = []
    for i, (name, axis) in enumerate((("x", 0), ("x", 1), ("y", 0), ("y", 1))):
        symbols.append({"name": f"s{i}", "paths": [{"input": [name], "axis": axis}], "example": SHAPES[name][axis],
                        "backed": True})
    out = {
        "schema_version": 1, "torch_version": "2.13.0", "strict": False, "symbols": symbols,
        "guards": [{"expr": g, "kind": "guard", "origin": {"file": "model.py", "line": 10 + i, "function": "forward"}}
                   for i, g in enumerate(guards)],
        "specializations": [], "failures": [],
        "assumptions": {f"s{i}": {"integer": True, "positive": True} for i in range(4)},
    }
    if meta:
        leaves = [{"path": [k], "shape": v} for k, v in SHAPES.items()]
        out["meta"] = {"inputs": json.dumps({"params": ["x", "y"], "leaves": leaves})}
    return out


def tutorial_spec() -> dict:
    """``{"x": (dx, d1), "y": (dy, d1)}`` in the JSON form."""
    dims = [{"input": [name], "axis": axis, "kind": "root", "root": root}
            for name, axis, root in (("x", 0, "dx"), ("x", 1, "d1"), ("y", 0, "dy"), ("y", 1, "d1"))]
    return {"schema_version": 1, "roots": {"dx": {}, "dy": {}, "d1": {}}, "dims": dims}


def check_body(guards=TUTORIAL_GUARDS, **extra) -> dict:
    return {"schema_version": 1, "guardset": wire_guardset(guards), "spec": tutorial_spec(), **extra}
