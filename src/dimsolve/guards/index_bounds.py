"""Index bounds: where an integer tensor indexes a table, its value range must fit the table.

No shape guard stops a position index from running past its table: GPT-2's ``arange(seq)`` into a
64-row ``wpe`` exports for any ``seq`` and raises IndexError at run time. Every ``embedding``,
``index_select``, ``gather``, ``take``, advanced ``index`` and ``scatter`` whose index bounds
(``value_ranges``) depend on a size becomes an ``INDEX_BOUND`` guard for the solver. A bound that
depends on no size gives no guard (no spec can change it), unless the program alone makes it fail
at every size (``arange(65)`` into 64 rows, a static sequence length): then the guard is ``False``
and the finding is the example's (DS701), since the model raises on the example itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy

from dimsolve.diagnostics.model import SourceLocation
from dimsolve.guards.fx_nodes import node_location, node_shape, node_value
from dimsolve.guards.model import GuardKind, GuardRecord, IndexDetail
from dimsolve.guards.value_ranges import VIEW_OPS, ValueWalk, stated_value_ranges, value_ranges

Expr = sympy.Basic

__all__ = ["index_guards", "stated_value_ranges", "value_ranges"]


@dataclass(frozen=True)
class _Use:
    """One indexing: ``index`` values into axis ``axis`` of ``table`` (axis None: the flattened table)."""

    table: Any
    index: Any
    axis: int | None
    negative_ok: bool


def _uses(node: Any) -> list[_Use]:
    name = getattr(getattr(node.target, "overloadpacket", None), "__name__", "").rstrip("_")
    args = node.args
    if name == "embedding":
        return [_Use(args[0], args[1], 0, False)]
    if name in ("index_select", "gather", "scatter", "scatter_add", "scatter_reduce"):
        return [_Use(args[0], args[2], int(args[1]), False)]
    if name == "take":
        return [_Use(args[0], args[1], None, True)]
    if name in ("index", "index_put"):
        return _advanced(args[0], args[1])
    return []


def _advanced(table: Any, indices: Sequence[Any]) -> list[_Use]:
    """``x[i, j]``: each integer index tensor indexes the axis it stands at (a bool mask: give up)."""
    import torch

    out, axis = [], 0
    for idx in indices:
        if idx is None:
            axis += 1
            continue
        value = node_value(idx)
        if getattr(value, "dtype", None) in (torch.bool, torch.uint8):
            return []
        out.append(_Use(table, idx, axis, True))
        axis += 1
    return out


def _size(table: Any, axis: int | None) -> Expr | None:
    shape = node_shape(table)
    if shape is None:
        return None
    if axis is None:
        return sympy.Mul(*shape) if shape else sympy.Integer(1)
    return shape[axis % len(shape)] if shape else None


def _table_name(walk: ValueWalk, table: Any) -> str:
    """The indexed tensor in the user's words: the parameter, buffer or input it views."""
    node = table
    for _ in range(16):
        if node.op == "placeholder":
            return walk.inputs.get(node.name, (None, node.name))[1]
        name = getattr(getattr(node.target, "overloadpacket", None), "__name__", "")
        if name not in VIEW_OPS or not node.args or not hasattr(node.args[0], "meta"):
            break
        node = node.args[0]
    return "a tensor"


def _relation(rel: Any, left: Expr, right: Expr) -> Any:
    """``rel(left, right)`` with the constant of ``left`` moved right: ``s0 <= 64``, not ``s0 - 1 <= 63``."""
    # a clamp's constant end decides it alone: Min(63, s0 - 1) <= 63 holds whatever s0 is
    bound = sympy.Min if rel is sympy.Le else sympy.Max
    if isinstance(left, bound) and any(a.is_number and rel(a, right) is sympy.true for a in left.args):
        return sympy.true
    const, rest = left.as_coeff_Add() if isinstance(left, sympy.Expr) else (0, left)
    return rel(rest, right - const)


def _checks(walk: ValueWalk, node: Any, use: _Use, backed: set[str]) -> list[GuardRecord]:
    r = walk.ranges.get(use.index)
    size = _size(use.table, use.axis)
    if r is None or size is None or not (r.symbolic() or (not r.values and not size.free_symbols)):
        return []  # (constant bounds count only when the program alone gives them: no input values assumed)
    lowest = -size if use.negative_ok else sympy.Integer(0)
    conditions = [c for c in (None if r.hi is None else _relation(sympy.Le, r.hi, size - 1),
                              None if r.lo is None else _relation(sympy.Ge, r.lo, lowest)) if c is not None]
    name = getattr(getattr(node.target, "overloadpacket", None), "__name__", "").rstrip("_")
    detail = IndexDetail(name, _table_name(walk, use.table), size, r.lo, r.hi, node_location(r.source),
                         tuple(sorted(r.values, key=lambda v: v.input)))
    out = []
    for c in conditions:
        if c is sympy.false:  # fails at every size: the example itself indexes past the table
            out.append(GuardRecord(c, GuardKind.INDEX_BOUND, node_location(node), detail))
            continue
        if c is sympy.true or not c.free_symbols or not {str(s) for s in c.free_symbols} <= backed:
            continue  # holds whatever the sizes, or is about sizes no spec names
        out.append(GuardRecord(c, GuardKind.INDEX_BOUND, node_location(node), detail))
    return out


def index_guards(program: Any, inputs: Sequence[Any], names: Mapping[int, str], backed: set[str]) -> list[GuardRecord]:
    """Every index check of ``program`` whose outcome depends on input sizes, as ``INDEX_BOUND``
    guards in the trace's symbols (``backed``: the names of the symbols that stand for input sizes).

    ``inputs``: the example's flattened ``(args, kwargs)`` in torch's order; ``names``: ``id`` of an
    input tensor -> its path as the user writes it.

    >>> [str(g.expr) for g in index_guards(ep, flat_inputs, names, {"s53"})]   # doctest: +SKIP
    ['s53 <= 64']
    """
    walk = ValueWalk(program, inputs, names)
    out: list[GuardRecord] = []
    seen: set[tuple[Expr, SourceLocation | None]] = set()
    for node in program.graph.nodes:
        if node.op == "call_function":
            for use in _uses(node):
                for g in _checks(walk, node, use, backed):
                    if (g.expr, g.origin) not in seen:
                        seen.add((g.expr, g.origin))
                        out.append(g)
        try:
            r = walk.transfer(node)
        except (TypeError, ValueError, IndexError, AttributeError):
            r = None  # an op form this walk does not know: its values are unknown, never guessed
        if r is not None:
            walk.ranges[node] = r
    return out
