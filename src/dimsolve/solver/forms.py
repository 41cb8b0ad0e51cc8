"""Whether a derived form a fix writes (``height = 8*_height + 4``) is what the model requires, or
one safe choice among others: a branch guard such as ``height % 32 != 0`` rejects some sizes, and
no single progression admits exactly the others."""

from __future__ import annotations

import z3

from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, Outcome, make_solver
from dimsolve.solver.budget import check as run
from dimsolve.solver.problem import Problem, root_var


def accepted_off_form(problem: Problem, root: str, coeff: int, offset: int,
                      timeout_ms: int = DEFAULT_TIMEOUT_MS) -> int | None:
    """A value of ``root`` the spec admits and every guard accepts that is not ``coeff*k + offset``;
    None when the form is required (or z3 cannot tell, or some guard is not translated).

    >>> accepted_off_form(problem, "height", 8, 4)  # doctest: +SKIP
    33
    """
    if coeff <= 1 or root not in problem.roots or problem.unsupported:
        return None
    r = root_var(root)
    solver = make_solver(timeout_ms)
    solver.add(*problem.domain, *problem.auto_domain, *(g for _, g in problem.guards), (r - offset) % coeff != 0)
    if run(solver) is not Outcome.SAT:
        return None
    value = solver.model().eval(r, model_completion=True)
    return value.as_long() if z3.is_int_value(value) else None


def accepted_other_value(problem: Problem, root: str, value: int, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> int | None:
    """A value of ``root`` other than ``value`` that the spec admits and every guard accepts (the
    other sizes free): a fix that pins ``root`` to ``value`` then narrows it rather than following a
    guard that pins it. None when the guards pin it (or z3 cannot tell, or a guard is not translated).
    """
    if root not in problem.roots or problem.unsupported:
        return None
    r = root_var(root)
    solver = make_solver(timeout_ms)
    solver.add(*problem.domain, *problem.auto_domain, *(g for _, g in problem.guards), r != value)
    if run(solver) is not Outcome.SAT:
        return None
    found = solver.model().eval(r, model_completion=True)
    return found.as_long() if z3.is_int_value(found) else None
