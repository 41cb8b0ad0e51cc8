"""The registry of stable diagnostic codes. Each has a page in ``docs/codes/<ID>.md``.

Codes never change meaning once released; new findings get new numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from dimsolve.diagnostics.model import Severity


@dataclass(frozen=True, slots=True)
class Code:
    id: str
    name: str
    severity: Severity
    summary: str


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: dict[str, Code] = {
    c.id: c
    for c in (
        # DS1xx: the spec itself is malformed or contradicts the example inputs
        Code("DS101", "unknown-input", _E, "a dynamic_shapes key or position does not match the model's inputs"),
        Code("DS102", "rank-mismatch", _E, "a per-dimension spec does not have one entry per tensor dimension"),
        Code("DS103", "dim-on-non-tensor", _E, "a Dim is given for an input that is not a tensor"),
        Code("DS104", "empty-range", _E, "a Dim's min is greater than its max"),
        Code("DS105", "example-outside-range", _E, "an example input's size is outside its Dim's range"),
        Code("DS106", "example-not-derived", _E, "an example size is not of its derived dim's form (e.g. 10 for 2*dx + 1)"),
        Code("DS107", "conflicting-dim", _E, "two different Dims share one name, or one Dim takes two values in the examples"),
        Code("DS108", "static-mismatch", _E, "a static size in the spec does not match the example input"),
        Code("DS109", "malformed-spec", _E, "a dynamic_shapes value has a type torch does not accept"),
        Code("DS110", "unsupported-input", _E, "an example input is of a class torch.export cannot take as an input"),
        # DS2xx: relations between dimensions
        Code("DS201", "must-be-equal", _E, "the model requires two dimensions the spec keeps independent to be equal"),
        Code("DS202", "must-be-related", _E, "the model requires a linear relation between dimensions (dy = dx + 1)"),
        Code("DS203", "relation-not-expressible", _E, "the model relates dimensions in a way a Dim cannot express"),
        # DS3xx: ranges
        Code("DS301", "range-too-wide", _E, "the model only supports part of a Dim's range"),
        Code("DS302", "silent-narrowing", _E, "torch would export, then reject at run time inputs the spec admits"),
        # DS4xx: specialisation
        Code("DS401", "must-be-static", _E, "the model requires a dimension the spec makes dynamic to be a constant"),
        Code("DS402", "root-must-be-static", _E, "a derived dim's root must be specialised: the guards pin it to one value"),
        Code("DS403", "zero-one-specialized", _E, "an example size of 0 or 1 makes torch specialise a dynamic dimension"),
        Code("DS404", "dynamic-specialized", _E, "a dimension marked Dim.DYNAMIC must be static: the model pins it"),
        Code("DS405", "auto-resolved", _I, "what a Dim.AUTO/Dim.DYNAMIC dimension resolves to, and why"),
        # DS5xx: divisibility and non-linear guards
        Code("DS501", "must-be-divisible", _E, "the model requires a dimension to be a multiple of a constant"),
        Code("DS502", "non-linear", _E, "the model relates dimensions non-linearly (x.shape[0]*x.shape[1] == z.shape[0])"),
        Code("DS503", "unprovable-guard", _E, "torch.export cannot prove a guard that holds for every admitted size, and raises"),
        # DS6xx: unbacked / data-dependent
        Code("DS601", "data-dependent-guard", _E, "tracing needs the value of a data-dependent expression"),
        Code("DS602", "data-dependent-assert", _I, "a data-dependent condition becomes a runtime assert"),
        # DS7xx: dimsolve's own checks beyond torch's guards (index bounds)
        Code("DS701", "index-out-of-range", _E, "an index built from sizes goes past the table it indexes for sizes the spec admits"),
        Code("DS702", "index-out-of-range-assumed", _W, "as DS701, assuming the example's values of an integer input (a 0/1 mask)"),
        # DS9xx: the tool could not decide
        Code("DS901", "solver-unknown", _E, "the solver could not decide within its budget of work"),
        Code("DS902", "unsupported-expression", _E, "a guard uses an operation dimsolve cannot translate"),
        Code("DS903", "trace-failed", _E, "tracing the model with torch failed for a reason other than the spec"),
        Code("DS904", "inconsistent-guards", _E, "a guard no input satisfies, or one over a symbol the GuardSet does not declare"),
    )
}


def code(code_id: str) -> Code:
    """Look up a code; unknown ids are a programming error, not user input."""
    return CODES[code_id]


def doc_path(code_id: str) -> str:
    return f"docs/codes/{code_id}.md"
