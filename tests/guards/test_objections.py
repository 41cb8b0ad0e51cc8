"""torch.export's objections read from torch's objects, checked against what torch raised."""

from __future__ import annotations

import contextlib
import pathlib

import pytest
import sympy
import torch
from torch.export import Dim

from dimsolve.guards import objections as obj
from dimsolve.guards import trace
from dimsolve.guards.capture import capturing, quiet_torch_logs, source_chain
from dimsolve.guards.objections import check_objection_hooks, read_objections, recording_objections

pytestmark = pytest.mark.torch

_resolve_dim = trace.resolve_dim


class Tutorial(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l = torch.nn.Linear(4, 4)

    def forward(self, x, y):
        w = x + y
        if w.shape[0] <= 512:
            w = self.l(w)
        return w


class CatView(torch.nn.Module):
    def forward(self, x):
        return torch.cat([x, x[1::2]]).view(-1, 2)


class CatLinear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l = torch.nn.Linear(15, 5)

    def forward(self, x0, x1, x2):
        return self.l(torch.cat([x1, x2]) * 2), x0 * 2


class SquareProduct(torch.nn.Module):
    def forward(self, x, y):
        if x.shape[0] * y.shape[0] == 12 and y.shape[0] ** 2 == 16:
            return x + 1
        return x - 1


class Reshape(torch.nn.Module):
    def forward(self, x):
        return x.reshape(2, 3)


def tutorial():
    dx, dy, d1 = Dim("dx"), Dim("dy"), Dim("d1")
    return Tutorial(), (torch.randn(6, 4), torch.randn(6, 4)), {"x": (dx, d1), "y": (dy, d1)}


def tutorial_fixed():
    dx = Dim("dx", max=512)
    return Tutorial(), (torch.randn(6, 4), torch.randn(6, 4)), {"x": (dx, 4), "y": (dx, 4)}


def unproven():
    return CatView(), (torch.randn(5, 3, 4),), {"x": (Dim("dx", min=3), 3, 4)}


def not_related():
    d0 = Dim("d0", max=5)
    args = (torch.randn(4, 3), torch.randn(7), torch.randn(8))
    return CatLinear(), args, {"x0": (d0, 3), "x1": (Dim("d3", min=5),), "x2": (2 * d0,)}


def forced():
    return SquareProduct(), (torch.randn(3), torch.randn(4)), {"x": (Dim("dx"),), "y": (Dim("dy"),)}


def dynamic_specialized():
    return Reshape(), (torch.randn(6),), {"x": (Dim.DYNAMIC,)}


TUTORIAL = [
    ("specialized", ("x.shape[1]",), None, "4", "d1"),
    ("specialized", ("y.shape[1]",), None, "4", "d1"),
    ("not_equal", ("y.shape[0]", "x.shape[0]"), None, None, "dy"),
    ("range", ("x.shape[0]",), "(2 <= x.shape[0]) & (x.shape[0] <= 512)", None, "dx"),
]
MOD_GUARD = "Eq(Mod(12*x.shape[0] + 12*((x.shape[0]//2)), 6*x.shape[0] + 6*((x.shape[0]//2))), 0)"
UNPROVEN = [
    ("unproven_guard", ("x.shape[0]",), "Ne((x.shape[0]//2), 1)", None, "dx"),
    ("unproven_guard", ("x.shape[0]",), MOD_GUARD, None, "dx"),
]
NOT_RELATED = [("not_related", ("x1.shape[0]", "x0.shape[0]"), None, "15 - 2*x0.shape[0]", "d3")]
FORCED = [
    ("unproven_guard", ("y.shape[0]",), "Eq(y.shape[0]**2, 16)", None, "dy"),
    ("forced_specialization", ("x.shape[0]",), None, "3", "dx"),
    ("forced_specialization", ("y.shape[0]",), None, "4", "dy"),
]
DYNAMIC = [("specialized", ("x.shape[0]",), None, "6", None)]

CASES = [
    pytest.param(tutorial, False, TUTORIAL, id="tutorial"),
    pytest.param(tutorial, True, TUTORIAL, id="tutorial-strict"),
    pytest.param(unproven, False, UNPROVEN, id="unproven-guard"),
    # dynamo never emits the (dx//2) != 1 guard, so torch raises for the Mod guard alone
    pytest.param(unproven, True, UNPROVEN[1:], id="unproven-guard-strict"),
    pytest.param(not_related, False, NOT_RELATED, id="not-related"),
    pytest.param(not_related, True, NOT_RELATED, id="not-related-strict"),
    # dx is forced by Eq(dx*dy, 12) once dy = 4: no produce_guards objection names dx
    pytest.param(forced, False, FORCED, id="forced-specialization"),
    pytest.param(forced, True, FORCED, id="forced-specialization-strict"),
    pytest.param(dynamic_specialized, False, DYNAMIC, id="dim-dynamic-specialized"),
    pytest.param(tutorial_fixed, False, [], id="valid-spec"),
    pytest.param(tutorial_fixed, True, [], id="valid-spec-strict"),
]


def _export(model, args, spec, strict):
    """Export under both hooks (as dimsolve runs it): the objections, torch's size symbols, and
    what torch raised."""
    bound = trace.bind_inputs(model, args, None)
    params, leaves = list(bound), trace.input_leaves(bound)

    def resolve(source):
        chain = source_chain(source)
        return _resolve_dim(chain, params, leaves) if chain else None

    raised = None
    with capturing() as captured, recording_objections() as log, quiet_torch_logs():
        try:
            torch.export.export(model, args, dynamic_shapes=spec, strict=strict)
        except Exception as exc:  # the test compares it with the objections
            raised = exc
    return read_objections(log, resolve), {raw.expr for raw in captured.symbols}, raised


def _row(o):
    """An objection with its one torch symbol named after the dim it stands for: the guard's is
    the complained-about dim's, a relation's is the other dim's (symbol names vary by run)."""
    def user(expr, dim):
        if expr is None:
            return None
        named = {s: sympy.Symbol(str(dim), integer=True, positive=True) for s in expr.free_symbols}
        return str(expr.xreplace(named))

    return (o.kind.value, tuple(str(d) for d in o.dims), user(o.guard, o.dims[0]), user(o.value, o.dims[-1]), o.dim_name)


@pytest.mark.parametrize(("case", "strict", "expected"), CASES)
def test_objections_match_what_torch_raised(case, strict, expected):
    objections, _, raised = _export(*case(), strict)
    assert [_row(o) for o in objections] == expected
    if not expected:
        assert raised is None
        return
    from torch._dynamo.exc import UserError, UserErrorType

    assert isinstance(raised, UserError) and raised.error_type is UserErrorType.CONSTRAINT_VIOLATION
    message = str(raised)
    # one bullet per objection in torch's report, and its header lists the same Dim names
    assert message.count("\n  - ") == len(expected)
    assert all(o.dim_name in message for o in objections if o.dim_name is not None)


@pytest.mark.parametrize("case", [tutorial, not_related], ids=["range-guard", "relation"])
def test_expressions_are_in_torchs_symbols(case):
    objections, symbols, _ = _export(*case(), False)
    used = set().union(*((o.guard or o.value).free_symbols for o in objections if (o.guard or o.value) is not None))
    assert used and used <= symbols


def test_hooks_nest_in_capture_and_are_restored():
    from torch.fx.experimental.symbolic_shapes import DimConstraints, EqualityConstraint, ShapeEnv

    before = {(c, n): c.__dict__[n] for c, n in [(ShapeEnv, "produce_guards_verbose"), (EqualityConstraint, "is_equal"),
                                                 (DimConstraints, "forced_specializations"), (ShapeEnv, "_log_guard")]}
    with contextlib.suppress(RuntimeError), capturing(), recording_objections():
        raise RuntimeError("torch failed")
    assert {(c, n): c.__dict__[n] for c, n in before} == before


@pytest.fixture
def fresh_check():
    check_objection_hooks.cache_clear()
    yield
    check_objection_hooks.cache_clear()


def test_check_objection_hooks_passes(fresh_check):
    check_objection_hooks()


def test_check_objection_hooks_names_a_missing_method(fresh_check, monkeypatch):
    from torch.fx.experimental.symbolic_shapes import EqualityConstraint

    monkeypatch.delattr(EqualityConstraint, "is_derived")
    with pytest.raises(RuntimeError, match="EqualityConstraint.is_derived is gone"):
        check_objection_hooks()


def test_check_objection_hooks_names_a_moved_call_site(fresh_check, monkeypatch):
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    def produce_guards_verbose(self, placeholders, sources, *args, **kwargs):
        return []

    monkeypatch.setattr(ShapeEnv, "produce_guards_verbose", produce_guards_verbose)
    with pytest.raises(RuntimeError, match="_render_range_for_constraint_violation is now called from"):
        check_objection_hooks()


def test_no_regular_expressions_over_torchs_messages():
    source = pathlib.Path(obj.__file__).read_text()
    assert "import re" not in source and "re." not in source
