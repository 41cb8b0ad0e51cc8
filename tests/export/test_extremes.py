"""A DS7xx fix is confirmed by running torch's program at the fix's extreme sizes: a fix one size
too wide exports fine and is caught only by the run."""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import dimsolve
from dimsolve.dims.apply import apply_changes
from dimsolve.diagnostics.model import SetRange
from dimsolve.export.extremes import extreme_sizes, fails_at_extremes
from dimsolve.guards.attempt import attempt_export

pytestmark = pytest.mark.torch


class LearnedPositions(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = torch.nn.Embedding(64, 8)

    def forward(self, x):
        positions = torch.arange(x.shape[1])
        return x.unsqueeze(-1) + self.pos(positions)


ARGS = (torch.randn(2, 16),)


@pytest.fixture(scope="module")
def report():
    return dimsolve.check_dynamic_shapes(LearnedPositions(), ARGS, dynamic_shapes={"x": (None, Dim("seq"))})


@pytest.mark.parametrize("top, failure", [(64, ""), (65, "the exported program fails at x.shape[1] = 65: IndexError")])
def test_the_program_runs_at_the_fixs_max_or_the_fix_is_refused(report, top, failure):
    from dimsolve.dims.render import to_torch

    assert [d.code for d in report.diagnostics] == ["DS701"] and report.fix_verified
    fixed = apply_changes(report.spec, [SetRange("seq", 0, top)])
    assert extreme_sizes(report, fixed)[0] == {e.path: top for e in fixed.entries if e.dim.root == "seq"}
    attempt = attempt_export(LearnedPositions(), ARGS, None, to_torch(fixed))
    assert attempt.exported  # torch exports both: only the run tells them apart
    assert fails_at_extremes(report, attempt.program, fixed, LearnedPositions(), ARGS, None).startswith(failure)
