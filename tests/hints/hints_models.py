"""Small models for the Dim.AUTO / Dim.DYNAMIC / 0-1 tests (GitHub issue #3).

The tests locate a guard's statement by its text inside ``forward`` (see ``hints_support.line_of``),
so every statement a test names must appear exactly once in its ``forward``.
"""

from __future__ import annotations

import torch


class TutorialModel(torch.nn.Module):
    """The torch.export tutorial's toy model: a Linear on w, x broadcast onto y, flatten plus z."""

    def __init__(self) -> None:
        super().__init__()
        self.l = torch.nn.Linear(5, 3)

    def forward(self, w, x, y, z):
        x0 = x + y
        x1 = self.l(w)
        x2 = x0.flatten()
        x3 = x2 + z
        return x1, x3


class TutorialGuarded(torch.nn.Module):
    """The tutorial model with an assert, a torch._check and a shape branch in front of it."""

    def __init__(self) -> None:
        super().__init__()
        self.l = torch.nn.Linear(5, 3)

    def forward(self, w, x, y, z):
        assert w.shape[0] <= 512
        torch._check(x.shape[0] >= 4)
        if w.shape[0] == x.shape[0] + 2:
            out = self.l(w)
            total = (x + y).flatten() + z
            return out, total
        return w


class ShiftedAdd(torch.nn.Module):
    """y is one longer than x."""

    def forward(self, x, y):
        return x + y[1:]


class Doubled(torch.nn.Module):
    """y is twice as long as x."""

    def forward(self, x, y):
        return torch.cat([x, x], 0) + y


class Branch64(torch.nn.Module):
    """A branch on the size: the traced branch only holds up to 64."""

    def forward(self, x):
        if x.shape[0] <= 64:
            return x * 2
        return x - 1


class Scale(torch.nn.Module):
    """No shape guard at all."""

    def forward(self, x):
        return x * 2


class Pair(torch.nn.Module):
    """Element-wise add: equal sizes (or broadcasting a 1)."""

    def forward(self, x, y):
        return x + y


class Head(torch.nn.Module):
    """A Linear(4, 3) projection: the last dimension must be 4."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.proj(x)
