"""Synthetic GuardSets of a chosen size, with a spec that is valid and one that is violated.

Symbol ``s<i>`` is ``x<i>.shape[0]``. Symbols come in groups of up to five around a leader (the
root Dim ``d<g>``): the same size, ``d + 1``, ``2*d`` and ``4*d``. The guards are what torch emits
for such models, with distinct constants so that none is a duplicate: the relations themselves
(``Eq(s1, s0 + 1)``), then, interleaved, upper bounds (``s3 <= 513``), products
(``s3*s7 <= 67000``), ``FloorDiv`` bounds and equalities (``Eq(FloorDiv(s2, 2), s0)``) and ``Mod``
divisibility (``Eq(Mod(s2*s9, 2), 0)``) built from torch's own sympy classes.

The valid spec names every relation; the violated spec gives one ``d + 1`` member its own Dim and
drops the upper bound of another group's root, so two of the dimsolve's fix kinds are needed
(``Relate`` and ``SetRange``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import sympy
from torch.utils._sympy.functions import FloorDiv, Mod

from dimsolve.dims.model import (
    DimKind,
    DimPath,
    DimSpec,
    InputPath,
    RootDim,
    Spec,
    SpecEntry,
)
from dimsolve.guards.model import GuardRecord, GuardSet, SymbolInfo

ROOT_MAX = 128
# (coeff, offset) of each member relative to its group's leader; the leader is (1, 0) too
MEMBERS = ((1, 0), (1, 1), (2, 0), (4, 0))
FAMILIES = ("range", "product", "floordiv", "mod")


@dataclass(frozen=True)
class Member:
    index: int  # symbol s<index>
    group: int
    coeff: int
    offset: int
    leader: bool

    @property
    def hi(self) -> int:
        return self.coeff * ROOT_MAX + self.offset


@dataclass(frozen=True)
class SyntheticCase:
    guardset: GuardSet
    valid: Spec
    violated: Spec
    kinds: dict[str, int]  # guard family -> count


def _layout(n_symbols: int) -> list[Member]:
    members: list[Member] = []
    group = 0
    while len(members) < n_symbols:
        members.append(Member(len(members), group, 1, 0, True))
        for coeff, offset in MEMBERS:
            if len(members) < n_symbols:
                members.append(Member(len(members), group, coeff, offset, False))
        group += 1
    return members


def _path(i: int) -> DimPath:
    return DimPath(InputPath((f"x{i}",)), 0)


class _Guards:
    """The guard stream: relations first, then the four families interleaved over the symbols."""

    def __init__(self, members: list[Member]) -> None:
        self.m = members
        self.s = [sympy.Symbol(f"s{m.index}", integer=True, positive=True) for m in members]
        self.kinds: Counter[str] = Counter()

    def _leader(self, m: Member) -> sympy.Symbol:
        return self.s[next(x.index for x in self.m if x.group == m.group and x.leader)]

    def _even(self, m: Member) -> Member | None:
        """A member of ``m``'s group (or of group 0) whose size is a multiple of 2."""
        for group in (m.group, 0):
            for x in self.m:
                if x.group == group and x.coeff in (2, 4):
                    return x
        return None

    def relations(self) -> list[sympy.Basic]:
        out = []
        for m in self.m:
            if not m.leader:
                out.append(sympy.Eq(self.s[m.index], m.coeff * self._leader(m) + m.offset, evaluate=False))
                self.kinds["equality"] += 1
            if m.coeff == 2:
                out.append(sympy.Eq(FloorDiv(self.s[m.index], 2, evaluate=False), self._leader(m), evaluate=False))
                self.kinds["floordiv"] += 1
        return out

    def family(self, t: int) -> sympy.Basic:
        n = len(self.m)
        fam = FAMILIES[t % len(FAMILIES)]
        m = self.m[(t // len(FAMILIES)) % n]
        r = t // (len(FAMILIES) * n)  # the round: keeps every constant distinct
        s = self.s[m.index]
        self.kinds[fam] += 1
        if fam == "range":
            return _le(s, m.hi + r)
        other = self.m[(m.index + 1 + r) % n]
        if fam == "product":
            return _le(s * self.s[other.index], m.hi * other.hi + r)
        if fam == "floordiv":
            k = 2 + r % 7
            return _le(FloorDiv(s, k, evaluate=False), m.hi // k + r // 7)
        even = self._even(m)
        if even is None:  # no multiple of 2 among few symbols: a trivially true remainder bound
            return _le(Mod(s, 2 + r, evaluate=False), 1 + r)
        # (even + 2r) * other is even: a product under Mod, as torch writes for view/reshape
        product = sympy.Mul(self.s[other.index], self.s[even.index] + 2 * r)
        return sympy.Eq(Mod(product, 2, evaluate=False), 0, evaluate=False)


def _le(lhs: sympy.Basic, rhs: int) -> sympy.Basic:
    return sympy.Le(lhs, rhs, evaluate=False)


def make_case(n_guards: int, n_symbols: int) -> SyntheticCase:
    """A GuardSet of exactly ``n_guards`` guards over ``n_symbols`` symbols, and its two specs."""
    if n_symbols < 2:
        raise ValueError("need at least two symbols")
    members = _layout(n_symbols)
    stream = _Guards(members)
    exprs = stream.relations()[:n_guards]
    t = 0
    while len(exprs) < n_guards:
        exprs.append(stream.family(t))
        t += 1
    leader_example = {m.group: 4 + 2 * (m.group % 30) for m in members if m.leader}
    symbols = tuple(
        SymbolInfo(f"s{m.index}", (_path(m.index),), m.coeff * leader_example[m.group] + m.offset, True)
        for m in members
    )
    guardset = GuardSet(symbols, tuple(GuardRecord(e) for e in exprs), torch_version="synthetic")
    entries = []
    for m, sym in zip(members, symbols):
        kind = DimKind.ROOT if (m.coeff, m.offset) == (1, 0) else DimKind.DERIVED
        dim = DimSpec(kind, root=f"d{m.group}", coeff=m.coeff, offset=m.offset)
        entries.append(SpecEntry(_path(m.index), f'dynamic_shapes["x{m.index}"][0]', dim, sym.example or 0))
    roots = {f"d{g}": RootDim(f"d{g}", 2, ROOT_MAX) for g in leader_example}
    valid = Spec(tuple(entries), roots)
    return SyntheticCase(guardset, valid, _violate(valid, members), dict(stream.kinds))


def _violate(spec: Spec, members: list[Member]) -> Spec:
    """Break one ``d + 1`` relation (own Dim) and one root's upper bound (unbounded)."""
    entries = list(spec.entries)
    roots = dict(spec.roots)
    shifted = next((m for m in members if (m.coeff, m.offset) == (1, 1)), None)
    if shifted is not None:
        e = entries[shifted.index]
        entries[shifted.index] = replace(e, dim=DimSpec(DimKind.ROOT, root="v0"))
        roots["v0"] = RootDim("v0", 2, ROOT_MAX + 1)
    last_group = members[-1].group
    roots[f"d{last_group}"] = RootDim(f"d{last_group}", 2, None)
    return replace(spec, entries=tuple(entries), roots=roots)
