"""Misuse of the public API raises ``dimsolve.InvalidArgument`` (a ``DimsolveError``) with a clear
message before any work; ``check_spec`` on a cached GuardSet agrees with ``check_dynamic_shapes``
on container inputs (a tuple input needs a tuple spec, as torch requires)."""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import dimsolve

pytestmark = pytest.mark.torch


class Pair(torch.nn.Module):
    def forward(self, x, pair):
        return x + pair[0] + pair[1]


ARGS = (torch.randn(6, 4), (torch.randn(6, 4), torch.randn(6, 4)))


class Ids(torch.nn.Module):
    def forward(self, x, ids, cfg):
        return x[ids] * cfg["mask"].sum()


IDS = (torch.randn(6, 4), torch.tensor([1, 2]), {"mask": torch.ones(3, dtype=torch.long)})


def test_value_ranges_named_by_input_path_are_accepted():
    spec = {"x": (Dim("n"), 4), "ids": None, "cfg": {"mask": None}}
    report = dimsolve.check_dynamic_shapes(Ids(), IDS, dynamic_shapes=spec, value_ranges={"cfg['mask']": (0, 1)})
    assert report.ok, str(report)


@pytest.fixture(scope="module")
def guards():
    return dimsolve.trace_guards(Pair(), ARGS)


MISUSE = [
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Pair(), ARGS[:1], [ARGS[1]], dynamic_shapes=None),
                 "kwargs must be a dict", id="kwargs-as-a-list"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Pair(), ARGS[0], dynamic_shapes=None),
                 "args must be a tuple", id="args-as-a-tensor"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Pair(), ARGS, {1: 2}, dynamic_shapes=None),
                 "kwargs keys must be parameter names", id="kwargs-key-not-str"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Pair(), ARGS, dynamic_shapes=None, timeout_ms=0),
                 "timeout_ms must be an int from 1", id="timeout-0"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Pair(), ARGS, dynamic_shapes=None, timeout_ms=-1),
                 "got -1", id="timeout-negative"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Pair(), ARGS, dynamic_shapes=None, timeout_ms=True),
                 "got True", id="timeout-bool"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Pair(), ARGS, dynamic_shapes=None, timeout_ms=2.5),
                 "got 2.5", id="timeout-float"),
    pytest.param(lambda g: dimsolve.trace_guards(Pair(), ARGS[:1], [ARGS[1]]), "kwargs must be a dict",
                 id="trace-kwargs-as-a-list"),
    pytest.param(lambda g: dimsolve.export(Pair(), ARGS[:1], [ARGS[1]], dynamic_shapes=None),
                 "kwargs must be a dict", id="export-kwargs-as-a-list"),
    pytest.param(lambda g: dimsolve.check_spec({"a": 1}, {"x": None}), "guards must be a GuardSet", id="spec-on-a-dict"),
    pytest.param(lambda g: dimsolve.check_spec(g.model_dump_json(), None), "from_json", id="spec-on-json-text"),
    pytest.param(lambda g: dimsolve.check_spec(g, None, timeout_ms=0), "timeout_ms", id="check-spec-timeout-0"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Ids(), IDS, dynamic_shapes=None, value_ranges={"ids": (5, 1)}),
                 "lowest <= highest, got (5, 1)", id="value-range-reversed"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Ids(), IDS, dynamic_shapes=None, value_ranges={"ids": 3}),
                 "must be (lowest, highest) ints", id="value-range-not-a-pair"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Ids(), IDS, dynamic_shapes=None, value_ranges=[("ids", 1)]),
                 "value_ranges must be a dict", id="value-ranges-not-a-dict"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Pair(), ARGS, dynamic_shapes=None, verify_fix="False"),
                 "verify_fix must be True or False, got 'False'", id="verify-fix-a-string"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Pair(), ARGS, dynamic_shapes=None, strict=1),
                 "strict must be True or False, got 1", id="strict-an-int"),
    pytest.param(lambda g: dimsolve.export(Pair(), ARGS, dynamic_shapes=None, strict="yes"),
                 "strict must be True or False", id="export-strict-a-string"),
    # a name that is no integer input would be ignored, and the example's values assumed instead
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Ids(), IDS, dynamic_shapes=None, value_ranges={"mask": (0, 1)}),
                 "the integer tensor inputs are: cfg['mask'], ids", id="value-range-unknown-input"),
    pytest.param(lambda g: dimsolve.check_dynamic_shapes(Ids(), IDS, dynamic_shapes=None, value_ranges={"x": (0, 1)}),
                 "'x', which is not an integer tensor input", id="value-range-float-input"),
]


@pytest.mark.parametrize("call, words", MISUSE)
def test_misuse_raises_invalid_argument_with_a_clear_message(guards, call, words):
    with pytest.raises(dimsolve.InvalidArgument) as info:
        call(guards)
    assert words in str(info.value)
    assert isinstance(info.value, dimsolve.DimsolveError) and isinstance(info.value, TypeError)


def test_a_5000_deep_spec_is_ds109_in_both_entry_points(guards):
    deep = None
    for _ in range(5_000):
        deep = (deep,)
    spec = {"x": deep, "pair": (None, None)}
    for report in (dimsolve.check_dynamic_shapes(Pair(), ARGS, dynamic_shapes=spec), dimsolve.check_spec(guards, spec)):
        assert [(d.code, d.paths) for d in report.diagnostics] == [("DS109", ('dynamic_shapes["x"]',))]


b = Dim("b")
CONTAINER_SPECS = [
    pytest.param({"x": (b, 4), "pair": (None, None)}, id="tuple-spec-for-a-tuple"),
    pytest.param({"x": (b, 4), "pair": [None, None]}, id="list-spec-for-a-tuple"),
    pytest.param({"x": None, "pair": ((b, 4), (b, 4))}, id="nested-tuple"),
    pytest.param({"x": None, "pair": [(b, 4), (b, 4)]}, id="nested-list"),
]


@pytest.mark.parametrize("spec", CONTAINER_SPECS)
def test_check_spec_agrees_with_check_dynamic_shapes_on_container_inputs(guards, spec):
    cached = dimsolve.check_spec(guards, spec)
    traced = dimsolve.check_dynamic_shapes(Pair(), ARGS, dynamic_shapes=spec)
    assert [(d.code, d.paths) for d in cached.diagnostics if d.code.startswith("DS1")] == \
           [(d.code, d.paths) for d in traced.diagnostics if d.code.startswith("DS1")]
    list_for_tuple = isinstance(spec["pair"], list)
    assert any(d.code == "DS109" for d in cached.diagnostics) == list_for_tuple


def test_torch_refuses_a_list_spec_for_a_tuple_input():
    # the behaviour the two entry points now share
    with pytest.raises(Exception, match="is a <class 'tuple'>, but `dynamic_shapes\\['pair'\\]` is a <class 'list'>"):
        torch.export.export(Pair(), ARGS, dynamic_shapes={"x": None, "pair": [None, None]})
