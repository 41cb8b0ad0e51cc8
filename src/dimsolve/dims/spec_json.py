"""A ``Spec`` as versioned JSON, for tools and the service: no torch objects, no Python source.

Schema version 1 (``docs/service.md`` has the worked examples)::

    {
      "schema_version": 1,
      "params": ["x", "y"],                                   # optional: forward's inputs, in order
      "roots": {"dx": {"min": 2, "max": 64}},                 # optional: the named Dims
      "dims": [
        {"input": ["x"], "axis": 0, "kind": "root", "root": "dx", "example": 6},
        {"input": ["x"], "axis": 1, "kind": "static", "value": 4},
        {"input": ["y"], "axis": 0, "kind": "derived", "root": "dx", "coeff": 2, "offset": 1},
        {"input": ["z"], "axis": 0, "kind": "auto", "min": 2, "max": 8}
      ]
    }

- ``input`` is the input's path among forward's arguments: the parameter name, then dict keys
  (strings) and tuple/list indices (integers); ``axis`` is a dimension of that tensor.
- ``kind``: ``static`` (``value``, or the example's size when it is absent or null), ``root``
  (``root``), ``derived`` (``coeff*root + offset``, ``coeff >= 1``), ``auto`` / ``dynamic``
  (``Dim.AUTO`` / ``Dim.DYNAMIC`` with optional ``min``/``max``). Fields that do not belong to
  the kind must be absent or null.
- A root's ``min`` defaults to 0 and ``max`` to null (unbounded), as for ``Dim("dx")``.
- ``example`` is the example input's size. It may be left out when the traced inputs are known
  (``TracedInputs``, which the service reads from the GuardSet); then dims that are not listed
  are static at their example size, and an input none of whose dims is listed is ``None`` in
  the rendered spec.

Reading validates untrusted input: a wrong type, a missing or unknown key, an unknown root or a
dim listed twice raises ``SpecJsonError`` naming the JSON path (``dims[2].root``). Problems of the
spec itself (an empty range, an example outside its range) are not format errors: they are the
DS1xx findings ``dims.check.check_entries`` reports.

The format lives in small modules: ``spec_json_write`` (Spec → JSON), ``spec_json_read`` (JSON →
the dims it lists), ``spec_json_build`` (those dims + the traced inputs → a ``Spec``),
``traced_inputs`` (the traced inputs' shapes) and ``spec_json_fields`` (the typed,
path-reporting access they share). Callers import from this module.
"""

from __future__ import annotations

from dimsolve.dims.spec_json_build import TOP
from dimsolve.dims.spec_json_fields import MAX_SIZE, SCHEMA_VERSION, SpecJsonError
from dimsolve.dims.spec_json_read import MAX_RANK, spec_from_json
from dimsolve.dims.spec_json_write import spec_to_json
from dimsolve.dims.traced_inputs import TracedInputs, traced_inputs_from_meta

__all__ = [
    "MAX_RANK", "MAX_SIZE", "SCHEMA_VERSION", "TOP", "SpecJsonError", "TracedInputs", "spec_from_json", "spec_to_json",
    "traced_inputs_from_meta",
]
