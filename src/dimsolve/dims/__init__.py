"""The user's ``dynamic_shapes``: parse every form torch accepts into a ``Spec``, render it back."""

from dimsolve.dims.model import DimKind, DimPath, DimSpec, InputPath, LayoutNode, NodeKind, RootDim, Spec, SpecEntry

__all__ = ["DimKind", "DimPath", "DimSpec", "InputPath", "LayoutNode", "NodeKind", "RootDim", "Spec", "SpecEntry"]
