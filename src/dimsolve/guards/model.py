"""What tracing found, as plain data: symbols (which input dimension each stands for) and guards.

A ``GuardSet`` is independent of torch: it holds sympy expressions over symbol names and can be
written to JSON and read back with dimsolve's own expression grammar (``guards.codec``), so a spec
can be re-checked without re-tracing. This module must not import torch.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field

import sympy

from dimsolve.diagnostics.model import SourceLocation
from dimsolve.dims.model import DimPath


class GuardKind(str, enum.Enum):
    GUARD = "guard"  # a condition torch evaluated on the example's sizes (branch, shape check)
    RUNTIME_ASSERT = "runtime_assert"  # deferred to a runtime check in the exported program
    DATA_DEPENDENT = "data_dependent"  # torch could not decide it (unbacked symbols): tracing failed here
    INDEX_BOUND = "index_bound"  # dimsolve's own: index values stay inside the indexed table (``index`` says which)


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """A symbol torch created for input sizes.

    ``paths`` has more than one entry when the same tensor is passed twice; ``backed`` is False for
    data-dependent (unbacked) symbols such as those from ``.item()``, which have no input path.
    """

    name: str
    paths: tuple[DimPath, ...]
    example: int | None
    backed: bool = True
    # unbacked symbols only: the user's name for the value (``k`` for ``k = n.item()``), where it
    # was created, and the range torch knows at the end of tracing (None: unbounded)
    label: str = ""
    origin: SourceLocation | None = None
    lower: int | None = None
    upper: int | None = None

    def sympy(self) -> sympy.Symbol:
        return sympy.Symbol(self.name, integer=True)


@functools.lru_cache(maxsize=1 << 16)
def _free_names(expr: sympy.Basic) -> frozenset[str]:
    """Names of ``expr``'s symbols, computed once per expression: the checks ask for them often."""
    return frozenset(str(s) for s in expr.free_symbols)


@dataclass(frozen=True, slots=True)
class ValueRange:
    """The values of an integer input an index bound relies on: taken from the example (an
    assumption the report states) or given by the user (``value_ranges=``)."""

    input: str  # the input's path, as the user writes it (``attention_mask``)
    lower: int
    upper: int
    stated: bool = False  # the user gave it; else the example's values are assumed


@dataclass(frozen=True, slots=True)
class IndexDetail:
    """What an ``INDEX_BOUND`` guard checks: index values at ``op`` stay inside ``table``.

    The bounds are sympy expressions in the GuardSet's symbols (None: no bound on that side).
    """

    op: str  # embedding, index_select, gather, take, index
    table: str  # the indexed tensor in the user's words (``lm.transformer.wpe.weight``)
    size: sympy.Basic  # the size indexed into: values must be < size
    lower: sympy.Basic | None
    upper: sympy.Basic | None
    builder: SourceLocation | None = None  # the user's line that builds the index values
    values: tuple[ValueRange, ...] = ()  # input values the bounds rely on

    @property
    def assumed(self) -> tuple[ValueRange, ...]:
        return tuple(v for v in self.values if not v.stated)

    def renamed(self, mapping: dict[sympy.Symbol, sympy.Symbol]) -> "IndexDetail":
        def rn(e: sympy.Basic | None) -> sympy.Basic | None:
            return None if e is None else e.xreplace(mapping)

        return IndexDetail(self.op, self.table, self.size.xreplace(mapping), rn(self.lower), rn(self.upper),
                           self.builder, self.values)


@dataclass(frozen=True, slots=True)
class GuardRecord:
    """One condition the model requires of its inputs' sizes, with the user's line that emitted it."""

    expr: sympy.Basic
    kind: GuardKind = GuardKind.GUARD
    origin: SourceLocation | None = None
    index: IndexDetail | None = None  # for INDEX_BOUND guards: the op, table and index bounds

    @property
    def symbols(self) -> frozenset[str]:
        return _free_names(self.expr)


@dataclass(frozen=True, slots=True)
class Specialization:
    """A dimension the spec makes dynamic but torch fixed during tracing (example size 0 or 1)."""

    path: DimPath
    value: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TraceFailure:
    """Tracing stopped (or a data-dependent guard could not be decided) at a user line."""

    message: str
    expr: sympy.Basic | None = None
    origin: SourceLocation | None = None
    kind: str = "error"
    value: sympy.Basic | None = None  # how the example inputs decide ``expr`` (real-tensor tracing)


@dataclass(frozen=True, slots=True)
class GuardSet:
    symbols: tuple[SymbolInfo, ...]
    guards: tuple[GuardRecord, ...]
    specializations: tuple[Specialization, ...] = ()
    failures: tuple[TraceFailure, ...] = ()
    strict: bool = False
    torch_version: str = ""
    meta: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def symbol(self, name: str) -> SymbolInfo | None:
        for s in self.symbols:
            if s.name == name:
                return s
        return None

    def symbol_for(self, path: DimPath) -> SymbolInfo | None:
        for s in self.symbols:
            if path in s.paths:
                return s
        return None

    def backed_guards(self) -> tuple[GuardRecord, ...]:
        """Guards whose every symbol is a backed input size: the ones a spec must satisfy."""
        backed = {s.name for s in self.symbols if s.backed}
        return tuple(
            g for g in self.guards if g.kind is not GuardKind.DATA_DEPENDENT and g.symbols and g.symbols <= backed
        )

    def model_dump_json(self) -> str:
        """The GuardSet's wire form (see ``guards.serialize``): what a cache or the service stores."""
        from dimsolve.guards.serialize import to_json

        return to_json(self)
