"""The tutorial's constraint-violation example: the model needs x and y to share dim 0 and dim 1 == 4.

The spec below keeps ``dy`` independent of ``dx`` and makes ``d1`` dynamic: torch.export would
raise a ConstraintViolation; dimsolve reports both problems and one verified fix.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.export import Dim


class Foo(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        w = x + y
        if w.shape[0] <= 512:
            w = self.proj(w)
        return w


def wrong_spec() -> tuple[Any, tuple, dict, Any]:
    """(model, args, kwargs, dynamic_shapes) with three mistakes in the spec."""
    dx, dy, d1 = Dim("dx"), Dim("dy"), Dim("d1")
    return Foo(), (torch.randn(6, 4), torch.randn(6, 4)), {}, {"x": (dx, d1), "y": (dy, d1)}
