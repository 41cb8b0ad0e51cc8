"""A brute-force oracle for the solver tests: what a spec admits and whether it is valid, by enumeration.

Independent of dimsolve's z3 translation: guards are compiled to numpy code with Python's integer
semantics (``//`` and ``%`` round towards -inf), and a spec's admitted sizes are enumerated root by
root over bounded ranges. A root with no upper bound is enumerated up to ``cap`` only, so an answer
about such a spec holds on the capped range.

Semantics (DESIGN.md, "What valid and fix mean"; solver/problem.py): a spec admits every assignment of
root values within their ranges such that each named (ROOT/DERIVED) size ``coeff*root + offset`` is
>= 2 and each static size equals its value; ``Dim.AUTO`` sizes (>= 2) are existential, "whatever makes
the guards hold". The spec is valid iff every admitted assignment satisfies every guard.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy
from sympy.logic.boolalg import BooleanFalse, BooleanTrue

from dimsolve.dims.model import DimKind, DimPath, InputPath, Spec, SpecEntry
from dimsolve.guards.model import GuardRecord, GuardSet, SymbolInfo

MIN_DYNAMIC_SIZE = 2
DEFAULT_CAP = 40
AUTO_CAP = 200
INPUTS = ("x", "y", "z", "w")

# torch's FloorDiv/CeilDiv, recognised by dimsolve by class *name*: an undefined sympy function stands in
FloorDiv = sympy.Function("FloorDiv")
CeilDiv = sympy.Function("CeilDiv")
PythonMod = sympy.Function("PythonMod")


def sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, integer=True)


# --- guards as numpy functions ---------------------------------------------------------------------

_REL = {
    sympy.Equality: "==", sympy.Unequality: "!=", sympy.StrictLessThan: "<",
    sympy.LessThan: "<=", sympy.StrictGreaterThan: ">", sympy.GreaterThan: ">=",
}


def _code(expr: sympy.Basic) -> str:
    if isinstance(expr, BooleanTrue):
        return "True"
    if isinstance(expr, BooleanFalse):
        return "False"
    if isinstance(expr, sympy.Integer):
        return f"({int(expr)})"
    if isinstance(expr, sympy.Symbol):
        return f"E[{expr.name!r}]"
    if isinstance(expr, sympy.Add):
        return "(" + " + ".join(_code(a) for a in expr.args) + ")"
    if isinstance(expr, sympy.Mul):
        if any(isinstance(a, sympy.Rational) and not isinstance(a, sympy.Integer) for a in expr.args):
            raise ValueError(f"oracle: non-integer coefficient in {expr}")
        return "(" + " * ".join(_code(a) for a in expr.args) + ")"
    if isinstance(expr, sympy.Pow):
        base, exp = expr.args
        if not (isinstance(exp, sympy.Integer) and int(exp) >= 0):
            raise ValueError(f"oracle: exponent in {expr}")
        return f"({_code(base)} ** {int(exp)})"
    if type(expr) in _REL:
        lhs, rhs = expr.args
        return f"({_code(lhs)} {_REL[type(expr)]} {_code(rhs)})"
    if isinstance(expr, sympy.And):
        return "_and([" + ", ".join(_code(a) for a in expr.args) + "])"
    if isinstance(expr, sympy.Or):
        return "_or([" + ", ".join(_code(a) for a in expr.args) + "])"
    if isinstance(expr, sympy.Not):
        return f"_not({_code(expr.args[0])})"
    name = type(expr).__name__
    if name == "FloorDiv":
        return f"_fd({_code(expr.args[0])}, {_code(expr.args[1])})"
    if name == "CeilDiv":
        return f"(-_fd(-{_code(expr.args[0])}, {_code(expr.args[1])}))"
    if name in ("Mod", "PythonMod"):
        return f"_mod({_code(expr.args[0])}, {_code(expr.args[1])})"
    if name in ("floor", "ceiling"):
        num, den = sympy.fraction(sympy.together(expr.args[0]))
        if not isinstance(den, sympy.Integer) or den == 0:
            raise ValueError(f"oracle: {expr}")
        if name == "floor":
            return f"_fd({_code(sympy.expand(num))}, {int(den)})"
        return f"(-_fd(-{_code(sympy.expand(num))}, {int(den)}))"
    if name in ("Min", "Max"):
        fn = "_min" if name == "Min" else "_max"
        out = _code(expr.args[0])
        for a in expr.args[1:]:
            out = f"{fn}({out}, {_code(a)})"
        return out
    raise ValueError(f"oracle: no evaluation for {name}: {expr}")


_NUMPY = {
    "_and": lambda xs: functools.reduce(np.logical_and, xs), "_or": lambda xs: functools.reduce(np.logical_or, xs),
    "_not": np.logical_not,
    "_fd": np.floor_divide, "_mod": np.mod, "_min": np.minimum, "_max": np.maximum,
}
# exact Python integers, for single points whose values may not fit int64
_PYTHON = {
    "_and": all, "_or": any, "_not": lambda a: not a,
    "_fd": lambda a, b: a // b, "_mod": lambda a, b: a % b, "_min": min, "_max": max,
}


def compile_guard(expr: sympy.Basic) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    """``expr`` as a function of ``{symbol name: int64 array}`` to a bool array (broadcasting)."""
    src = f"lambda E: np.asarray({_code(expr)}, dtype=bool)"
    return eval(src, {"np": np, **_NUMPY})  # noqa: S307 - our own generated code over our own expressions


def holds(expr: sympy.Basic, point: Mapping[str, int]) -> bool:
    """``expr`` at one point, with Python's unbounded integers."""
    src = f"lambda E: bool({_code(expr)})"
    return eval(src, dict(_PYTHON))({k: int(v) for k, v in point.items()})  # noqa: S307


