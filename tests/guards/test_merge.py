"""merge_guards: a second trace's guards join a GuardSet in the first trace's symbols, by input path."""

from __future__ import annotations

import sympy

from dimsolve.dims.model import DimPath, InputPath
from dimsolve.guards.merge import merge_guards
from dimsolve.guards.model import GuardKind, GuardRecord, GuardSet, SymbolInfo

X0, X1, Y0 = DimPath(InputPath(("x",)), 0), DimPath(InputPath(("x",)), 1), DimPath(InputPath(("y",)), 0)


def sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, integer=True)


BASE = GuardSet(
    symbols=(SymbolInfo("s0", (X0,), 6), SymbolInfo("s1", (X1,), 4)),
    guards=(GuardRecord(sym("s0") <= 512),),
)


def test_symbols_are_renamed_by_input_path() -> None:
    extra = GuardSet(symbols=(SymbolInfo("s9", (X0,), 6),), guards=(GuardRecord(sympy.Eq(sympy.Mod(sym("s9"), 3), 0)),))
    merged = merge_guards(BASE, extra)
    assert [str(g.expr) for g in merged.guards] == ["s0 <= 512", "Eq(Mod(s0, 3), 0)"]
    assert merged.symbols == BASE.symbols


def test_known_guards_are_not_repeated_and_an_unchanged_set_is_returned_as_is() -> None:
    extra = GuardSet(symbols=(SymbolInfo("s7", (X0,), 6),), guards=(GuardRecord(sym("s7") <= 512),))
    assert merge_guards(BASE, extra) is BASE


def test_a_dim_the_base_lacks_keeps_its_symbol_under_a_free_name() -> None:
    # s0 in the second trace stands for y.shape[0], which the base has no symbol for: no capture of
    # the base's s0 (x.shape[0])
    extra = GuardSet(symbols=(SymbolInfo("s0", (Y0,), 3),),
                     guards=(GuardRecord(sympy.Ge(sym("s0"), 3), GuardKind.RUNTIME_ASSERT),))
    merged = merge_guards(BASE, extra)
    added = merged.symbols[-1]
    assert added.paths == (Y0,) and added.name != "s0"
    assert merged.guards[-1].expr == sympy.Ge(added.sympy(), 3)
    assert merged.guards[-1].kind is GuardKind.RUNTIME_ASSERT
