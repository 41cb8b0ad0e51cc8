"""Small models with the dynamic-shape behaviour of the torch.export tutorial and of PyTorch's
test_export.py cases (own code; same guards). The tests assert that dimsolve points at lines of
these ``forward`` methods, so keep each guarded statement on one line and unique in its method.
"""

from __future__ import annotations

import torch


# --- torch.export tutorial -----------------------------------------------------------------------


class BroadcastThenOnes(torch.nn.Module):
    """x and y must share both dims; dim 1 must be 4 (``+ torch.ones(4)``)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        summed = x + y
        return summed + torch.ones(4)


class FourInputs(torch.nn.Module):
    """The tutorial's toy model: x broadcasts over y's last dim, w feeds a Linear(5, 3), z matches y flattened."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(5, 3)

    def forward(self, w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        xy = x + y
        projected = self.proj(w)
        flat = xy.flatten()
        total = flat + z
        return projected, total


class TwiceAsLong(torch.nn.Module):
    """y.shape[0] must be 2 * x.shape[0]; x.shape[1] and y.shape[1] are free."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        stacked = torch.cat([x, x], dim=0).sum(1)
        return stacked + y.sum(1)


class GroupsOfFour(torch.nn.Module):
    """x.shape[0] must be a multiple of 4."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grouped = x.reshape(-1, 4, x.shape[1])
        return grouped.mean(1)


# --- test_export.py: derived dims ----------------------------------------------------------------


class DropFirst(torch.nn.Module):
    """y.shape[0] == x.shape[0] + 1."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y[1:]


class OddPositions(torch.nn.Module):
    """y[1::2] has y.shape[0] // 2 elements: y.shape[0] must be 2 * x.shape[0] or 2 * x.shape[0] + 1."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y[1::2]


class ShiftedOddPositions(torch.nn.Module):
    """z.shape[0] - 1 == y.shape[0] // 2."""

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return z[1:] + y[1::2]


class EvenOrOdd(torch.nn.Module):
    """Branches on the parity of w.shape[0]."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if w.shape[0] % 2 == 0:
            return w[::2]
        return w[1:-1:2]


class EveryOther(torch.nn.Module):
    """u[::2] and v[::2] must have the same length."""

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return u[::2] + v[::2]


class Staircase(torch.nn.Module):
    """y = x + 1, z = x + 2."""

    def forward(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return x + y[1:] + z[2:]


class StaircaseWithCopies(torch.nn.Module):
    """y = x + 1, z = x + 2, x1 = x2 = x."""

    def forward(self, x, y, z, x1, x2):
        return x + y[1:] + z[2:] + x1 + x2


class FlattenMatches(torch.nn.Module):
    """y.shape[0] == x.shape[0] * x.shape[1]."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x.reshape([-1]) + y


# --- test_export.py: suggested fixes -------------------------------------------------------------


class SmallOrLarge(torch.nn.Module):
    """Branches on ``x.shape[0] <= 6``; c is a static passenger."""

    def forward(self, x: torch.Tensor, c: torch.Tensor):
        if x.shape[0] <= 6:
            return x + 1, c + 2
        return x - 1, c - 2


class WindowedSum(torch.nn.Module):
    """5 <= x <= 36, y % 3 == 0, y = x + 1, z = x + 3: only ``3*r - 1, 3*r, 3*r + 2`` fit."""

    def forward(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if x.shape[0] >= 5 and x.shape[0] <= 36 and y.shape[0] % 3 == 0:
            return x + y[1:] + z[3:]
        return x


class LinearPlusShifted(torch.nn.Module):
    """x feeds Linear(6, 4); y = x + 1 on dim 0 and y.shape[1] == 4; z is independent."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(6, 4)

    def forward(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        out = self.proj(x) + y[1:]
        return out, z * 2.0


class OneRowFewer(torch.nn.Module):
    """view(rows - 1, -1): (rows - 1) must divide rows * cols."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0] - 1, -1)


class AreaBranch(torch.nn.Module):
    """A guard over a product of two dims: torch exports it as a runtime assertion."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] * x.shape[1] > 64:
            return x.sum(0)
        return x.sum(1)


class Doubler(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


# --- spec errors ---------------------------------------------------------------------------------


class Cosine(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.cos()


class AddScalar(torch.nn.Module):
    def forward(self, x: torch.Tensor, n: int) -> torch.Tensor:
        return x + n


class MatMul(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, y)


# --- three kinds of violation at once ------------------------------------------------------------


class ThreeProblems(torch.nn.Module):
    """x + y (dim 0 equal), a Linear(4, 2) (dim 1 == 4) and a branch on ``x.shape[0] <= 64``."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        both = x + y
        if x.shape[0] <= 64:
            both = both * 2
        return self.head(both)
