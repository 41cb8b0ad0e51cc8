"""From linear equalities to torch's Dim language: each user root becomes a constant, ``P*root + C``
of a (possibly new) root, or not expressible (left to ``Dim.AUTO``).

This is where "weakest fix" is decided for equalities: the spec's own relations and the model's
linear equality guards are solved together, so nothing is specialised that could stay related.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from dimsolve.dims.model import DimKind
from dimsolve.solver.linear import CONST, Elimination, LinExpr, eliminate, lin_from_sympy, substitute
from dimsolve.solver.problem import MIN_DYNAMIC_SIZE, Problem

SYM, ROOT = "S:", "R:"


@dataclass(frozen=True)
class Affine:
    """``coeff*param + offset``; ``param`` None means the constant ``offset``."""

    param: str | None
    coeff: int = 0
    offset: int = 0


@dataclass
class Parametrisation:
    """The solved system: every user root and every non-AUTO symbol as an ``Affine``."""

    roots: dict[str, Affine]  # user root -> its value ("auto" roots are absent, listed in ``auto_roots``)
    symbols: dict[str, Affine]
    auto_roots: list[str]
    params: dict[str, int]  # final root name -> example value
    new_params: set[str] = field(default_factory=set)
    consumed: set[int] = field(default_factory=set)  # indices of guards implied by the equalities
    # elimination free variable -> (final root, lattice m, residue r0, shift): t = m*(root - shift) + r0
    groups: dict[str, tuple[str, int, int, int]] = field(default_factory=dict)


def user_roots(problem: Problem) -> list[str]:
    seen: list[str] = []
    for name, entries in problem.entries_of.items():
        for e in entries:
            if e.dim.root and e.dim.root not in seen and e.dim.kind in (DimKind.ROOT, DimKind.DERIVED):
                seen.append(e.dim.root)
    order = {e.dim.root: i for i, e in reversed(list(enumerate(problem.spec.entries))) if e.dim.root}
    return sorted(seen, key=lambda r: order.get(r, 0))


def root_examples(problem: Problem) -> dict[str, int]:
    out: dict[str, int] = {}
    example = problem.example()
    for name, entries in problem.entries_of.items():
        for e in entries:
            if e.dim.root and e.dim.root not in out and name in example:
                out[e.dim.root] = (example[name] - e.dim.offset) // e.dim.coeff
    return out


def _equations(problem: Problem, extra_guards: bool = True,
               as_equal: frozenset[int] = frozenset()) -> tuple[list[LinExpr], list[int]]:
    """Spec equations first, then guard equalities; returns the guard index of each guard equation.

    ``as_equal``: linear inequalities to hold as the equality they are at the example
    (``x0 <= y0`` with both 2: ``y0 = x0``), a relation that keeps both sizes dynamic where a range
    would have to pin one of them."""
    eqs: list[LinExpr] = []
    for name in problem.vars:
        if name in problem.auto:
            continue
        entries = problem.entries_of.get(name, [])
        if not entries:
            eqs.append({SYM + name: Fraction(1), CONST: Fraction(-problem.example()[name])})
        for e in entries:
            if e.dim.kind is DimKind.STATIC:
                eqs.append({SYM + name: Fraction(1), CONST: Fraction(-(e.dim.value if e.dim.value is not None else e.example))})
            elif e.dim.root:
                eqs.append({SYM + name: Fraction(1), ROOT + e.dim.root: Fraction(-e.dim.coeff), CONST: Fraction(-e.dim.offset)})
    guard_index: list[int] = []
    allowed = {n for n in problem.vars if n not in problem.auto}
    statics = static_sizes(problem)
    for i, (record, _) in enumerate(problem.guards):
        # with x static (4), Eq(x*y, z) is the linear Eq(4*y, z)
        expr = without_small_size_cases(record.expr.xreplace(
            {s: statics[s.name] for s in record.expr.free_symbols if s.name in statics}))
        if not extra_guards or not (isinstance(expr, sympy.Equality) or i in as_equal):
            continue
        lin = lin_from_sympy(expr.lhs - expr.rhs, allowed)
        if lin is not None and i in as_equal:
            lin = _at_example(lin, problem.example())
        if lin is not None:
            eqs.append({(k if k == CONST else SYM + k): v for k, v in lin.items()})
            guard_index.append(i)
    return eqs, guard_index


def _at_example(lin: LinExpr, example: dict[str, int]) -> LinExpr | None:
    """``lin - lin(example)``: zero at the example (None if a symbol has no example size)."""
    if any(k != CONST and k not in example for k in lin):
        return None
    value = sum((v * example[k] for k, v in lin.items() if k != CONST), Fraction(0))
    return {k: v for k, v in lin.items() if k != CONST} | ({CONST: -value} if value else {})


def linear_inequalities(problem: Problem, indices: set[int]) -> frozenset[int]:
    """The guards among ``indices`` that are linear inequalities between two or more sizes
    (candidates for ``as_equal``)."""
    allowed = {n for n in problem.vars if n not in problem.auto}
    out = set()
    for i in indices:
        expr = problem.guards[i][0].expr
        if not isinstance(expr, (sympy.LessThan, sympy.StrictLessThan, sympy.GreaterThan, sympy.StrictGreaterThan)):
            continue
        lin = lin_from_sympy(expr.lhs - expr.rhs, allowed)
        if lin is not None and len([k for k in lin if k != CONST]) >= 2:
            out.add(i)
    return frozenset(out)


def static_sizes(problem: Problem) -> dict[str, sympy.Integer]:
    """Symbols the spec fixes to one size (ints, None, Dim.STATIC)."""
    out = {}
    for name, entries in problem.entries_of.items():
        for e in entries:
            if e.dim.kind is DimKind.STATIC:
                out[name] = sympy.Integer(e.dim.value if e.dim.value is not None else e.example)
    return out


def without_small_size_cases(expr: sympy.Basic) -> sympy.Basic:
    """Drop the disjuncts of a broadcasting guard that need a size of 0 or 1 (``Eq(y, 1)``): sizes
    the spec makes dynamic are >= 2, so ``Or(Eq(x, y), Eq(y, 1))`` means ``Eq(x, y)``."""
    if not isinstance(expr, sympy.Or):
        return expr
    kept = [a for a in expr.args if not (isinstance(a, sympy.Equality) and _small_size_case(a))]
    return sympy.Or(*kept) if kept else expr


def _small_size_case(eq: sympy.Equality) -> bool:
    sides = eq.args
    return any(isinstance(a, sympy.Symbol) and b.is_Integer and int(b) < 2 for a, b in (sides, sides[::-1]))


def _as_affine(expr: LinExpr) -> tuple[str | None, Fraction, Fraction] | None:
    vars_ = [v for v in expr if v != CONST]
    if len(vars_) > 1:
        return None
    if not vars_:
        return None, Fraction(0), expr.get(CONST, Fraction(0))
    return vars_[0], expr[vars_[0]], expr.get(CONST, Fraction(0))


def _lattice(members: list[tuple[Fraction, Fraction]]) -> int:
    m = 1
    for p, _ in members:
        m = math.lcm(m, p.denominator)
    return m


def solve_equalities(problem: Problem, as_equal: frozenset[int] = frozenset()) -> tuple[Elimination, set[int]] | None:
    roots = user_roots(problem)
    eqs, guard_index = _equations(problem, as_equal=as_equal)
    order = [SYM + n for n in problem.vars] + [ROOT + r for r in reversed(roots)]
    elim, _ = eliminate(eqs, order)
    if elim.inconsistent:
        return None
    sums = _sum_pivots(elim)
    if sums:  # solve for the sum instead: kv = q + past holds for every q, past; past = kv - q does not
        elim, _ = eliminate(eqs, order[:len(problem.vars)] + sums + [v for v in order[len(problem.vars):]
                                                                      if v not in sums])
    return elim, set(guard_index)


def _sum_pivots(elim: Elimination) -> list[str]:
    """Roots to solve for first so that a root defined by several others is their positive sum:
    ``past = kv - q`` (a difference, valid only where kv > q) becomes ``kv = q + past``."""
    out: list[str] = []
    for var, expr in elim.solved.items():
        roots = {v: c for v, c in expr.items() if v.startswith(ROOT)}
        if not var.startswith(ROOT) or len(roots) < 2:
            continue
        positive = [v for v, c in roots.items() if c > 0]
        if len(positive) == 1 and roots[positive[0]] == 1 and positive[0] not in out:
            out.append(positive[0])
    return out


def mod_periods(problem: Problem, elim: Elimination, param: str, violated: set[int], floordiv: bool = False) -> int:
    """Extra lattice period for ``param`` from ``Mod(a*x + ..., k)`` atoms of violated guards.

    With ``floordiv``, ``FloorDiv(a*x + ..., k)`` atoms count too: on the lattice they are linear,
    which decides guards such as ``Eq(2*FloorDiv(x, 2), x)`` (x even) without specialising.
    """
    kinds = ("Mod", "PythonMod", "FloorDiv") if floordiv else ("Mod", "PythonMod")
    period = 1
    allowed = {n for n in problem.vars if n not in problem.auto}
    constants = {sym: int(expr[CONST]) for sym, expr in elim.solved.items()
                 if sym.startswith(SYM) and set(expr) <= {CONST} and expr.get(CONST, Fraction(0)).denominator == 1}
    for i in violated:
        guard = problem.guards[i][0].expr
        if not floordiv and not isinstance(guard, sympy.Equality):
            continue  # ``Mod(z, 5) != 0`` is better served by a range; the lattice is the fallback
        known = {s: sympy.Integer(constants[SYM + s.name]) for s in guard.free_symbols if SYM + s.name in constants}
        for atom in guard.xreplace(known).atoms(sympy.Function):
            if type(atom).__name__ not in kinds or not atom.args[1].is_Integer:
                continue
            lin = lin_from_sympy(atom.args[0], allowed)
            if lin is None:
                continue
            arg = substitute({(k if k == CONST else SYM + k): v for k, v in lin.items()}, elim.solved)
            coeff = arg.get(ROOT + param)
            # Mod(a*t + c*u + b, k): fixing t mod k/gcd(a, k) (and likewise u, in its own group)
            # keeps the remainder at the example's value, and keeps t and u dynamic
            if coeff is not None and all(v.denominator == 1 for v in arg.values()):
                k = int(atom.args[1])
                period = math.lcm(period, k // math.gcd(int(coeff), k))
    return period


def _choose_base(members: dict[str, tuple[int, int]], roots_in_order: list[str], t: str) -> tuple[str, bool, int]:
    """Pick the final root of a group: a user root with coefficient 1 if there is one (the earliest),
    else a new root ``_<t>``. Returns (name, is_new, shift) where ``param = name + shift``."""
    # a user root with coefficient 1, preferring one that leaves no negative offset: torch 2.13
    # crashes (KeyError: 'max') on ``dx - 1`` when dx is unbounded, and ``dx + 1`` reads better
    candidates = [r for r in roots_in_order if r in members and members[r][0] == 1]
    for r in candidates:
        if all(c - p * members[r][1] >= 0 for p, c in members.values()):
            return r, False, members[r][1]
    if candidates:
        return candidates[0], False, members[candidates[0]][1]
    # a new root: shift so that as many members as possible have offset 0
    best_shift, best_count = 0, -1
    for p, c in members.values():
        if c % p == 0:
            count = sum(1 for p2, c2 in members.values() if c2 - p2 * (c // p) == 0)
            if count > best_count:
                best_shift, best_count = c // p, count
    return "_" + t, True, best_shift


def parametrise(problem: Problem, violated: set[int], floordiv: bool = False,
                as_equal: frozenset[int] = frozenset()) -> Parametrisation | None:
    """Solve spec and guard equalities together and express every user root in Dim language."""
    solved = solve_equalities(problem, as_equal)
    if solved is None:
        return None
    elim, consumed = solved
    roots = user_roots(problem)
    examples = root_examples(problem)
    result = Parametrisation({}, {}, [], {}, consumed=consumed)
    groups: dict[str, list[str]] = {}
    defined = defined_by_guards(problem, elim, consumed)
    result.auto_roots.extend(defined)
    for r in roots:
        if r in defined:
            continue
        affine = _as_affine(elim.value_of(ROOT + r))
        if affine is None:
            result.auto_roots.append(r)
        elif affine[0] is None:
            result.roots[r] = Affine(None, 0, int(affine[2]))
        elif affine[1] < 0:
            result.auto_roots.append(r)
        else:
            groups.setdefault(affine[0][len(ROOT):], []).append(r)
    for t, members in groups.items():
        _parametrise_group(problem, elim, t, members, roots, examples, violated, result, floordiv)
    _symbols_affine(problem, elim, result)
    # an equality that defines a dim left to Dim.AUTO still constrains the others (z = x - y >= 2)
    result.consumed = {i for i in result.consumed if problem.guards[i][0].symbols <= set(result.symbols)}
    return result


def _parametrise_group(problem: Problem, elim: Elimination, t: str, members: list[str], roots: list[str],
                       examples: dict[str, int], violated: set[int], result: Parametrisation, floordiv: bool) -> None:
    exprs = {r: _as_affine(elim.value_of(ROOT + r)) for r in members}
    m = _lattice([(a[1], a[2]) for a in exprs.values() if a])
    m = math.lcm(m, mod_periods(problem, elim, t, violated, floordiv))
    t0 = examples.get(t, 0)
    r0 = t0 % m
    # t = m*u + r0, so member = p*(m*u + r0) + c
    in_u = {r: (int(a[1] * m), int(a[1] * r0 + a[2])) for r, a in exprs.items() if a}
    name, is_new, shift = _choose_base(in_u, roots, t)
    u0 = (t0 - r0) // m
    if is_new and u0 + shift < MIN_DYNAMIC_SIZE:
        # torch specialises a root whose example value is 0 or 1 (``2*_dx + 1`` at x = 3), so the
        # new root is shifted to be >= 2 at the example: ``2*_dx - 1`` with _dx = 2
        shift += MIN_DYNAMIC_SIZE - (u0 + shift)
    # param = u + shift  =>  u = param - shift
    final = {r: Affine(name, p, c - p * shift) for r, (p, c) in in_u.items()}
    result.roots.update(final)
    result.params[name] = u0 + shift
    result.groups[t] = (name, m, r0, shift)
    if is_new:
        result.new_params.add(name)


def _symbols_affine(problem: Problem, elim: Elimination, result: Parametrisation) -> None:
    """Each non-AUTO symbol in terms of the final roots (via the elimination's free variables)."""
    mapping = result.groups
    for name in problem.vars:
        if name in problem.auto:
            continue
        affine = _as_affine(elim.value_of(SYM + name))
        if affine is None:
            continue
        var, p, c = affine
        if var is None:
            result.symbols[name] = Affine(None, 0, int(c))
            continue
        t = var[len(ROOT):]
        if t not in mapping or p < 0:
            continue
        pname, m, r0, shift = mapping[t]
        coeff, offset = p * m, p * r0 + c - p * m * shift
        if coeff.denominator == 1 and offset.denominator == 1:
            result.symbols[name] = Affine(pname, int(coeff), int(offset))


def _single_symbol_root(problem: Problem, sym: str) -> str | None:
    """The user root that names ``sym`` and nothing else (so leaving it to Dim.AUTO loses no relation)."""
    entries = problem.entries_of.get(sym, [])
    roots = {e.dim.root for e in entries if e.dim.is_named}
    if len(roots) != 1 or len(entries) != len([e for e in entries if e.dim.is_named]):
        return None
    root = next(iter(roots))
    users = {n for n, es in problem.entries_of.items() for e in es if e.dim.root == root}
    return root if users == {sym} else None


def unit_linear_symbols(diff: sympy.Expr) -> set[sympy.Symbol]:
    """Symbols ``s`` with ``diff == ±s + (terms without s)``: the ones the equality solves for.

    Read off the additive terms as written (no ``expand``/``diff``: those dominated fix synthesis
    on large GuardSets full of ``Mod``/``FloorDiv`` equalities)."""
    terms = sympy.Add.make_args(diff)
    bare = [t if isinstance(t, sympy.Symbol) else t.args[1] for t in terms
            if isinstance(t, sympy.Symbol)
            or (isinstance(t, sympy.Mul) and len(t.args) == 2 and t.args[0] == -1 and isinstance(t.args[1], sympy.Symbol))]
    out = set()
    for sym in bare:
        if sum(1 for t in terms if sym in t.free_symbols) == 1:
            out.add(sym)
    return out


def defined_by_guards(problem: Problem, elim: Elimination, consumed: set[int]) -> list[str]:
    """Roots a non-linear equality defines outright (``Eq(x*y, z)`` defines z's root).

    Torch's Dim language cannot write ``dz = dx*dy``; ``Dim.AUTO`` lets export infer it, which keeps
    every dimension dynamic instead of specialising all three.
    """
    defined: list[str] = []
    implied = problem.implied
    for i, (record, _) in enumerate(problem.guards):
        expr = record.expr
        if i in consumed or record in implied or not isinstance(expr, sympy.Equality):
            continue
        unit = unit_linear_symbols(expr.lhs - expr.rhs)
        if not unit or any(a.name in problem.auto for a in unit):
            continue  # nothing to solve for, or a Dim.AUTO size absorbs it (x - 1 == y, y AUTO)
        for sym in sorted(unit, key=lambda u: u.name):
            root = _single_symbol_root(problem, sym.name)
            if root is None or root in defined:
                continue
            free = [v for v in elim.value_of(ROOT + root) if v != CONST]
            group = [r for r in user_roots(problem) if r != root and ROOT + root in elim.value_of(ROOT + r)]
            if free == [ROOT + root] and not group:
                defined.append(root)
                break
    return defined
