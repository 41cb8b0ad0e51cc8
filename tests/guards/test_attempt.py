"""attempt_export: torch.export of a spec as written, whatever torch answers, as data."""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim

from dimsolve.dims.model import DimPath, InputPath
from dimsolve.guards.attempt import attempt_export
from dimsolve.guards.objections import ObjectionKind

pytestmark = pytest.mark.torch

X0 = DimPath(InputPath(("x",)), 0)


class AreaBranch(torch.nn.Module):
    def forward(self, x):
        if x.shape[0] * x.shape[1] > 16:
            return x * 2
        return x + 1


class Fails(torch.nn.Module):
    def forward(self, x):
        raise ValueError("the model's own error")


class LinearFrom(torch.nn.Module):
    """``Linear(features, 2)``: pins the input's last size to ``features``."""

    def __init__(self, features: int = 4):
        super().__init__()
        self.lin = torch.nn.Linear(features, 2)

    def forward(self, x):
        return self.lin(x)


def test_an_exported_spec_gives_torchs_program_and_its_guards() -> None:
    spec = {"x": (Dim("a"), Dim("b"))}
    attempt = attempt_export(AreaBranch(), (torch.randn(4, 8),), None, spec)
    assert attempt.exported and not attempt.constraint_violation and attempt.failure is None
    assert any("> 16" in str(g.expr) for g in attempt.guardset.guards)
    assert {p for s in attempt.guardset.symbols for p in s.paths} >= {X0}


def test_decide_stops_the_export_after_torch_solved_the_constraints() -> None:
    spec = {"x": (Dim("a"), Dim("b"))}
    seen = []

    def decide(guardset) -> bool:
        seen.append(guardset)
        return False

    attempt = attempt_export(AreaBranch(), (torch.randn(4, 8),), None, spec, decide=decide)
    assert attempt.rejected and attempt.program is None and attempt.failure is None
    assert len(seen) == 1 and any("> 16" in str(g.expr) for g in seen[0].guards)
    # the same spec exports with torch alone: the stop was dimsolve's
    torch.export.export(AreaBranch(), (torch.randn(4, 8),), dynamic_shapes=spec)


def test_a_constraint_violation_is_torchs_objection_not_a_failure() -> None:
    attempt = attempt_export(LinearFrom(4), (torch.randn(3, 4),), None, {"x": (Dim("b"), Dim("f"))})
    assert attempt.constraint_violation and not attempt.exported
    assert not attempt.guardset.failures
    assert [o.kind for o in attempt.objections] == [ObjectionKind.SPECIALIZED]


def test_any_other_error_is_a_failure_with_the_users_line() -> None:
    attempt = attempt_export(Fails(), (torch.randn(3, 4),), None, {"x": (Dim("b"), 4)})
    assert not attempt.exported and not attempt.constraint_violation
    assert attempt.failure is not None and "the model's own error" in attempt.failure.message
    assert attempt.failure.origin is not None and attempt.failure.origin.code.startswith("raise ValueError")


class SquareMatmul(torch.nn.Module):
    def forward(self, x):
        return x @ x


def _undeclared(guardset) -> list[str]:
    from dimsolve.solver.defects import guard_defects

    return [str(d.guard.expr) for d in guard_defects(guardset)]


def test_guards_over_a_derived_dims_root_are_restated_over_the_sizes() -> None:
    # torch replaces x.shape[0] by d2's symbol + 1 and states its guards over d2 and d3: each guard
    # comes back over the sizes (or as a definition of a root), none names an undeclared root
    d2, d3 = Dim("d2"), Dim("d3")
    square = attempt_export(SquareMatmul(), (torch.randn(8, 8),), None, {"x": (d2 + 1, d3 + 1)}, False)
    assert square.exported and _undeclared(square.guardset) == []
    pinned = attempt_export(LinearFrom(7), (torch.randn(2, 7),), None, {"x": (Dim("b"), Dim("d") + 3)}, False)
    assert _undeclared(pinned.guardset) == []
    names = {s.name: s.paths for s in pinned.guardset.symbols}
    assert any(str(g.expr) in (f"Eq({n}, 7)", f"Eq(7, {n})") for g in pinned.guardset.guards
               for n, paths in names.items() if paths == (DimPath(InputPath(("x",)), 1),))


def test_a_derived_dims_relation_is_found_without_a_spurious_defect() -> None:
    import dimsolve

    d2, d3 = Dim("d2"), Dim("d3")
    report = dimsolve.check_dynamic_shapes(SquareMatmul(), (torch.randn(8, 8),), dynamic_shapes={"x": (d2 + 1, d3 + 1)})
    assert [v.code for v in report.violations] == ["DS302"], str(report)  # no DS904
    assert report.fix_verified
    torch.export.export(SquareMatmul(), (torch.randn(8, 8),), dynamic_shapes=report.fixed_dynamic_shapes)
