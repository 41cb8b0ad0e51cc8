"""Size 1, where a named Dim admits it: the exported program checks its guards there too.

The main check decides guards on sizes >= 2: torch traces assuming sizes 0 and 1 do not occur.
The exported program, though, keeps a named Dim's ``min`` (``Dim("batch", min=1)`` is checked as
``[1, ...]``, the default ``min=0`` as ``[0, ...]``) and runs its checks on every such input: a
``torch._check(y.shape[0] >= 10)`` with ``y: 5*batch`` rejects ``batch = 1``, which the spec admits,
though it holds for every ``batch >= 2``. This module finds such a size: a spec point with some
named size 1 (size 0 is left out: a program with an empty dimension fails in its kernels whatever
its checks say) that fails a guard. AUTO/DYNAMIC sizes are torch's to choose (it keeps them >= 2),
so they stay at the example.

The program also checks the range torch derived for each data-dependent value, and that range can
rest on sizes >= 2 as well: ``torch._check(p + seqlen <= 64)`` leaves ``p <= 62``, which rejects
``seqlen = 1, p = 63`` although the model's own check accepts it (``unbacked_range_violation``).
"""

from __future__ import annotations

import sympy
import z3

from dimsolve.dims.model import DimKind
from dimsolve.guards.model import GuardKind, GuardRecord, SymbolInfo
from dimsolve.solver.budget import Outcome, make_solver
from dimsolve.solver.budget import check as run
from dimsolve.solver.check import GuardViolation
from dimsolve.solver.problem import Problem, root_var, translated_guards
from dimsolve.solver.terms import at_least, at_most, equals_affine, int_var
from dimsolve.solver.translate import Translator, Unsupported
from dimsolve.solver.existentials import exists


def _domain(problem: Problem) -> tuple[list[z3.BoolRef], list[z3.BoolRef]]:
    """(the spec's sizes with named sizes >= 1 instead of >= 2, the named sizes that can be 1)."""
    spec = problem.spec
    domain: list[z3.BoolRef] = []
    ones: list[z3.BoolRef] = []
    roots: set[str] = set()
    example = problem.example()
    for name in problem.vars:
        if name in problem.auto:
            continue  # torch's to choose: existential (``_holds``)
        entries = problem.entries_of.get(name, [])
        named = next((e for e in entries if e.dim.kind in (DimKind.ROOT, DimKind.DERIVED) and e.dim.root), None)
        static = next((e for e in entries if e.dim.kind is DimKind.STATIC), None)
        if named is not None and named.dim.root is not None:
            d = named.dim
            roots.add(d.root)
            domain += [equals_affine(name, f"root!{d.root}", d.coeff, d.offset), at_least(name, 1)]
            ones.append(int_var(name) == 1)
        elif static is not None:
            domain.append(equals_affine(name, None, 0, static.dim.value if static.dim.value is not None
                                        else static.example))
        elif name in example:
            domain.append(equals_affine(name, None, 0, example[name]))
    for r in roots:
        root = spec.roots.get(r)
        if root is not None:
            domain.append(root_var(r) >= root.min)
            if root.max is not None:
                domain.append(at_most(f"root!{r}", root.max))
    return domain, ones


def _holds(problem: Problem, guards: list[z3.BoolRef]) -> z3.BoolRef:
    """The guards hold for some choice of the AUTO/DYNAMIC sizes (>= 1)."""
    autos = list(problem.auto.values())
    return exists(autos, [*[a >= 1 for a in autos], *guards])


def size_one_violations(problem: Problem, timeout_ms: int) -> list[GuardViolation]:
    """The first guard that fails at a spec point with a named size of 1 (the guards before it
    holding there), with that point (symbol -> size, roots as ``root!name``), else a range check on
    a data-dependent value that fails there; [] when there is none or z3 cannot tell within the budget."""
    found = _guard_violations(problem, timeout_ms)
    if found:
        return found
    ranged = unbacked_range_violation(problem, timeout_ms)
    return [ranged] if ranged is not None else []


