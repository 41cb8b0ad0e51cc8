"""Which violated guards make torch.export raise, and which it narrows silently (torch 2.13).

dimsolve's codes promise what torch does (docs/codes): DS201 DS202 DS301 DS401 DS501 say "torch.export
raises", DS302 says "torch.export succeeds, the program rejects admitted inputs at run time". This module
replays, on plain sympy, the part of torch's ``ShapeEnv`` that decides between the two
(``produce_guards_verbose`` and ``_refine_ranges`` / ``_maybe_guard_rel`` in
``torch/fx/experimental/symbolic_shapes.py``, ``_process_equalities`` in ``torch/export/dynamic_shapes.py``):

- torch gives one symbol to each named root. When some input uses the root directly (``x: d``) that
  symbol is the input's and carries the Dim's range as a *constraint*. When every use is derived
  (``x: d + 1``), torch makes a "phantom" symbol for the root and replaces the input's own symbol with
  ``phantom + 1`` when the input's example is larger than the root's (``x: d - 3`` keeps the input's own,
  constrained, symbol). ``Dim.AUTO``/``Dim.DYNAMIC`` symbols carry no range constraint.
- torch raises when a constrained symbol's range ends up narrower than the spec's: a guard on that symbol
  alone (``x.shape[0] <= 5``, ``x.shape[0] % 2 == 0``, ``x.shape[0] != 1``), or a linear guard over
  several symbols, which torch solves for each symbol with unit coefficient and bounds by the others'
  ranges (``x + y <= 7`` bounds ``x <= 5``). Non-linear and modular guards over several symbols are never
  solved: torch keeps them as run-time checks (silent).
- A linear equality over several symbols replaces the symbol with the largest example by the others;
  when exactly one constrained symbol is left, the spec did not state that relation and torch raises
  ("must always be equal/related"); otherwise the inputs are silently tied.
- A linear equality (or a range) that pins a phantom root to one value turns its derived inputs into
  constants: torch raises ("specialized it to be a constant").
- A guard the spec satisfies still makes torch raise when it is about one constrained symbol and torch's
  value ranges cannot decide it (``x % (x - 1) != 0`` for ``x >= 3``).

``tests/export/test_export_torch_behaviour.py`` pins each rule against real ``torch.export``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy

from dimsolve.dims.model import DimKind, SpecEntry
from dimsolve.solver.problem import Problem
from dimsolve.solver.params import without_small_size_cases
from dimsolve.solver.synthesis import effective_box

Range = tuple[int | None, int | None]  # None: unbounded


@dataclass
class _Symbol:
    constrained: bool  # torch checks this symbol's range against the spec
    phantom: bool  # a named root no input uses directly: pinning it makes derived inputs constant
    hint: int  # the example value torch orders replacements by
    spec: Range


def _root_symbol(problem: Problem, root: str) -> _Symbol:
    users = [e for e in problem.spec.users_of(root) if e.dim.is_named]
    value = problem.spec.root_example(root) or 0
    spec = effective_box(problem, root)
    if problem.spec.used_directly(root):
        return _Symbol(True, False, value, spec)
    smallest = min((e.example for e in users), default=value + 1)
    # the larger of (input, phantom) is replaced; a tie keeps the input's constrained symbol
    if smallest <= value:
        return _Symbol(True, False, smallest, spec)
    return _Symbol(False, True, value, spec)


def _entry_expr(entry: SpecEntry, sym: str, static: Mapping[str, int]) -> tuple[sympy.Expr, str | None]:
    d = entry.dim
    if d.kind is DimKind.STATIC:
        return sympy.Integer(d.value if d.value is not None else entry.example), None
    if d.kind in (DimKind.ROOT, DimKind.DERIVED) and d.root is not None:
        root = sympy.Integer(static[d.root]) if d.root in static else sympy.Symbol(f"root!{d.root}", integer=True)
        return d.coeff * root + d.offset, None
    return sympy.Symbol(f"free!{sym}", integer=True), sym


def _spec_symbols(problem: Problem, static: Mapping[str, int]) -> tuple[dict[str, sympy.Expr], dict[sympy.Symbol, _Symbol]]:
    """Each traced symbol (by name) as torch sees it under the spec (``static`` roots fixed), and torch's symbols."""
    subst: dict[str, sympy.Expr] = {}
    symbols: dict[sympy.Symbol, _Symbol] = {}
    for root in problem.spec.roots:
        symbols[sympy.Symbol(f"root!{root}", integer=True)] = _root_symbol(problem, root)
    for info in problem.guardset.symbols:
        entries = problem.entries_of.get(info.name, [])
        if not entries:
            subst[info.name] = sympy.Integer(info.example or 0)
            continue
        entry = next((e for e in entries if e.dim.is_named), entries[0])
        expr, free = _entry_expr(entry, info.name, static)
        subst[info.name] = expr
        if free is not None:
            lo = max(entry.dim.min or 0, 2)
            symbols[expr] = _Symbol(False, False, entry.example, (lo, entry.dim.max))  # type: ignore[index]
    return subst, symbols


