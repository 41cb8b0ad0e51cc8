"""Data-dependent (unbacked) symbols: name them in the user's terms and record what tracing needed.

An unbacked symbol (``u0``) is a value torch cannot see while tracing: ``k = n.item()``, the length
of ``x.nonzero()``. The user knows it as ``k`` or ``idx.shape[0]``, so that is its label.
"""

from __future__ import annotations

import re
from typing import Any

import sympy

from dimsolve.guards.capture import Capture, RawUnbacked
from dimsolve.guards.model import SymbolInfo, TraceFailure

_ASSIGN = re.compile(r"^\s*([\w\s,\(\)\[\]]+?)\s*=(?!=)\s*(.+)$")
_SCALAR = re.compile(r"\.item\(\)|\.tolist\(\)|\bint\(|\bfloat\(|\bbool\(")
_CALL = re.compile(r"[\w\.\[\]]+\.item\(\)")


def _names(lhs: str) -> list[str]:
    return [n.strip() for n in lhs.strip("()[] ").split(",") if n.strip()]


def label_for(code: str, index: int) -> str:
    """``k = n.item()`` -> ``k``; ``a, b = t.tolist()`` -> ``a``/``b``; ``idx = x.nonzero()`` -> ``idx.shape[0]``."""
    match = _ASSIGN.match(code or "")
    if match:
        lhs, rhs = match.groups()
        names = _names(lhs)
        if names and all(n.isidentifier() for n in names):
            if len(names) == 1 and ".tolist()" in rhs:
                return f"{names[0]}[{index}]"  # b = t.tolist(): the elements are b[0], b[1], ...
            if _SCALAR.search(rhs):
                return names[min(index, len(names) - 1)]
            return f"{names[0]}.shape[{index}]"
    call = _CALL.search(code or "")
    return call.group(0) if call else ""


def _bound(value: Any) -> int | None:
    """A finite integer bound, or None for torch's ``int_oo``/``-int_oo`` and anything else."""
    if isinstance(value, int) or (isinstance(value, sympy.Integer) and value.is_finite):
        number = int(value)
        return number if abs(number) < 2**62 else None
    return None


def unbacked_symbols(captured: Capture) -> list[SymbolInfo]:
    env = captured.shape_env
    ranges = getattr(env, "var_to_range", {}) if env is not None else {}
    real = getattr(env, "real_tensor_prop_unbacked_vals", {}) if env is not None else {}
    out = []
    seen: set[str] = set()
    for raw in captured.unbacked:
        # an unbacked bool is ``Eq(u0, 1)`` over a fresh int symbol: declare that symbol
        symbols = [raw.expr] if isinstance(raw.expr, sympy.Symbol) else sorted(
            getattr(raw.expr, "free_symbols", ()), key=str)
        for sym in symbols:
            if not isinstance(sym, sympy.Symbol) or str(sym) in seen:
                continue
            seen.add(str(sym))
            vr = ranges.get(sym)
            example = real.get(sym)
            out.append(SymbolInfo(
                name=str(sym), paths=(), example=_bound(example) if example is not None else None, backed=False,
                label=_label(raw), origin=raw.origin,
                lower=_bound(vr.lower) if vr is not None else None, upper=_bound(vr.upper) if vr is not None else None,
            ))
    return out


def _label(raw: RawUnbacked) -> str:
    """``label_for`` the line that created the value; a scalar read (``.item()``) that the line does
    not write itself (a library call reading a tensor's value) has no name in the user's code."""
    code = raw.origin.code if raw.origin else ""
    label = label_for(code, raw.index)
    scalar_read = raw.origin is not None and "local_scalar_dense" in raw.origin.op
    if scalar_read and ".shape[" in label:
        return ""
    return label


def data_dependent_failures(captured: Capture) -> list[TraceFailure]:
    out = []
    for raw in captured.data_dependent:
        # a bare symbol is a sympy Boolean too; only a condition can be decided by torch._check
        is_condition = isinstance(raw.expr, (sympy.core.relational.Relational, sympy.logic.boolalg.BooleanFunction))
        kind = "data_dependent" if is_condition else "data_dependent_int"
        out.append(TraceFailure(
            message=f"could not decide {raw.expr} without the data", expr=raw.expr, origin=raw.origin,
            kind=kind, value=raw.value,
        ))
    return out
