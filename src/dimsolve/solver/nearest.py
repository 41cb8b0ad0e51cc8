"""The admitted sizes closest to the example: a grown example for dims torch specialised at 0/1.

Growing a size-1 dim alone often breaks the model (``z`` must be ``x.shape[0] * y.shape[0]``, so
``z`` has to grow with ``y``). Given guards traced without 0/1 specialisation, the solver finds the
sizes nearest the example (sum of absolute changes) that satisfy every guard and the spec, with
every dynamic size at least 2: first as few sizes changed as possible, then the smallest change.
"""

from __future__ import annotations

import z3

from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS, rlimit_for, safety_net_ms
from dimsolve.solver.problem import Problem


def nearest_admitted(problem: Problem, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> dict[str, int] | None:
    """Symbol -> size for the closest point that passes every guard; None if there is none (or no
    answer within the budget ``timeout_ms``: z3 resource units, as ``budget.make_solver``)."""
    opt = z3.Optimize()
    opt.set("rlimit", rlimit_for(timeout_ms))
    opt.set("timeout", safety_net_ms(timeout_ms))
    opt.add(*problem.domain, *problem.auto_domain)
    opt.add(*(guard for _, guard in problem.guards))
    example = problem.example()
    known = [(var, example[name]) for name, var in problem.vars.items() if name in example]
    if known:  # lexicographic: fewest sizes changed, then the smallest total change
        opt.minimize(z3.Sum([z3.If(var == value, 0, 1) for var, value in known]))
        opt.minimize(z3.Sum([z3.If(var >= value, var - value, value - var) for var, value in known]))
    try:
        if opt.check() != z3.sat:
            return None
    except z3.Z3Exception:
        return None
    model = opt.model()
    return {name: model.eval(var, model_completion=True).as_long() for name, var in problem.vars.items()}