def _guard_violations(problem: Problem, timeout_ms: int) -> list[GuardViolation]:
    domain, ones = _domain(problem)
    guards = list(translated_guards(problem.guardset).guards)
    if not ones or not guards:
        return []
    solver = make_solver(timeout_ms)
    solver.add(*domain, z3.Or(*ones), z3.Not(_holds(problem, [g for _, g in guards])))
    if run(solver) is not Outcome.SAT:
        return []
    point = _point(problem, solver.model(), {})
    at_point = [v == point[n] for n, v in problem.vars.items() if n not in problem.auto and n in point]

    def fails(subset: list[int]) -> Outcome:
        blame = make_solver(timeout_ms)
        blame.add(*at_point, z3.Not(_holds(problem, [guards[j][1] for j in subset])))
        return run(blame)

    for i in range(len(guards)):
        outcome = fails(list(range(i + 1)))
        if outcome is Outcome.SAT:
            j = _blamed(guards, _core(fails, i))
            return [GuardViolation(guards[j][0], j, point)]
        if outcome is Outcome.UNKNOWN:
            break
    return []


def _point(problem: Problem, model: z3.ModelRef, extra: dict[str, z3.ArithRef]) -> dict[str, int]:
    """The named sizes, roots (``root!name``) and ``extra`` values of a z3 model."""
    named = [(n, v) for n, v in problem.vars.items() if n not in problem.auto]
    point = {}
    for name, var in named + [(f"root!{r}", root_var(r)) for r in problem.spec.roots] + list(extra.items()):
        value = model.eval(var, model_completion=True)
        if z3.is_int_value(value):
            point[name] = value.as_long()
    return point


def _range_bounds(info: SymbolInfo) -> list[sympy.Basic]:
    u = sympy.Symbol(info.name, integer=True)
    return ([u >= info.lower] if info.lower is not None else []) + ([u <= info.upper] if info.upper is not None else [])


def unbacked_range_violation(problem: Problem, timeout_ms: int) -> GuardViolation | None:
    """A spec point with a named size of 1 where the range check the program makes on a
    data-dependent value rejects a value its runtime asserts accept; None when there is none.

    Only a bound the asserts imply at every size >= 2 counts: that one torch derived from them under
    its tracing assumption. A bound they do not imply (a ``nonzero`` count <= a static numel) is
    knowledge of torch's that z3 does not have, never blamed on size 1."""
    gs = problem.guardset
    unbacked = {s.name: s for s in gs.symbols if not s.backed}
    bounded = [s for s in unbacked.values() if _range_bounds(s)]
    domain, ones = _domain(problem)
    if not bounded or not ones:
        return None
    env = {**problem.vars, **{n: int_var(n) for n in unbacked}}
    translator = Translator(env)
    asserts: list[tuple[GuardRecord, z3.BoolRef]] = []
    for g in gs.guards:
        if g.kind is GuardKind.RUNTIME_ASSERT and g.symbols & unbacked.keys() and g.symbols <= env.keys():
            try:
                asserts.append((g, translator.condition(g.expr)))
            except Unsupported:
                continue
    base = domain + [a >= 2 for a in problem.auto.values()] + [g for _, g in translated_guards(gs).guards]
    for info in bounded:
        own = [(g, c) for g, c in asserts if info.name in g.symbols]
        for bound in _range_bounds(info):
            broken = [*base, *(c for _, c in own), z3.Not(translator.condition(bound))]
            at_two = make_solver(timeout_ms)
            at_two.add(*broken, z3.Not(z3.Or(*ones)))
            if run(at_two) is not Outcome.UNSAT:
                continue
            at_one = make_solver(timeout_ms)
            at_one.add(*broken, z3.Or(*ones))
            if run(at_one) is not Outcome.SAT:
                continue
            # the user's check torch read the bound from: the first assert that also names a size
            origin = next((g.origin for g, _ in own if g.symbols - unbacked.keys() and g.origin), info.origin)
            point = _point(problem, at_one.model(), {n: env[n] for n in unbacked})
            return GuardViolation(GuardRecord(bound, GuardKind.RUNTIME_ASSERT, origin), -1, point)
    return None


def _core(fails, last: int) -> list[int]:
    """A minimal set of guards up to ``last`` (which it keeps) that fails together at the point:
    with an AUTO size in play no single guard may fail alone (``x - 1 == y`` holds for some x, and
    so does ``x - 1 != 1``), and the finding should name the one that rejects the size 1."""
    core = list(range(last + 1))
    for j in range(last - 1, -1, -1):
        trial = [k for k in core if k != j]
        if fails(trial) is Outcome.SAT:
            core = trial
    return core


def _blamed(guards: list, core: list[int]) -> int:
    """The guard of ``core`` to name: the first that is not a bare relation between sizes (a
    relation is the spec's to write, DS202's finding; the other guard is what size 1 breaks)."""
    for j in core:
        expr = guards[j][0].expr
        if not (isinstance(expr, sympy.Eq) and all(side.free_symbols for side in expr.args)):
            return j
    return core[-1]
