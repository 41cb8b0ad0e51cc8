"""The models of the tests/unbacked suite, as source text (so line numbers are ours).

* FAILING: torch.export raises a data-dependent error on each of them (asserted). They re-express the
  torch.export tutorial's "Data-dependent errors", "Guards, torch._check()" and "Specialized values"
  sections, ExportDB's dynamic-value / escape-hatch cases without their escape hatch, and models of our
  own with two or three independent data-dependent failures.
* CLEAN: torch 2.13 exports them as they are (with the escape hatch, or because torch no longer needs a
  decision there); dimsolve must not invent a DS601 for them.

Every model class is called ``Model``.
"""

from __future__ import annotations

import torch
from torch.export import Dim
from unbacked_support import Case, Failure

HEADER = """
import torch


"""

# ----------------------------------------------------------------------------------------------
# torch.export fails on these
# ----------------------------------------------------------------------------------------------

_TUTORIAL_BRANCH = HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        if a // 2 >= 5:
            return y + 2
        else:
            return y * 5
"""

_TWO_ITEMS = HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, n, y):
        a = x.item()
        if a // 2 >= 5:
            y = y + 2
        b = n.item()
        if b < y.shape[0]:
            y = y * 3
        return y
"""

FAILING: dict[str, Case] = {
    # tutorial, "Guards, torch._check()": the example takes the `y + 2` branch; the tutorial's fix is a >= 10
    "tutorial-branch": Case(
        _TUTORIAL_BRANCH, (torch.tensor(32), torch.randn(4)),
        failures=(Failure("if a // 2 >= 5:", ("a",), "a // 2 >= 5", ("torch._check(a >= 10)",)),),
    ),
    # same model, the example takes the else branch (the tutorial mentions torch._check(a == 4))
    "tutorial-branch-else": Case(
        _TUTORIAL_BRANCH, (torch.tensor(4), torch.randn(4)),
        failures=(Failure("if a // 2 >= 5:", ("a",), "a // 2 >= 5", ("torch._check(a <= 9)",)),),
    ),
    "tutorial-branch-strict": Case(
        _TUTORIAL_BRANCH, (torch.tensor(32), torch.randn(4)), strict=True,
        failures=(Failure("if a // 2 >= 5:", ("a",), "a // 2 >= 5", ("torch._check(a >= 10)",)),),
    ),
    # ExportDB constrain_as_value_example without its escape hatch
    "exportdb-value-branch": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        if a < 6:
            return y.sin()
        return y.cos()
""",
        (torch.tensor(4), torch.randn(5, 5)),
        failures=(Failure("if a < 6:", ("a",), "a < 6", ("torch._check(a <= 5)",)),),
    ),
    # two independent .item() guards, the second against a dynamic input size
    "two-items": Case(
        _TWO_ITEMS, (torch.tensor(32), torch.tensor(3), torch.randn(8)),
        {"x": None, "n": None, "y": (Dim("dy"),)},
        failures=(
            Failure("if a // 2 >= 5:", ("a",), "a // 2 >= 5", ("torch._check(a >= 10)",)),
            Failure("if b < y.shape[0]:", ("b", "y.shape[0]"), "b < y.shape[0]", ("torch._check(b < y.shape[0])",)),
        ),
    ),
    "two-items-strict": Case(
        _TWO_ITEMS, (torch.tensor(32), torch.tensor(3), torch.randn(8)),
        {"x": None, "n": None, "y": (Dim("dy_strict"),)}, strict=True,
        failures=(
            Failure("if a // 2 >= 5:", ("a",), "a // 2 >= 5", ("torch._check(a >= 10)",)),
            Failure("if b < y.shape[0]:", ("b", "y.shape[0]"), "b < y.shape[0]", ("torch._check(b < y.shape[0])",)),
        ),
    ),
    # .tolist() unpacked into names: a guard between the two values and one against an input size
    "tolist-unpack": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, t, x):
        a, b = t.tolist()
        if a > b:
            x = x + 1
        if a + b == x.shape[0]:
            x = x * 2
        return x
""",
        (torch.tensor([5, 3]), torch.randn(8)), {"t": None, "x": (Dim("dx"),)},
        failures=(
            Failure("if a > b:", ("a", "b"), "a > b", ("torch._check(a > b)",)),
            Failure("if a + b == x.shape[0]:", ("a", "b", "x.shape[0]"), "a + b == x.shape[0]",
                    ("torch._check(a + b == x.shape[0])",)),
        ),
    ),
    # the length of nonzero() against an input size (False in the example), a boolean mask's length
    "nonzero-and-mask": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        idx = x.nonzero()
        if idx.shape[0] > y.shape[0]:
            y = y + 1
        pos = x[x > 0.5]
        if pos.shape[0] >= 3:
            y = y * 2
        return y
