"""Index bounds over real exported graphs: which indexings become guards, on which sizes, and
that the value ranges contain every value a real run produces (soundness) and are exact on
``arange``.

Each case exports a small model with torch and reads the INDEX_BOUND guards of its GuardSet: the
threshold is the largest size of the dynamic dim the guards admit (None: no index guard).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.export import Dim

from dimsolve.guards.attempt import attempt_export
from dimsolve.guards.index_bounds import stated_value_ranges, value_ranges
from dimsolve.guards.model import GuardKind

pytestmark = pytest.mark.torch


class Positions(torch.nn.Module):
    """``table[f(arange(seq))]`` through one of the indexing ops."""

    def __init__(self, build, op: str = "embedding", rows: int = 64):
        super().__init__()
        self.build, self.op = build, op
        self.table = torch.nn.Embedding(rows, 4)

    def forward(self, x):
        idx = self.build(x)
        w = self.table.weight
        if self.op == "embedding":
            return self.table(idx).sum()
        if self.op == "index_select":
            return w.index_select(0, idx.flatten()).sum()
        if self.op == "gather":
            return w.gather(0, idx.flatten().unsqueeze(1).expand(-1, 4)).sum()
        if self.op == "take":
            return w.take(idx.flatten()).sum()
        return w[idx.flatten()].sum()  # advanced indexing


class MaskPositions(torch.nn.Module):
    """OPT: positions from an int mask input's cumsum, after an offset of 2."""

    def __init__(self):
        super().__init__()
        self.table = torch.nn.Embedding(66, 4)

    def forward(self, ids, mask):
        positions = mask.cumsum(dim=1) * mask - 1
        return self.table(positions + 2).sum() + ids.sum()


def _arange(x):
    return torch.arange(x.shape[1])


CASES = [
    pytest.param(lambda x: torch.arange(x.shape[1]), "embedding", 64, 64, id="arange-embedding"),
    pytest.param(lambda x: torch.arange(x.shape[1]) + 2, "embedding", 66, 64, id="arange-offset"),
    pytest.param(lambda x: torch.arange(2, x.shape[1] + 2), "embedding", 66, 64, id="arange-start-end"),
    pytest.param(lambda x: (x != 0).long().cumsum(1) + 1, "embedding", 66, 64, id="roberta-ne-cumsum"),
    pytest.param(lambda x: torch.arange(x.shape[1]) * 2, "embedding", 64, 32, id="scaled"),
    pytest.param(lambda x: torch.arange(x.shape[1]).clamp(max=63), "embedding", 64, None, id="clamped"),
    pytest.param(lambda x: x.long(), "embedding", 64, None, id="raw-ids"),
    pytest.param(lambda x: torch.full((x.shape[1],), 3), "embedding", 64, None, id="constant"),
    pytest.param(_arange, "index_select", 64, 64, id="index_select"),
    pytest.param(_arange, "gather", 64, 64, id="gather"),
    pytest.param(_arange, "take", 64, 256, id="take-flat"),  # 64 rows of 4: 256 elements
    pytest.param(_arange, "index", 64, 64, id="advanced-index"),
    pytest.param(lambda x: torch.arange(x.shape[1]) - x.shape[1], "index", 64, 64, id="negative-index"),
    pytest.param(lambda x: torch.where(torch.arange(x.shape[1]) < 5, torch.arange(x.shape[1]), 0), "embedding", 64,
                 64, id="where-union"),
]


def _index_guards(model, args, spec):
    attempt = attempt_export(model, args, None, spec)
    assert attempt.exported, attempt.failure
    return attempt.guardset, [g for g in attempt.guardset.guards if g.kind is GuardKind.INDEX_BOUND]


def _threshold(guardset, guards, path_text="x.shape[1]", top=1024):
    """The largest size of ``path_text`` every guard admits (other symbols at the example)."""
    if not guards:
        return None
    name = next(s.name for s in guardset.symbols if str(s.paths[0]) == path_text)
    examples = {s.name: s.example for s in guardset.symbols if s.backed}

    def holds(g, n):
        return bool(g.expr.subs({s: n if s.name == name else examples[s.name] for s in g.expr.free_symbols}))

    return max(n for n in range(2, top) if all(holds(g, n) for g in guards))


