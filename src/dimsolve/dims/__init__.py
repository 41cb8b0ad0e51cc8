"""The user's ``dynamic_shapes``: parse every form torch accepts into a ``Spec``, render it back."""

from dimsolve.dims.apply import apply_changes
from dimsolve.dims.model import DimKind, DimPath, DimSpec, InputPath, LayoutNode, NodeKind, RootDim, Spec, SpecEntry
from dimsolve.dims.parse import ParseResult, parse_spec
from dimsolve.dims.render import render_python, to_torch

__all__ = [
    "DimKind", "DimPath", "DimSpec", "InputPath", "LayoutNode", "NodeKind", "RootDim", "Spec", "SpecEntry",
    "ParseResult", "apply_changes", "parse_spec", "render_python", "to_torch",
]
