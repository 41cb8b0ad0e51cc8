"""A DS7xx fix is confirmed by running torch's exported program at the fix's extreme sizes.

Exporting proves the spec raises no constraint violation; an index past its table is only seen
when the program runs. For every root a DS7xx fix narrows, the program runs with the example
inputs resized to the root's new max (and to its new min, when that is another size), the other
roots at their example values. The resized inputs repeat the example's own values, so a bound
assumed from those values (DS702) holds on them as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dimsolve.diagnostics.model import SetRange
from dimsolve.dims.model import DimPath, Spec
from dimsolve.export.index_findings import INDEX_CODES
from dimsolve.export.report import Report


def extreme_sizes(report: Report, fixed: Spec) -> list[dict[DimPath, int]]:
    """The sizes to run at: each narrowed root at its new max, then at its new min (>= 2)."""
    roots = sorted({c.target for d in report.diagnostics if d.code in INDEX_CODES
                    for f in d.fixes for c in f.changes if isinstance(c, SetRange)})
    out: list[dict[DimPath, int]] = []
    for pick in ("max", "min"):
        values = {}
        for name in roots:
            root = fixed.roots.get(name)
            if root is None:
                continue
            value = root.max if pick == "max" else max(root.min, 2)
            if value is not None and value != fixed.root_example(name):
                values[name] = value
        sizes = {e.path: e.dim.coeff * values[e.dim.root] + e.dim.offset
                 for e in fixed.entries if e.dim.root in values}
        if sizes and sizes not in out:
            out.append(sizes)
    return out


def fails_at_extremes(report: Report, program: Any, fixed: Spec, model: Any, args: tuple,
                      kwargs: Mapping[str, Any] | None) -> str:
    """Why ``program`` (torch's export of ``fixed``) does not confirm a DS7xx fix; "" when it runs."""
    from dimsolve.export.zero_one import resized_inputs
    from dimsolve.guards.program_run import run_failure

    for sizes in extreme_sizes(report, fixed):
        bump = resized_inputs(model, args, kwargs, sizes)
        failure = run_failure(program, bump.args, bump.kwargs)
        if failure:
            where = ", ".join(f"{p} = {n}" for p, n in sorted(sizes.items()))
            return f"the exported program fails at {where}: {failure}"
    return ""
