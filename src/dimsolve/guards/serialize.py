"""A ``GuardSet`` as versioned JSON, read back with dimsolve's own expression grammar.

Schema version 1 (every key is required unless marked optional)::

    {
      "schema_version": 1,
      "torch_version": "2.13.0",
      "strict": false,
      "symbols": [
        {"name": "s0", "paths": [{"input": ["x"], "axis": 0}], "example": 8, "backed": true}
      ],
      "assumptions": {"s0": {"integer": true, "positive": true}},        # optional
      "guards": [
        {"expr": "Eq(s0, s1)", "kind": "guard",
         "origin": {"file": "model.py", "line": 12, "function": "forward", "code": "x + y", "op": ""}},
        {"expr": "s1 <= 64", "kind": "index_bound", "origin": {...},
         "index": {"op": "embedding", "table": "wpe.weight", "size": "64", "lower": "0", "upper": "s1 - 1",
                   "builder": {...}, "values": [{"input": "mask", "lower": 0, "upper": 1, "stated": false}]}}
      ],
      "specializations": [{"path": {"input": ["y"], "axis": 1}, "value": 1, "reason": ""}],
      "failures": [{"message": "...", "expr": "u0 > 2", "origin": null, "kind": "error"}],
      "meta": {"key": "value"}                                             # optional
    }

- ``input`` keys are strings (argument names, dict keys), integers (tuple/list indices) or
  ``{"attr": "name"}`` (a namedtuple or dataclass field, shown ``p.name``).
- ``example``, ``origin`` and a failure's ``expr`` may be null; in ``origin`` only ``file`` and
  ``line`` are required, and a specialization's ``reason`` is optional.
- ``expr`` is the text ``guards.codec.format_expr`` writes (``kind`` is a ``GuardKind`` value).
- ``index`` (optional, ``index_bound`` guards only): dimsolve's own index check, its bounds and
  ``size`` in the same expression text (``lower``/``upper`` may be null: unbounded).
- ``assumptions`` maps each symbol name used in an expression to the sympy assumptions of its
  symbol (torch's sizes are ``integer`` and ``positive``), so expressions read back compare equal
  to the traced ones; a name not listed becomes ``Symbol(name, integer=True)``.

Reading validates untrusted input: any wrong type, missing or unknown key raises
``GuardSetFormatError`` naming the JSON path (``guards[3].expr``), never a ``KeyError``.

The format lives in three modules: ``serialize_write`` (GuardSet → JSON), ``serialize_read``
(JSON → GuardSet) and ``serialize_fields`` (the typed, path-reporting access both rely on).
Callers import from this module.
"""

from __future__ import annotations

from dimsolve.guards.serialize_fields import SCHEMA_VERSION, GuardSetFormatError
from dimsolve.guards.serialize_read import from_json, guardset_from_dict
from dimsolve.guards.serialize_write import guardset_to_dict, to_json

__all__ = ["SCHEMA_VERSION", "GuardSetFormatError", "from_json", "guardset_from_dict", "guardset_to_dict", "to_json"]