""",
        (torch.tensor([0.0, 1.0, 2.0, 0.0, 3.0, 0.7]), torch.randn(4)), {"x": (Dim("dx"),), "y": (Dim("dy"),)},
        failures=(
            Failure("if idx.shape[0] > y.shape[0]:", ("idx.shape[0]", "y.shape[0]"), "idx.shape[0] > y.shape[0]",
                    ("torch._check(idx.shape[0] <= y.shape[0])",)),
            Failure("if pos.shape[0] >= 3:", ("pos.shape[0]",), "pos.shape[0] >= 3", ("torch._check(pos.shape[0] >= 3)",)),
        ),
    ),
    # three sources at once: .item() equal to a size, a difference of .tolist() values, a mask count (False)
    "three-sources": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, n, t):
        k = n.item()
        if k == x.shape[0]:
            x = x + 1
        lo, hi = t.tolist()
        if hi - lo >= 2:
            x = x * 2
        pos = x[x > 0]
        if pos.shape[0] < 3:
            x = x - 1
        return x
""",
        (torch.arange(-3.0, 9.0), torch.tensor(12), torch.tensor([1, 5])), {"x": (Dim("dx"),), "n": None, "t": None},
        failures=(
            Failure("if k == x.shape[0]:", ("k", "x.shape[0]"), "k == x.shape[0]", ("torch._check(k == x.shape[0])",)),
            Failure("if hi - lo >= 2:", ("hi", "lo"), None, None),
            Failure("if pos.shape[0] < 3:", ("pos.shape[0]",), "pos.shape[0] < 3", ("torch._check(pos.shape[0] >= 3)",)),
        ),
    ),
    # a guard inside a helper function (the check goes into the helper) and one in forward
    "helper-function": Case(
        HEADER + """
def widen(k, x):
    if k * 2 > x.shape[0]:
        return x + 1
    return x - 1


class Model(torch.nn.Module):
    def forward(self, n, m, x):
        k = n.item()
        x = widen(k, x)
        j = m.item()
        if j > 0:
            x = x * j
        return x
""",
        (torch.tensor(5), torch.tensor(2), torch.randn(8)), {"n": None, "m": None, "x": (Dim("dx"),)},
        failures=(
            Failure("if k * 2 > x.shape[0]:", ("k", "x.shape[0]"), "2*k > x.shape[0]", ("torch._check(2*k > x.shape[0])",)),
            Failure("if j > 0:", ("j",), "j > 0", ("torch._check(j >= 1)",)),
        ),
    ),
    # unbind() then .item() on each part
    "unbind-items": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, t, x):
        p, q = t.unbind()
        a = p.item()
        c = q.item()
        if a < c:
            x = x + 1
        return x
""",
        (torch.tensor([2, 3]), torch.randn(8)),
        failures=(Failure("if a < c:", ("a", "c"), "a < c", ("torch._check(a < c)",)),),
    ),
    # .item() inside the condition: no name to check but the call itself
    "inline-item": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, n, x):
        if n.item() > 3:
            x = x + 1
        return x
""",
        (torch.tensor(5), torch.randn(8)),
        failures=(Failure("if n.item() > 3:", ("n.item()",), "n.item() > 3", ("torch._check(n.item() >= 4)",)),),
    ),
    # .tolist() kept as a list and indexed
    "tolist-indexed": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, t, x):
        b = t.tolist()
        if b[0] > b[1]:
            x = x + 1
        return x
""",
        (torch.tensor([5, 3]), torch.randn(8)),
        failures=(Failure("if b[0] > b[1]:", ("b[0]", "b[1]"), "b[0] > b[1]", ("torch._check(b[0] > b[1])",)),),
    ),
    # a modulo guard, then a guard against a dynamic size
    "modulo-then-size": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, n):
        k = n.item()
        if k % 4 == 1:
            x = x + 1
        if 3 * k + 1 < x.shape[0]:
            x = x * 2
        return x
""",
        (torch.randn(64), torch.tensor(9)), {"x": (Dim("dx"),), "n": None},
        failures=(
            Failure("if k % 4 == 1:", ("k",), "k % 4 == 1", None),
            Failure("if 3 * k + 1 < x.shape[0]:", ("k", "x.shape[0]"), "3*k + 1 < x.shape[0]",
                    ("torch._check(3*k + 1 < x.shape[0])",)),
        ),
    ),
    # tutorial, "Specialized values" (with the comprehension variable renamed: the tutorial's
    # `[y for y in range(a)]` shadows y with an int and would fail for an unrelated reason)
    "tutorial-range-cat": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        b = torch.cat([y for _ in range(a)], dim=0)
        return b
