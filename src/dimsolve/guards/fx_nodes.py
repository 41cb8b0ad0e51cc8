"""Reading an exported graph's fx nodes: their fake values, sizes as sympy, and the user's line.

Shared by the value-range walk and the index checks built on it (``value_ranges``, ``index_bounds``).
"""

from __future__ import annotations

import functools
import re
import traceback
from typing import Any

import sympy

from dimsolve.diagnostics.model import SourceLocation

Expr = sympy.Basic


def node_value(node: Any) -> Any:
    return node.meta.get("val") if hasattr(node, "meta") else None


def is_integral(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)
    return dtype is not None and not dtype.is_floating_point and not dtype.is_complex


def as_sympy(value: Any) -> Expr | None:
    """A size or scalar as sympy: an int, a SymInt, or an fx node holding one."""
    import torch

    if hasattr(value, "meta"):
        value = node_value(value)
    if isinstance(value, bool):
        return sympy.Integer(int(value))
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, torch.SymInt):
        return value.node.expr
    return None


def node_shape(node: Any) -> tuple[Expr, ...] | None:
    value = node_value(node)
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    dims = tuple(as_sympy(d) for d in shape)
    return None if any(d is None for d in dims) else dims  # type: ignore[return-value]


@functools.lru_cache(maxsize=4096)
def _location(stack_trace: str) -> SourceLocation | None:
    """The user's line in an fx node's ``stack_trace`` (the innermost frame outside torch)."""
    from dimsolve.guards.source_lines import user_location

    frames = [traceback.FrameSummary(f, int(line), name, lookup_line=False, line=code.strip())
              for f, line, name, code in re.findall(r'File "([^"]+)", line (\d+), in (\S+)\n([^\n]*)', stack_trace)]
    return user_location(frames) if frames else None


def node_location(node: Any) -> SourceLocation | None:
    trace = node.meta.get("stack_trace") if node is not None and hasattr(node, "meta") else None
    return _location(trace) if trace else None
