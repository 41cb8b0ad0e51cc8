"""Fixtures for the solver tests."""

from __future__ import annotations

import pytest

import dimsolve.solver.check as check_module
from dimsolve.solver.budget import check as run


@pytest.fixture
def check_queries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records one entry per z3 query that ``solver.check`` sends (its length is the count)."""
    calls: list[int] = []

    def counting(solver, *assumptions):
        calls.append(1)
        return run(solver, *assumptions)

    monkeypatch.setattr(check_module, "run", counting)
    return calls
