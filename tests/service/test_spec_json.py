"""The JSON spec form (``dims.spec_json``): round trips, the same Spec as ``parse_spec``, errors by path.

These tests live with the service (its owner) though the module is in ``dims/``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimsolve.dims.model import DimKind, DimPath, InputPath, NodeKind, RootDim
from dimsolve.dims.spec_json import (
    SpecJsonError,
    TracedInputs,
    spec_from_json,
    spec_to_json,
    traced_inputs_from_meta,
)
from dimsolve.service.models import SpecWire

INPUTS = TracedInputs(("x", "y", "n"), ((InputPath(("x",)), (6, 4)), (InputPath(("y",)), (13, 4)),
                                        (InputPath(("n",)), None)))


def dim(name, axis, kind, **fields):
    return {"input": [name] if isinstance(name, str) else list(name), "axis": axis, "kind": kind, **fields}


def spec(*dims, roots=None, **extra):
    return {"schema_version": 1, "roots": roots or {}, "dims": list(dims), **extra}


def test_every_kind_reads_into_its_dim_spec():
    data = spec(dim("x", 0, "root", root="dx"), dim("x", 1, "static"), dim("y", 0, "derived", root="dx", coeff=2,
                offset=1), dim("y", 1, "auto", min=2, max=8), roots={"dx": {"min": 3, "max": 64}})
    result = spec_from_json(data, INPUTS)
    by_path = {str(e.path): e for e in result.entries}
    assert [str(e.path) for e in result.entries] == ["x.shape[0]", "x.shape[1]", "y.shape[0]", "y.shape[1]"]
    assert by_path["x.shape[0]"].dim.kind is DimKind.ROOT and by_path["x.shape[0]"].spec_path == 'dynamic_shapes["x"][0]'
    assert by_path["x.shape[1]"].dim.value == 4  # "static" without a value: the example's size
    assert (by_path["y.shape[0]"].dim.coeff, by_path["y.shape[0]"].dim.offset) == (2, 1)
    assert (by_path["y.shape[1]"].dim.min, by_path["y.shape[1]"].dim.max) == (2, 8)
    assert result.roots == {"dx": RootDim("dx", 3, 64)}
    assert result.params == ("x", "y", "n")
    assert [c.kind for c in result.layout.children] == [NodeKind.TENSOR, NodeKind.TENSOR, NodeKind.NONE]


def test_unlisted_inputs_are_none_and_their_dims_static():
    result = spec_from_json(spec(dim("x", 0, "dynamic")), INPUTS)
    assert [c.kind for c in result.layout.children] == [NodeKind.TENSOR, NodeKind.NONE, NodeKind.NONE]
    assert [(str(e.path), e.dim.kind, e.dim.value) for e in result.entries if not e.dim.is_dynamic] == [
        ("x.shape[1]", DimKind.STATIC, 4), ("y.shape[0]", DimKind.STATIC, 13), ("y.shape[1]", DimKind.STATIC, 4)]


def test_one_times_root_plus_zero_is_a_root():
    result = spec_from_json(spec(dim("x", 0, "derived", root="d", coeff=1, offset=0, example=6), dim("x", 1, "static", value=4),
                                 roots={"d": {}}))
    assert result.entries[0].dim.kind is DimKind.ROOT


def test_nested_inputs_get_container_layouts_and_spec_paths():
    inputs = TracedInputs(("inputs",), ((InputPath(("inputs", 0)), (5,)), (InputPath(("inputs", 1, "a")), (7, 2))))
    result = spec_from_json(spec(dim(["inputs", 1, "a"], 0, "auto")), inputs)
    assert [e.spec_path for e in result.entries] == [
        'dynamic_shapes["inputs"][0][0]', 'dynamic_shapes["inputs"][1]["a"][0]', 'dynamic_shapes["inputs"][1]["a"][1]']
    top = result.layout.children[0]
    assert top.kind is NodeKind.TUPLE and top.children[1].kind is NodeKind.DICT


SPECS = {
    "roots-and-derived": spec(dim("x", 0, "root", root="dx", example=6), dim("x", 1, "static", value=4),
                              dim("y", 0, "derived", root="dx", coeff=2, offset=1, example=13),
                              dim("y", 1, "dynamic", min=2, example=4), roots={"dx": {"min": 2, "max": 100}}),
    "statics-only": spec(dim("x", 0, "static", value=6), dim("x", 1, "static", value=4)),
    "auto": spec(dim("x", 0, "auto", example=6), dim("x", 1, "auto", max=8, example=4)),
}


@pytest.mark.parametrize("data", SPECS.values(), ids=SPECS.keys())
def test_round_trip_through_json(data):
    first = spec_from_json(data)
    text = json.dumps(spec_to_json(first))
    again = spec_from_json(json.loads(text))
    assert again == first
    assert SpecWire.model_validate_json(text)  # the service's request model accepts what the library writes


@pytest.mark.parametrize("data", SPECS.values(), ids=SPECS.keys())
def test_round_trip_with_traced_inputs(data):
    first = spec_from_json(data, INPUTS)
    assert spec_from_json(spec_to_json(first), INPUTS) == first


@pytest.mark.torch
def test_the_json_form_of_a_parsed_spec_parses_to_the_same_spec():
    import torch
    from torch.export import Dim

    from dimsolve.dims.parse import parse_spec

    def forward(x, y, pair, n):
        return x

    dx = Dim("dx", min=2, max=64)
    args = (torch.zeros(6, 4), torch.zeros(13, 4), (torch.zeros(3), torch.zeros(5, 2)), 3)
    dynamic_shapes = {"x": (dx, 4), "y": (2 * dx + 1, Dim.AUTO(max=9)), "pair": (None, (Dim.DYNAMIC, 2)), "n": None}
    parsed = parse_spec(forward, args, None, dynamic_shapes).spec
    leaves = ((InputPath(("x",)), (6, 4)), (InputPath(("y",)), (13, 4)), (InputPath(("pair", 0)), (3,)),
              (InputPath(("pair", 1)), (5, 2)), (InputPath(("n",)), None))
    again = spec_from_json(json.loads(json.dumps(spec_to_json(parsed))), TracedInputs(("x", "y", "pair", "n"), leaves))
    assert again == parsed


ERRORS = [
    ({"dims": []}, "schema_version", "missing required field"),
    (spec(dims=None), "dims", "expected an array"),
    ({**spec(), "schema_version": 2}, "schema_version", "unsupported schema version 2"),
    ({**spec(), "extra": 1}, "extra", "unknown field"),
    (spec(dim("x", 0, "root", root="dq"), roots={"dx": {}}), "dims[0].root", "unknown root 'dq'"),
    (spec(dim("x", 0, "sometimes")), "dims[0].kind", "unknown kind 'sometimes'"),
    (spec(dim("x", 0, "auto", value=3)), "dims[0].value", "an auto dim has no 'value'"),
    (spec(dim("x", 0, "static", root="dx")), "dims[0].root", "a static dim has no 'root'"),
    (spec(dim("x", 0, "derived", root="dx", coeff=0), roots={"dx": {}}), "dims[0].coeff", "positive"),
    (spec(dim("x", 0, "root", root="dx", offset=1), roots={"dx": {}}), "dims[0].kind", 'use kind "derived"'),
    (spec(dim("x", -1, "auto")), "dims[0].axis", "axis must be from 0"),
    (spec(dim("x", 0, "auto", example=True)), "dims[0].example", "expected an integer, got boolean"),
    (spec(dim("x", 0, "auto", example=-1)), "dims[0].example", "a size must be from 0"),
    (spec(dim("x", 0, "auto", example=2**64)), "dims[0].example", "a size must be from 0"),
    (spec(dim([3], 0, "auto")), "dims[0].input[0]", "expected the parameter name"),
    (spec(dim([], 0, "auto")), "dims[0].input", "at least the parameter name"),
    (spec(dim("x", 0, "auto", example=6), dim("x", 0, "static", value=6)), "dims[1]", "already given at dims[0]"),
    (spec(dim("x", 1, "auto", example=6)), "dims[0]", "lists axis 1 but not axis 0"),
    (spec(dim("x", 0, "auto")), "dims[0].example", "missing required field"),
    (spec(roots={"2x": {}}), "roots.2x", "identifier"),
    (spec(roots={"dx": {"min": 1, "mid": 3}}), "roots.dx.mid", "unknown field"),
    (spec(dim("x", 0, "auto", example=6), params=["y"]), "dims[0].input", "not among the inputs"),
    ([], "$", "expected an object"),
]


@pytest.mark.parametrize("data, path, message", ERRORS, ids=[f"{e[1]}:{e[2]}" for e in ERRORS])
def test_errors_name_the_json_path(data, path, message):
    with pytest.raises(SpecJsonError) as info:
        spec_from_json(data)
    assert info.value.path == path and message in info.value.message


TRACED_ERRORS = [
    (spec(dim("z", 0, "auto")), "dims[0].input", "`z` is not a tensor input of the traced model"),
    (spec(dim("n", 0, "auto")), "dims[0].input", "`n` is not a tensor"),
    (spec(dim("x", 2, "auto")), "dims[0].axis", "`x` has rank 2"),
    (spec(dim("x", 0, "auto", example=7)), "dims[0].example", "the traced example has `x.shape[0]` = 6, not 7"),
]


@pytest.mark.parametrize("data, path, message", TRACED_ERRORS, ids=[e[2] for e in TRACED_ERRORS])
def test_errors_against_the_traced_inputs(data, path, message):
    with pytest.raises(SpecJsonError) as info:
        spec_from_json(data, INPUTS)
    assert info.value.path == path and message in info.value.message


def test_traced_inputs_from_the_guardset_meta():
    meta = json.dumps({"params": ["x", "unused", "n"], "leaves": [{"path": ["x"], "shape": [6, 4]},
                                                                  {"path": ["n"], "shape": None}]})
    inputs = traced_inputs_from_meta(meta)
    assert inputs.params == ("x", "n") and inputs.shape(InputPath(("x",))) == (6, 4)
    with pytest.raises(SpecJsonError) as info:
        traced_inputs_from_meta(json.dumps({"params": [], "leaves": [{"path": ["x"], "shape": [1.5]}]}))
    assert info.value.path == "leaves[0].shape[0]"


def test_traced_inputs_from_symbols_need_every_axis():
    x = InputPath(("x",))
    assert TracedInputs.from_dims([(DimPath(x, 1), 4), (DimPath(x, 0), 6)]).leaves == ((x, (6, 4)),)
    assert TracedInputs.from_dims([(DimPath(x, 1), 4)]) is None


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)
DIM_FIELDS = st.fixed_dictionaries(
    {"input": st.lists(st.sampled_from(["x", "y", 0, 1, "a"]), max_size=3), "axis": st.integers(-1, 3),
     "kind": st.sampled_from(["static", "root", "derived", "auto", "dynamic", "other"])},
    optional={k: st.none() | st.integers(-3, 20) | st.sampled_from(["dx", "dy"])
              for k in ("example", "value", "root", "coeff", "offset", "min", "max")},
)


@settings(max_examples=200, deadline=None)
@given(dims=st.lists(DIM_FIELDS, max_size=5), junk=JSON_VALUES, traced=st.booleans())
def test_any_input_is_a_spec_or_a_spec_json_error(dims, junk, traced):
    data = spec(*dims, roots={"dx": {"min": 2}})
    for candidate in (data, junk, {**data, "params": junk}):
        try:
            result = spec_from_json(candidate, INPUTS if traced else None)
        except SpecJsonError as exc:
            assert exc.path and exc.message
            continue
        # whatever the library accepts, the service's request model accepts too
        SpecWire.model_validate_json(json.dumps(candidate))
        assert len({e.path for e in result.entries}) == len(result.entries)