""",
        (torch.tensor(3), torch.randn(6)),
        failures=(Failure("b = torch.cat([y for _ in range(a)], dim=0)", ("a",), "a", specialized_int=True),),
    ),
    "int-cast": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        return y + int(a)
""",
        (torch.tensor(3), torch.randn(6)),
        failures=(Failure("return y + int(a)", ("a",), "a", specialized_int=True),),
    ),
    "for-range": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        for _ in range(a):
            y = y * 2
        return y
""",
        (torch.tensor(3), torch.randn(6)),
        failures=(Failure("for _ in range(a):", ("a",), "a", specialized_int=True),),
    ),
    # a guard torch._check can decide, then a value torch needs as an int: both in one report
    "branch-then-range": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, n, y):
        a = x.item()
        if a // 2 >= 5:
            y = y + 2
        b = n.item()
        for _ in range(b):
            y = y * 2
        return y
""",
        (torch.tensor(32), torch.tensor(2), torch.randn(8)),
        failures=(
            Failure("if a // 2 >= 5:", ("a",), "a // 2 >= 5", ("torch._check(a >= 10)",)),
            Failure("for _ in range(b):", ("b",), "b", specialized_int=True),
        ),
    ),
}

# ----------------------------------------------------------------------------------------------
# torch.export succeeds on these: no DS601; ranges of the data-dependent values where torch knows them
# ----------------------------------------------------------------------------------------------

CLEAN: dict[str, Case] = {
    # tutorial, "Data-dependent errors": unbacked values that no decision depends on
    "tutorial-item-tolist": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        b = y.tolist()
        return b + [a]
""",
        (torch.tensor(1), torch.tensor([2, 3])),
    ),
    # tutorial, "Guards, torch._check()": the fixed model
    "tutorial-checked-branch": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        torch._check(a >= 10)
        torch._check(a <= 60)
        if a // 2 >= 5:
            return y + 2
        else:
            return y * 5
""",
        (torch.tensor(32), torch.randn(4)),
    ),
    # tutorial: indexing with a data-dependent value (torch 2.13 no longer needs the bounds checks)
    "tutorial-index": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        return y[a]
""",
        (torch.tensor(32), torch.randn(60)),
    ),
    "tutorial-index-checked-strict": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        torch._check(a >= 0)
        torch._check(a < y.shape[0])
        return y[a]
""",
        (torch.tensor(32), torch.randn(60)), strict=True,
    ),
    # tutorial, "Specialized values": the rewrite with repeat() instead of a range() comprehension
    "tutorial-repeat": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        b = y.unsqueeze(0).repeat(a, 1)
        return b + a
""",
        (torch.tensor(3), torch.randn(6)),
    ),
    # ExportDB constrain_as_size_example, with torch._check as the escape hatch, and without any
    "exportdb-size-checked": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x):
        a = x.item()
        torch._check(a >= 0)
        torch._check(a <= 5)
        return torch.zeros((a, 5))
""",
        (torch.tensor(4),),
    ),
    "exportdb-size": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x):
        a = x.item()
        return torch.zeros((a, 5))
""",
        (torch.tensor(4),),
    ),
    # ExportDB constrain_as_value_example with torch._check as the escape hatch
    "exportdb-value-checked": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        torch._check(a >= 0)
        torch._check(a <= 5)
        if a < 6:
            return y.sin()
        return y.cos()
""",
        (torch.tensor(4), torch.randn(5, 5)),
    ),
    # ExportDB assume_constant_result without the escape hatch: slicing by a data-dependent bound
    "exportdb-slice-by-item": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, y):
        return x[: y.int().item()]
""",
        (torch.randn(3, 2), torch.tensor(4)),
    ),
    "view-by-item": Case(
        HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, n):
        k = n.item()
        return x.view(k, -1)
""",
        (torch.randn(12), torch.tensor(3)),
    ),
}

# label -> (lower, upper) that torch knows at the end of tracing (the user's own torch._check calls)
CLEAN_RANGES: dict[str, dict[str, tuple[int | None, int | None]]] = {
    "tutorial-checked-branch": {"a": (10, 60)},
    # the report speaks for torch's export of the spec as written: y is static (60), so a < 60
    "tutorial-index-checked-strict": {"a": (0, 59)},
    "exportdb-size-checked": {"a": (0, 5)},
    "exportdb-value-checked": {"a": (0, 5)},
}

ALL: dict[str, Case] = {**FAILING, **CLEAN}
