"""Well-formed but arbitrary checks: whatever the guards and the spec, the worker answers a report or a
refusal, never an internal error (the HTTP fuzz rarely gets past the expression parser; this does)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_wire import wire_guardset

from dimsolve.service.pool import run_check

SYMBOLS = ["s0", "s1", "s2", "s3"]
AXES = (("x", 0), ("x", 1), ("y", 0), ("y", 1))

atom = st.one_of(st.sampled_from(SYMBOLS), st.integers(0, 700).map(str))
term = st.builds(lambda c, a: a if c == 1 else f"{c}*{a}", st.integers(1, 4), atom)
linear = st.lists(term, min_size=1, max_size=3).map(" + ".join)
comparison = st.builds(lambda lhs, op, rhs: f"{op}({lhs}, {rhs})" if op in ("Eq", "Ne") else f"{lhs} {op} {rhs}",
                       linear, st.sampled_from(["Eq", "Ne", "<=", "<", ">=", ">"]), linear)
divisibility = st.builds(lambda s, k: f"Eq(Mod({s}, {k}), 0)", st.sampled_from(SYMBOLS), st.integers(2, 8))
guards = st.lists(st.one_of(comparison, divisibility), min_size=1, max_size=4)

bound = st.none() | st.integers(0, 600)
dim = st.one_of(
    st.just({"kind": "static"}),
    st.builds(lambda r: {"kind": "root", "root": r}, st.sampled_from(["dx", "dy"])),
    st.builds(lambda r, c, o: {"kind": "derived", "root": r, "coeff": c, "offset": o}, st.sampled_from(["dx", "dy"]),
              st.integers(1, 3), st.integers(-3, 3)),
    st.builds(lambda k, lo, hi: {"kind": k, "min": lo, "max": hi}, st.sampled_from(["auto", "dynamic"]), bound, bound),
)
root = st.fixed_dictionaries({"min": st.integers(0, 5), "max": st.none() | st.integers(2, 800)})


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(guards=guards, dims=st.lists(dim, min_size=4, max_size=4), roots=st.fixed_dictionaries({"dx": root, "dy": root}),
       omitted=st.sets(st.integers(0, 3)))
def test_any_well_formed_check_is_answered(guards, dims, roots, omitted):
    listed = [{"input": [name], "axis": axis, **dims[i]} for i, (name, axis) in enumerate(AXES) if i not in omitted]
    spec = {"schema_version": 1, "roots": roots, "dims": listed}
    outcome = run_check(wire_guardset(guards), spec, 300)
    if outcome[0] == "ok":
        report = json.loads(outcome[1])
        assert report["schema_version"] == 1 and report["ok"] == (not any(
            d["severity"] == "error" for d in report["diagnostics"]))
    else:
        assert outcome[0] == "error" and 400 <= outcome[1] < 500, outcome
