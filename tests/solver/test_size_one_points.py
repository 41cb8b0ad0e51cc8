"""Size 1 where a named Dim admits it: the exported program runs its checks there, the main check
(sizes >= 2) does not look. Solver only: GuardSets and Specs built by hand, no torch.
"""

from __future__ import annotations

import pytest
import sympy

from dimsolve.dims.model import DimKind, DimSpec, RootDim, Spec
from dimsolve.solver.problem import build_problem
from dimsolve.solver.size_one import size_one_violations

from solver_oracle import entry, guardset, holds, sym

s0, s1, s2 = (sym(f"s{i}") for i in range(3))


def root(name: str, coeff: int = 1, offset: int = 0) -> DimSpec:
    kind = DimKind.ROOT if (coeff, offset) == (1, 0) else DimKind.DERIVED
    return DimSpec(kind, root=name, coeff=coeff, offset=offset)


def spec_of(dims, examples, roots) -> Spec:
    return Spec(tuple(entry(i, d, e) for i, (d, e) in enumerate(zip(dims, examples))), {r.name: r for r in roots})


# x: batch, y: 5*batch (s1 = 5*s0); the model checks y.shape[0] >= 10 (torch._check)
FIVE = ((root("b"), root("b", 5)), (2, 10))


@pytest.mark.parametrize("guards, dims_examples, roots, failing", [
    pytest.param([s1 >= 10, sympy.Eq(s1, 5 * s0)], FIVE, (RootDim("b", 1, 32),), "s1 >= 10", id="5*batch-min-1"),
    pytest.param([s1 >= 10, sympy.Eq(s1, 5 * s0)], FIVE, (RootDim("b", 0, 32),), "s1 >= 10", id="5*batch-default-min"),
    pytest.param([s1 >= 10, sympy.Eq(s1, 5 * s0)], FIVE, (RootDim("b", 2, 32),), None, id="5*batch-min-2"),
    pytest.param([sympy.Eq(s1, 5 * s0)], FIVE, (RootDim("b", 1, 32),), None, id="relation-holds-at-1"),
    pytest.param([s0 <= 64], ((root("d"),), (8,)), (RootDim("d", 0),), None, id="upper-bound-holds-at-1"),
    pytest.param([sympy.Ne(s0, 1)], ((root("d"),), (8,)), (RootDim("d", 0),), "Ne(s0, 1)", id="ne-one"),
    # only y is named and 5*b >= 5 > 1: no named size can be 1
    pytest.param([s0 >= 10], (((root("b", 5),), (10,))), (RootDim("b", 1, 32),), None, id="no-size-one"),
])
def test_size_one_violations(guards, dims_examples, roots, failing):
    dims, examples = dims_examples
    problem = build_problem(guardset(examples, guards), spec_of(dims, examples, roots))
    found = size_one_violations(problem, 2000)
    assert [str(v.guard.expr) for v in found] == ([failing] if failing else [])
    for v in found:  # the point is admitted, has a named size of 1, and fails the guard
        point = {k: n for k, n in v.counterexample.items() if not k.startswith("root!")}
        assert 1 in point.values()
        assert not holds(v.guard.expr, point)


def test_auto_sizes_are_torchs_to_choose():
    # z = x*y with z AUTO: at x = y = 1 torch picks z = 1, so no size-1 finding (the tutorial's DynamicModel)
    dims = (root("dx"), root("dy"), DimSpec(DimKind.AUTO))
    spec = spec_of(dims, (4, 4, 16), (RootDim("dx", 0), RootDim("dy", 0)))
    problem = build_problem(guardset((4, 4, 16), [sympy.Eq(s0 * s1, s2)]), spec)
    assert size_one_violations(problem, 2000) == []
