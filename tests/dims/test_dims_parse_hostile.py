"""Hostile specs get DS1xx findings, never an exception: a spec or an input nested beyond
``MAX_DEPTH`` containers (the parser and the message renderer both recurse over nesting), a value
whose ``__repr__`` raises."""

import pytest
from dims_helpers import Two, t
from torch.export import Dim

from dimsolve.dims import parse_spec
from dimsolve.dims.parse import MAX_DEPTH


def _nested(depth, wrap):
    value = None
    for _ in range(depth):
        value = wrap(value)
    return value


def _self_referencing():
    loop = []
    loop.append(loop)
    return loop


DEEP = [
    pytest.param({"x": _nested(5_000, lambda v: (v,)), "y": None}, 'dynamic_shapes["x"]', id="5000-deep-tuple"),
    pytest.param({"x": _nested(5_000, lambda v: {0: v}), "y": None}, 'dynamic_shapes["x"]', id="5000-deep-dict"),
    pytest.param(_nested(5_000, lambda v: [v]), "dynamic_shapes[0]", id="5000-deep-positional"),
    pytest.param({"x": None, "y": _self_referencing()}, 'dynamic_shapes["y"]', id="self-referencing-list"),
    pytest.param({"x": _nested(MAX_DEPTH, lambda v: (v,)), "y": None}, 'dynamic_shapes["x"]', id="one-level-too-deep"),
]


@pytest.mark.parametrize("spec, path", DEEP)
def test_a_spec_nested_too_deep_is_ds109_at_its_input(spec, path):
    result = parse_spec(Two(), (t(4), t(4)), None, spec)
    assert result.spec is None
    [found] = result.diagnostics
    assert (found.code, found.paths) == ("DS109", (path,))
    assert f"more than {MAX_DEPTH} levels" in found.message


def test_a_spec_just_within_the_depth_gets_the_ordinary_findings():
    spec = {"x": _nested(MAX_DEPTH - 1, lambda v: (v,)), "y": (Dim("d"),)}
    found = parse_spec(Two(), (t(4), t(4)), None, spec).diagnostics
    assert found and not any("levels deep" in d.message for d in found)


def test_example_inputs_nested_too_deep_are_ds101():
    deep_input = _nested(5_000, lambda v: (v,))
    result = parse_spec(Two(), (t(4), deep_input), None, None)
    [found] = result.diagnostics
    assert (found.code, found.paths) == ("DS101", ('dynamic_shapes["y"]',))


class _BadRepr:
    def __repr__(self):
        raise RuntimeError("repr")


def test_a_value_whose_repr_raises_still_gets_its_finding():
    result = parse_spec(Two(), (t(4), t(4)), None, {"x": _BadRepr(), "y": None})
    [found] = result.diagnostics
    assert found.code == "DS109" and "<_BadRepr object> (_BadRepr)" in found.message