@pytest.mark.parametrize("build, op, rows, expected", CASES)
def test_index_guard_threshold(build, op, rows, expected):
    model = Positions(build, op, rows)
    x = torch.randint(1, 50, (2, 8))
    guardset, guards = _index_guards(model, (x,), {"x": (None, Dim("seq"))})
    assert _threshold(guardset, guards) == expected, [str(g.expr) for g in guards]
    for g in guards:
        assert g.origin is not None and g.origin.file == __file__  # the user's line that indexes
        assert g.index is not None and g.index.builder is not None and g.index.builder.file == __file__
        assert not g.index.values  # the bound follows from the program alone


def test_mask_input_values_are_an_assumption_unless_stated():
    ids, mask = torch.zeros(2, 8), torch.ones(2, 8, dtype=torch.long)
    spec = ((None, Dim("seq")), (None, Dim("seq")))
    guardset, guards = _index_guards(MaskPositions(), (ids, mask), spec)
    assert _threshold(guardset, guards, "ids.shape[1]") == 64
    assert {(v.input, v.lower, v.upper, v.stated) for g in guards for v in g.index.values} == {("mask", 0, 1, False)}
    with stated_value_ranges({"mask": (0, 2)}):
        guardset, guards = _index_guards(MaskPositions(), (ids, mask), spec)
    # a mask of 2s: cumsum * mask reaches 4*seq, positions 4*seq + 1; the table's last row is 65
    assert _threshold(guardset, guards, "ids.shape[1]") == 16
    assert {(v.input, v.lower, v.upper, v.stated) for g in guards for v in g.index.values} == {("mask", 0, 2, True)}


def test_a_correct_range_gives_guards_the_spec_satisfies():
    model = Positions(lambda x: torch.arange(x.shape[1]))
    guardset, guards = _index_guards(model, (torch.randint(1, 50, (2, 8)),), {"x": (None, Dim("seq", max=64))})
    assert _threshold(guardset, guards) == 64


# --- soundness: the computed ranges contain every value a real run produces ------------------------

_STEPS = st.lists(st.sampled_from(["add3", "sub1", "mul2", "neg", "cumsum", "clamp10", "ne0"]), max_size=4)
_STARTS = st.sampled_from(["arange", "arange2", "ones-cumsum", "mask-cumsum"])


class Chain(torch.nn.Module):
    def __init__(self, start: str, steps: list[str]):
        super().__init__()
        self.start, self.steps = start, steps

    def forward(self, x, mask):
        n = x.shape[1]
        v = {"arange": lambda: torch.arange(n), "arange2": lambda: torch.arange(2, n + 5),
             "ones-cumsum": lambda: torch.ones(n, dtype=torch.long).cumsum(0),
             "mask-cumsum": lambda: mask.cumsum(1)}[self.start]()
        for step in self.steps:
            v = {"add3": lambda t: t + 3, "sub1": lambda t: t - 1, "mul2": lambda t: t * 2, "neg": lambda t: -t,
                 "cumsum": lambda t: t.cumsum(-1), "clamp10": lambda t: t.clamp(max=10),
                 "ne0": lambda t: (t != 0).long()}[step](v)
        return v + 0  # the chain's value as the graph's last integer node


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=_STARTS, steps=_STEPS, sizes=st.lists(st.integers(2, 40), min_size=1, max_size=4))
def test_ranges_contain_every_value_of_a_real_run(start, steps, sizes):
    model = Chain(start, steps)
    x, mask = torch.zeros(2, 8), torch.randint(0, 2, (2, 8))
    seq = Dim("seq")
    ep = torch.export.export(model, (x, mask), dynamic_shapes=((None, seq), (None, seq)))
    last = [n for n in ep.graph.nodes if n.op == "call_function"][-1]
    lo, hi = value_ranges(ep, (x, mask), {id(mask): "mask"})[last.name]
    symbol = ep.graph_module.graph.find_nodes(op="placeholder")[0].meta["val"].shape[1].node.expr
    for n in sizes:
        out = model(torch.zeros(2, n), torch.randint(0, 2, (2, n)))
        if out.numel() == 0:
            continue
        if lo is not None:
            assert int(out.min()) >= int(lo.subs(symbol, n)), (start, steps, n, lo)
        if hi is not None:
            assert int(out.max()) <= int(hi.subs(symbol, n)), (start, steps, n, hi)
    if start == "arange" and not steps:  # exact on a plain arange
        assert (lo, hi) == (0, symbol - 1)
