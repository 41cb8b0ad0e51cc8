"""Small helpers shared by the ``dims`` modules: spec-path spelling, diagnostics, hint styles."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dimsolve.diagnostics.codes import code
from dimsolve.diagnostics.model import Diagnostic
from dimsolve.dims.model import RootDim

ACCEPTED_DIM_VALUES = (
    "an int, None, a Dim, a derived Dim such as 2*dx + 1, Dim.AUTO, Dim.DYNAMIC or Dim.STATIC"
)


def key_text(key: object) -> str:
    """One subscript in the user's spelling: ``["x"]``, ``[0]``."""
    if isinstance(key, str):
        return "[" + json.dumps(key, ensure_ascii=False) + "]"
    return f"[{key!r}]"


def sub_path(path: str, key: object) -> str:
    """``dynamic_shapes["x"]`` + ``0`` -> ``dynamic_shapes["x"][0]``."""
    return path + key_text(key)


def describe(value: object) -> str:
    """A short rendering of a user value for messages: ``'abc' (str)``."""
    try:
        text = repr(value)
    except Exception:  # a user object whose __repr__ raises still gets its finding
        text = f"<{type(value).__name__} object>"
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})"


def diag(
    code_id: str,
    message: str,
    paths: tuple[str, ...],
    help_text: str,
    facts: dict[str, object] | None = None,
) -> Diagnostic:
    return Diagnostic(
        code=code_id,
        severity=code(code_id).severity,
        message=message,
        paths=paths,
        help=(help_text,),
        facts=dict(facts or {}),
    )


# --- hint styles -------------------------------------------------------------------------------
# A ``Dim.AUTO``/``Dim.DYNAMIC``/``Dim.STATIC`` given for a python int input has no tensor
# dimension to live on, so the layout node keeps it in ``style``: "auto", "dynamic:2:", "auto::8".


@dataclass(frozen=True, slots=True)
class HintStyle:
    kind: str  # "auto" | "dynamic" | "static"
    min: int | None = None
    max: int | None = None

    def encode(self) -> str:
        if self.min is None and self.max is None:
            return self.kind
        low = "" if self.min is None else str(self.min)
        high = "" if self.max is None else str(self.max)
        return f"{self.kind}:{low}:{high}"

    def python(self) -> str:
        text = f"Dim.{self.kind.upper()}"
        return text + bounds_call(self.min, self.max)


def bounds_call(low: int | None, high: int | None) -> str:
    """``(min=2, max=8)`` for a hint's optional bounds, ``""`` when both are absent."""
    parts = [f"{name}={v}" for name, v in (("min", low), ("max", high)) if v is not None]
    return f"({', '.join(parts)})" if parts else ""


def root_text(root: RootDim) -> str:
    """``Dim("dx", min=3, max=6)`` as the user would write it: min 0 and an unbounded max omitted."""
    args = [json.dumps(root.name)]
    if root.min != 0:
        args.append(f"min={root.min}")
    if root.max is not None:
        args.append(f"max={root.max}")
    return f"Dim({', '.join(args)})"


def decode_hint_style(style: str) -> HintStyle:
    kind, _, rest = style.partition(":")
    if not rest:
        return HintStyle(kind)
    low, _, high = rest.partition(":")
    return HintStyle(kind, int(low) if low else None, int(high) if high else None)


def is_plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