def _is_linear(diff: sympy.Expr) -> bool:
    if diff.atoms(sympy.Function) or not diff.is_polynomial(*diff.free_symbols):
        return False
    return sympy.Poly(diff, *diff.free_symbols).total_degree() <= 1


def _narrowed(new: Range, spec: Range) -> bool:
    lo_narrow = new[0] is not None and (spec[0] is None or new[0] > spec[0])
    hi_narrow = new[1] is not None and (spec[1] is None or new[1] < spec[1])
    return lo_narrow or hi_narrow


def _solve_bound(rel: sympy.Rel, diff: sympy.Expr, s: sympy.Symbol, ranges: Mapping[sympy.Symbol, Range]) -> Range | None:
    """Refine ``s`` from ``diff REL 0`` as torch's ``_refine_ranges`` does: only where ``s`` appears
    linearly, outside any function, and solving keeps integer coefficients."""
    c = diff.coeff(s)
    if not c.is_Integer or c == 0 or (diff - c * s).has(s):
        return None
    c = int(c)
    rest = -(diff - c * s) / c  # s REL' rest
    if not all(k.is_integer for k in rest.as_coefficients_dict().values()):
        return None
    lo, hi = _interval(sympy.expand(rest), ranges)
    op = type(rel)
    if c < 0:
        op = {sympy.Le: sympy.Ge, sympy.Lt: sympy.Gt, sympy.Ge: sympy.Le, sympy.Gt: sympy.Lt}.get(op, op)
    cur_lo, cur_hi = ranges[s]
    if op in (sympy.Eq, sympy.Ge, sympy.Gt) and lo is not None:
        lo += int(op is sympy.Gt)
        cur_lo = lo if cur_lo is None else max(cur_lo, lo)
    if op in (sympy.Eq, sympy.Le, sympy.Lt) and hi is not None:
        hi -= int(op is sympy.Lt)
        cur_hi = hi if cur_hi is None else min(cur_hi, hi)
    return cur_lo, cur_hi


def _add(a: Range, b: Range) -> Range:
    lo = None if a[0] is None or b[0] is None else a[0] + b[0]
    hi = None if a[1] is None or b[1] is None else a[1] + b[1]
    return lo, hi


def _mul(a: Range, b: Range) -> Range:
    if a[0] is not None and a[0] == a[1]:  # a constant factor
        c = a[0]
        lo, hi = (b[0], b[1]) if c >= 0 else (b[1], b[0])
        return (None if lo is None else c * lo), (None if hi is None else c * hi)
    if a[0] is None or b[0] is None or a[0] < 0 or b[0] < 0:
        return None, None
    return a[0] * b[0], (None if a[1] is None or b[1] is None else a[1] * b[1])


