"""Tracing with real torch: the guards, their symbols' input paths, and the user's source lines."""

from __future__ import annotations

import inspect

import pytest
import torch

from dimsolve.guards.capture import check_torch_hooks
from dimsolve.guards.model import GuardKind
from dimsolve.guards.trace import trace_guards

pytestmark = pytest.mark.torch


class TutorialModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l = torch.nn.Linear(5, 3)

    def forward(self, w, x, y, z):
        if w.shape[0] <= 512:
            x0 = x + y
        x1 = self.l(w)
        x3 = x0.flatten() + z
        return x1, x3


INPUTS = (torch.randn(6, 5), torch.randn(4), torch.randn(8, 4), torch.randn(32))


def _in_user_terms(gs):
    names = {s.name: str(s.paths[0]) for s in gs.symbols}
    out = {}
    for g in gs.guards:
        text = str(g.expr)
        for name in sorted(names, key=len, reverse=True):
            text = text.replace(name, names[name])
        out[text] = g
    return out


def test_torch_hooks_are_where_dimsolve_expects_them():
    check_torch_hooks()


def test_a_shape_env_that_no_longer_keeps_var_to_range_is_refused(monkeypatch):
    import torch.fx.experimental.symbolic_shapes as symbolic_shapes

    class Renamed(symbolic_shapes.ShapeEnv):  # every hooked method, none of them using var_to_range
        pass

    for name, f in vars(symbolic_shapes.ShapeEnv).items():
        if inspect.isfunction(f):
            setattr(Renamed, name, f if "var_to_range" not in f.__code__.co_names else lambda self, *a, **k: None)
    monkeypatch.setattr(symbolic_shapes, "ShapeEnv", Renamed)
    check_torch_hooks.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="var_to_range is gone"):
            check_torch_hooks()
    finally:
        check_torch_hooks.cache_clear()


@pytest.mark.parametrize("strict", [pytest.param(False, id="non-strict"), pytest.param(True, id="strict")])
def test_tutorial_guards_map_to_input_paths_and_user_lines(strict):
    gs = trace_guards(TutorialModel(), INPUTS, strict=strict)
    assert {str(p) for s in gs.symbols for p in s.paths} == {
        "w.shape[0]", "w.shape[1]", "x.shape[0]", "y.shape[0]", "y.shape[1]", "z.shape[0]",
    }
    guards = _in_user_terms(gs)
    by_code = {g.origin.code: g for g in guards.values()}
    assert "w.shape[0] <= 512" in guards
    assert "Eq(w.shape[1], 5)" in guards
    assert by_code["x1 = self.l(w)"].expr == next(g for t, g in guards.items() if t == "Eq(w.shape[1], 5)").expr
    assert any(t in guards for t in ("Eq(x.shape[0], y.shape[1])", "Eq(y.shape[1], x.shape[0])"))
    assert all(g.origin.file == __file__ for g in gs.guards)
    assert by_code["if w.shape[0] <= 512:"].kind in (GuardKind.GUARD, GuardKind.RUNTIME_ASSERT)
    assert not gs.failures


def test_op_frame_names_the_torch_operation():
    gs = trace_guards(TutorialModel(), INPUTS)
    linear = next(g for g in gs.guards if g.origin.code == "x1 = self.l(w)")
    assert linear.origin.op.startswith("torch/") and "module.py" not in linear.origin.op


class Nested(torch.nn.Module):
    def forward(self, xs, d, scale=None):
        return xs[0] + xs[1] + d["a"] * scale


def test_nested_inputs_kwargs_aliases_and_zero_one_specialisation():
    t = torch.randn(3)
    gs = trace_guards(Nested(), ([t, t], {"a": torch.randn(1)}), {"scale": torch.randn(3)})
    paths = {str(p): s.name for s in gs.symbols for p in s.paths}
    assert paths["xs[0].shape[0]"] == paths["xs[1].shape[0]"]  # one tensor passed twice: one symbol
    assert "scale.shape[0]" in paths
    assert [(str(s.path), s.value) for s in gs.specializations] == [("d['a'].shape[0]", 1)]


class DataDependent(torch.nn.Module):
    def forward(self, x, n):
        k = n.item()
        if k > 2:
            return x[:k]
        return x


def test_data_dependent_failure_is_recorded_with_user_line():
    gs = trace_guards(DataDependent(), (torch.randn(8), torch.tensor(4)))
    assert gs.failures, "tracing must stop at the data-dependent branch"
    assert gs.failures[0].origin is not None and gs.failures[0].origin.code == "if k > 2:"
