"""dimsolve: decide torch.export ``dynamic_shapes`` specs against the model's guards, print verified fixes.

``import dimsolve`` is cheap: torch and z3 load only when a function that needs them is called.
"""

from __future__ import annotations

from typing import Any

from dimsolve._version import __version__

_LAZY = {
    "check_dynamic_shapes": "dimsolve.export.api",
    "check_spec": "dimsolve.export.api",
    "trace_guards": "dimsolve.export.api",
    "export": "dimsolve.export.api",
    "ConstraintViolation": "dimsolve.export.api",
    "DimsolveError": "dimsolve.export.api",
    "InvalidArgument": "dimsolve.export.api",
    "Report": "dimsolve.export.report",
    "Violation": "dimsolve.export.report",
    "Case": "dimsolve.export.api",
    "case": "dimsolve.export.case",
    "assert_valid": "dimsolve.export.case",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dimsolve' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