def _interval(expr: sympy.Basic, ranges: Mapping[sympy.Symbol, Range]) -> Range:
    """Bounds of ``expr`` the way torch's value ranges see them (None: unbounded or unknown)."""
    if expr.is_Integer:
        return int(expr), int(expr)
    if expr.is_Symbol:
        return ranges.get(expr, (None, None))  # type: ignore[call-overload]
    parts = [_interval(a, ranges) for a in expr.args]
    if expr.is_Add:
        out: Range = (0, 0)
        for p in parts:
            out = _add(out, p)
        return out
    if expr.is_Mul:
        out = (1, 1)
        for p in sorted(parts, key=lambda r: r[0] != r[1]):  # constants first
            out = _mul(out, p)
        return out
    name = type(expr).__name__
    if name in ("Mod", "PythonMod") and parts[1][0] is not None and parts[1][0] >= 1:
        (a_lo, a_hi), (b_lo, b_hi) = parts
        if a_lo is not None and a_lo >= 0 and a_hi is not None and a_hi < b_lo:
            return a_lo, a_hi
        return 0, (None if b_hi is None else b_hi - 1)
    if name == "FloorDiv" and parts[1][0] is not None and parts[1][0] >= 1 and (parts[0][0] or -1) >= 0:
        (a_lo, a_hi), (b_lo, b_hi) = parts
        return (0 if b_hi is None else a_lo // b_hi), (None if a_hi is None else a_hi // b_lo)
    return None, None


def _decided(rel: sympy.Rel, diff: sympy.Expr, ranges: Mapping[sympy.Symbol, Range]) -> bool:
    """torch's ``_maybe_evaluate_static``: the ranges alone make ``diff REL 0`` true."""
    lo, hi = _interval(diff, ranges)
    if isinstance(rel, sympy.Ne):
        return (lo is not None and lo > 0) or (hi is not None and hi < 0)
    if isinstance(rel, sympy.Eq):
        return lo == hi == 0
    tests = {sympy.Le: hi is not None and hi <= 0, sympy.Lt: hi is not None and hi < 0,
             sympy.Ge: lo is not None and lo >= 0, sympy.Gt: lo is not None and lo > 0}
    return tests.get(type(rel), False)


class TorchModel:
    """Which guards make torch raise: ``raises(i)`` for guard ``i`` of ``problem.guards``.

    Like torch, equalities are applied first (torch issues every guard after all replacements, in
    ``produce_guards``), then each guard is checked against the final symbols. ``violated``: the indices
    of the guards the spec violates; a guard the spec satisfies makes torch raise only when it is about
    one constrained symbol and torch's range reasoning cannot decide it (``x % (x - 1) != 0``).
    ``static``: roots taken as fixed values (the rest of a fix applied)."""

    def __init__(self, problem: Problem, violated: set[int], static: Mapping[str, int] | None = None) -> None:
        self._subst, self._symbols = _spec_symbols(problem, static or {})
        self._ranges: dict[sympy.Symbol, Range] = {s: info.spec for s, info in self._symbols.items()}
        self._replaced: dict[sympy.Symbol, sympy.Expr] = {}
        self.violated = violated
        self.raising: set[int] = set()
        self.raising_roots: set[str] = set()  # roots torch names in its error (a guard on them alone)
        for replay in (self._replay_equality, self._replay):
            for i, (record, _) in enumerate(problem.guards):
                try:
                    # dynamic sizes are >= 2 to torch: ``Eq(y, 1) | Eq(x, y)`` is its equality ``x == y``
                    expr = without_small_size_cases(self._spec_expr(record.expr))
                    if replay(expr, i in violated):
                        self.raising.add(i)
                        self.raising_roots |= self._single_root(expr)
                except (TypeError, ValueError, KeyError, ZeroDivisionError, sympy.PolynomialError):
                    continue  # an expression this model does not cover: no claim about torch

    def raises(self, index: int) -> bool:
        return index in self.raising

    def _spec_expr(self, expr: sympy.Basic) -> sympy.Basic:
        return expr.xreplace({s: self._subst[s.name] for s in expr.free_symbols}).xreplace(self._replaced)

    def _single_root(self, expr: sympy.Basic) -> set[str]:
        free = getattr(expr, "free_symbols", set())
        names = {str(s)[len("root!"):] for s in free if str(s).startswith("root!")}
        return names if len(free) == 1 else set()

    def _replay_equality(self, expr: sympy.Basic, violated: bool) -> bool:
        """A linear equality over several symbols: torch replaces one; raises if one constrained is left."""
        if not isinstance(expr, sympy.Eq) or len(expr.free_symbols) < 2:
            return False
        # ``2*x == 2*y`` (Bloom's alibi expand) is ``x == y`` to torch, which solves it for a unit coefficient
        diff = sympy.expand(expr.lhs - expr.rhs).as_content_primitive()[1]
        if not _is_linear(diff):
            return False
        replaced = self._replace(expr, diff)
        rest = expr.free_symbols - {replaced}
        return replaced is not None and len(rest) == 1 and self._symbols[next(iter(rest))].constrained

    def _replay(self, expr: sympy.Basic, violated: bool) -> bool:
        """Ranges: a constrained symbol narrowed below the spec, or a phantom root pinned to one value."""
        if not isinstance(expr, sympy.Rel) or not expr.free_symbols:
            return False
        diff = sympy.expand(expr.lhs - expr.rhs)
        refined = {} if isinstance(expr, sympy.Ne) else {
            s: r for s in sorted(expr.free_symbols, key=str) if (r := _solve_bound(expr, diff, s, self._ranges))}
        if not refined:  # torch solves for no symbol: it only checks the guard (if it cannot decide it)
            undecided = violated or not _decided(expr, diff, self._ranges)
            return undecided and self._single_constrained(expr)
        raised = violated and self._single_constrained(expr)
        for s, new in refined.items():
            info = self._symbols[s]
            raised |= info.constrained and _narrowed(new, info.spec)
            raised |= info.phantom and new[0] is not None and new[0] == new[1]
            self._ranges[s] = new
        return raised

    def _single_constrained(self, expr: sympy.Basic) -> bool:
        """A guard on one constrained symbol alone: torch checks it against the spec's range."""
        free = expr.free_symbols
        return len(free) == 1 and self._symbols[next(iter(free))].constrained

    def _replace(self, expr: sympy.Rel, diff: sympy.Expr) -> sympy.Symbol | None:
        """torch replaces the symbol with the largest example (a tie keeps constrained symbols)."""
        order = sorted(expr.free_symbols, key=lambda s: (self._symbols[s].hint, not self._symbols[s].constrained, str(s)))
        target = order[-1]
        c = int(diff.coeff(target))
        if abs(c) != 1:
            return None
        self._replaced[target] = sympy.expand(-(diff - c * target) / c)
        self._replaced = {k: v.xreplace(self._replaced) for k, v in self._replaced.items()}
        return target