# --- building GuardSets and Specs by hand ------------------------------------------------------------


def path_of(i: int) -> DimPath:
    return DimPath(InputPath((INPUTS[i],)), 0)


def guardset(examples: Sequence[int], guards: Sequence[sympy.Basic]) -> GuardSet:
    """Symbol ``s<i>`` stands for ``<INPUTS[i]>.shape[0]`` with example size ``examples[i]``."""
    symbols = tuple(SymbolInfo(f"s{i}", (path_of(i),), ex, True) for i, ex in enumerate(examples))
    return GuardSet(symbols, tuple(GuardRecord(g) for g in guards))


def entry(i: int, dim, example: int) -> SpecEntry:
    return SpecEntry(path_of(i), f'dynamic_shapes["{INPUTS[i]}"][0]', dim, example)


# --- enumerating what a spec admits ------------------------------------------------------------------


class Unbounded(Exception):
    """The enumeration would be too large (a guard against accidental huge grids)."""


@dataclass
class Admitted:
    """Admitted points: ``universal[name]`` arrays of shape (N, 1), ``auto[name]`` of shape (1, M)."""

    universal: dict[str, np.ndarray]
    n: int
    auto: dict[str, np.ndarray]
    m: int
    auto_bounds: dict[str, tuple[int, int | None]]  # each AUTO size's own range (>= 2, the hint's max)

    def env(self) -> dict[str, np.ndarray]:
        return {**self.universal, **self.auto}


def _root_range(spec: Spec, name: str, cap: int) -> range:
    root = spec.roots.get(name)
    if root is None:
        raise AssertionError(f"spec uses root {name!r} but does not define its range: {spec.roots}")
    hi = root.max if root.max is not None else max(cap, root.min)
    return range(root.min, hi + 1)


def admitted(spec: Spec, gs: GuardSet, cap: int = DEFAULT_CAP, auto_cap: int = AUTO_CAP,
             budget: int = 4_000_000) -> Admitted:
    """Every size assignment the spec admits (universal part, filtered) and the AUTO sizes' domain."""
    roots = sorted({e.dim.root for e in spec.entries if e.dim.is_named and e.dim.root})
    axes = {r: _root_range(spec, r, cap) for r in roots}
    auto: list[str] = []
    entries_of: dict[str, list[SpecEntry]] = {}
    for e in spec.entries:
        info = gs.symbol_for(e.path)
        if info is None or not info.backed:
            continue
        entries_of.setdefault(info.name, []).append(e)
    for name, es in entries_of.items():
        kinds = {e.dim.kind for e in es}
        if kinds == {DimKind.AUTO}:
            auto.append(name)
        elif DimKind.DYNAMIC in kinds and len(kinds) == 1:  # Dim.DYNAMIC: universal, enumerated directly
            d = es[0].dim
            axes["#" + name] = range(max(d.min or 0, MIN_DYNAMIC_SIZE), (d.max if d.max is not None else cap) + 1)
    size = int(np.prod([len(a) for a in axes.values()])) if axes else 1
    if size > budget:
        raise Unbounded(f"{size} points")
    keys = list(axes)
    if keys:
        grids = np.meshgrid(*[np.arange(a.start, a.stop, dtype=np.int64) for a in axes.values()], indexing="ij")
        values = {k: g.reshape(-1) for k, g in zip(keys, grids)}
    else:
        values = {}
    n = size
    mask = np.ones(n, dtype=bool)
    sizes: dict[str, np.ndarray] = {}
    for s in gs.symbols:
        if not s.backed:
            continue
        es = entries_of.get(s.name)
        if not es:
            sizes[s.name] = np.full(n, s.example, dtype=np.int64)  # not covered by the spec: keeps its example
            continue
        if s.name in auto:
            continue
        for e in es:
            d = e.dim
            if d.kind is DimKind.STATIC:
                v = np.full(n, d.value if d.value is not None else e.example, dtype=np.int64)
            elif d.is_named:
                v = d.coeff * values[d.root] + d.offset
                mask &= v >= MIN_DYNAMIC_SIZE
            elif d.kind is DimKind.DYNAMIC:
                v = values["#" + s.name]
            else:  # AUTO aliased with a named entry: constrained by the other entries
                continue
            if s.name in sizes:
                mask &= sizes[s.name] == v
            else:
                sizes[s.name] = v
    universal = {k: v[mask].reshape(-1, 1) for k, v in sizes.items()}
    n = int(mask.sum())
    # a smaller AUTO domain can only add violations, and ``violating_point`` re-checks those on a wide one
    if auto:
        auto_cap = max(MIN_DYNAMIC_SIZE, min(auto_cap, int((budget / max(n, 1)) ** (1 / len(auto)))))
    auto_axes = []
    auto_bounds: dict[str, tuple[int, int | None]] = {}
    for name in auto:
        d = entries_of[name][0].dim
        auto_bounds[name] = (max(d.min or 0, MIN_DYNAMIC_SIZE), d.max)
        top = min(d.max, auto_cap) if d.max is not None else auto_cap
        auto_axes.append(np.arange(auto_bounds[name][0], top + 1))
    if auto_axes:
        grids = np.meshgrid(*auto_axes, indexing="ij")
        autos = {k: g.reshape(1, -1) for k, g in zip(auto, grids)}
        m = grids[0].size
    else:
        autos, m = {}, 1
    if n * m > budget:
        raise Unbounded(f"{n}x{m} points")
    return Admitted(universal, n, autos, m, auto_bounds)


