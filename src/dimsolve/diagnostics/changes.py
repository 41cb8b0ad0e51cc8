"""Render a structured ``SpecChange`` as the line of torch-spelled Python a user would write.

A change whose target is a Dim name renders as an assignment that can be pasted above the
``dynamic_shapes`` dict (``dy = dx``). A change whose target is an input path (a dimension the user
never named, ``x.shape[0]``) renders as ``x.shape[0] -> <new spec entry>``: there is no variable to
assign to, and torch's own ``L['x'].size()[0] = ...`` spelling is not valid Python either.
"""

from __future__ import annotations

from dataclasses import asdict

from dimsolve.diagnostics.model import (
    AddCheck,
    MakeAuto,
    NewRoot,
    Relate,
    SetRange,
    SpecChange,
    Specialize,
)

# The wire tag of each change type; the JSON models and SARIF properties use the same names.
CHANGE_TYPES: dict[type, str] = {
    SetRange: "set_range",
    Specialize: "specialize",
    Relate: "relate",
    NewRoot: "new_root",
    MakeAuto: "make_auto",
    AddCheck: "add_check",
}


def is_dim_name(target: str) -> bool:
    """True for a Dim name (``dy``), false for an input path (``x.shape[0]``)."""
    return target.isidentifier()


def linear_expr(root: str, coeff: int = 1, offset: int = 0) -> str:
    """``coeff*root + offset`` the way torch prints a derived Dim: ``dx``, ``2*dx + 1``, ``dx - 6``.

    >>> linear_expr("dx", 2, 1)
    '2*dx + 1'
    """
    if coeff == 0:
        return str(offset)
    if coeff == 1:
        head = root
    elif coeff == -1:
        head = f"-{root}"
    else:
        head = f"{coeff}*{root}"
    if offset > 0:
        return f"{head} + {offset}"
    if offset < 0:
        return f"{head} - {-offset}"
    return head


def dim_ctor(name: str, lo: int | None, hi: int | None) -> str:
    """``Dim("name", min=lo, max=hi)``, leaving out an unbounded ``hi``."""
    # torch's own defaults (min=0, max unbounded) are left out, as torch's repr does
    bounds = [f"{k}={v}" for k, v in (("min", lo if lo != 0 else None), ("max", hi)) if v is not None]
    return f"Dim({', '.join([repr_str(name), *bounds])})"


def repr_str(text: str) -> str:
    """A double-quoted Python string literal (torch's examples and ours use double quotes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hint_ctor(lo: int | None, hi: int | None, hint: str | None = None) -> str:
    hint = hint or "DYNAMIC"
    # torch's own defaults (min=0, max unbounded) are left out, as torch's repr does
    bounds = [f"{k}={v}" for k, v in (("min", lo if lo != 0 else None), ("max", hi)) if v is not None]
    return f"Dim.{hint}({', '.join(bounds)})" if bounds else f"Dim.{hint}"


def _assign(target: str, value: str) -> str:
    return f"{target} = {value}" if is_dim_name(target) else f"{target} -> {value}"


def _check_call(code: str) -> str:
    stripped = code.strip()
    if stripped.startswith(("torch._check(", "torch._check_is_size(")):
        return stripped
    return f"torch._check({stripped})"


def render_change(change: SpecChange) -> str:
    """One line of Python (or ``path -> entry`` for an unnamed dimension) that applies ``change``.

    >>> render_change(Relate("dw", "dx", coeff=2, offset=1))
    'dw = 2*dx + 1'
    >>> render_change(MakeAuto("x.shape[0]"))
    'x.shape[0] -> Dim.AUTO'
    """
    if isinstance(change, SetRange):
        if is_dim_name(change.target):
            return f"{change.target} = {dim_ctor(change.target, change.min, change.max)}"
        return f"{change.target} -> {_hint_ctor(change.min, change.max, change.hint)}"
    if isinstance(change, Specialize):
        return _assign(change.target, str(change.value))
    if isinstance(change, Relate):
        return _assign(change.target, linear_expr(change.root, change.coeff, change.offset))
    if isinstance(change, NewRoot):
        return f"{change.name} = {dim_ctor(change.name, change.min, change.max)}"
    if isinstance(change, MakeAuto):
        return _assign(change.target, "Dim.AUTO")
    if isinstance(change, AddCheck):
        call = _check_call(change.code)
        if change.location is None:
            return call
        return f"{call}  # insert before {change.location.short()}"
    raise TypeError(f"not a SpecChange: {change!r}")


def change_to_dict(change: SpecChange) -> dict[str, object]:
    """The plain-data wire form of a change: its fields plus a ``"type"`` tag (stdlib only)."""
    fields = asdict(change)
    if isinstance(change, SetRange) and change.hint is None:
        del fields["hint"]  # a named Dim's range, or Dim.DYNAMIC: the form before hints had a field
    return {"type": CHANGE_TYPES[type(change)], **fields}