def admits_point(spec: Spec, gs: GuardSet, point: Mapping[str, int], cap: int = DEFAULT_CAP) -> bool:
    """Does the spec admit this assignment of sizes (AUTO sizes: any size >= 2 within its hint)?"""
    adm = admitted(spec, gs, cap)
    ok = np.ones(adm.n, dtype=bool)
    for name, arr in adm.universal.items():
        ok &= arr[:, 0] == point[name]
    for name, (lo, hi) in adm.auto_bounds.items():
        if name in point and not (lo <= point[name] and (hi is None or point[name] <= hi)):
            return False
    return bool(ok.any())


def guard_matrix(adm: Admitted, guards: Sequence[sympy.Basic]) -> list[np.ndarray]:
    env = adm.env()
    return [np.broadcast_to(compile_guard(g)(env), (adm.n, adm.m)) for g in guards]


def violating_point(spec: Spec, gs: GuardSet, cap: int = DEFAULT_CAP) -> dict[str, int] | None:
    """An admitted assignment for which no AUTO sizes satisfy every guard; None if the spec is valid."""
    adm = admitted(spec, gs, cap)
    guards = [g.expr for g in gs.backed_guards()]
    if adm.n == 0:
        return None
    ok = np.ones((adm.n, adm.m), dtype=bool)
    for m in guard_matrix(adm, guards):
        ok &= m
    for index in np.flatnonzero(~ok.any(axis=1)):
        point = {k: int(v[index, 0]) for k, v in adm.universal.items()}
        if not adm.auto or not _auto_solution(adm, point, guards, budget=2_000_000):
            return point
    return None


def _auto_solution(adm: Admitted, point: Mapping[str, int], guards: Sequence[sympy.Basic], budget: int) -> bool:
    """Re-check one point over a much wider range of the AUTO sizes than ``auto_cap`` (no false alarms)."""
    k = len(adm.auto)
    top = min(10**5, int(budget ** (1 / k)))
    axes = [np.arange(lo, (top if hi is None else min(hi, top)) + 1, dtype=np.int64) for lo, hi in adm.auto_bounds.values()]
    grids = np.meshgrid(*axes, indexing="ij")
    env = {name: np.int64(v) for name, v in point.items()}
    env.update({name: g.reshape(-1) for name, g in zip(adm.auto, grids)})
    ok = np.ones(grids[0].size, dtype=bool)
    for g in guards:
        ok &= np.broadcast_to(compile_guard(g)(env), ok.shape)
    return bool(ok.any())


def solver_guards(gs: GuardSet) -> list[sympy.Basic]:
    """The backed guards the solver is given, in trace order: one-symbol bounds merged per size
    (``solver.bounds``: a bound implied by a tighter one, and a repeated guard, are left out)."""
    from dimsolve.solver.bounds import merge_bounds

    return [g.expr for g in merge_bounds(gs.backed_guards()).kept]


def blamed(spec: Spec, gs: GuardSet, cap: int = DEFAULT_CAP) -> set[int]:
    """Guards (indices among ``solver_guards``) some admitted point violates with every earlier guard holding.

    Only for specs without Dim.AUTO (check.py's blame is per guard in trace order, earlier ones assumed).
    """
    adm = admitted(spec, gs, cap)
    assert not adm.auto
    out: set[int] = set()
    earlier = np.ones((adm.n, adm.m), dtype=bool)
    for i, m in enumerate(guard_matrix(adm, solver_guards(gs))):
        if np.any(earlier & ~m):
            out.add(i)
        earlier = earlier & m
    return out


def root_names(spec: Spec) -> list[str]:
    return sorted({e.dim.root for e in spec.entries if e.dim.is_named and e.dim.root})


def point_text(point: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(point.items()))
