import copy
import json

import pytest
import sympy

from dimsolve.diagnostics.model import SourceLocation
from dimsolve.dims.model import AttrKey, DimPath, InputPath
from dimsolve.guards.model import GuardKind, GuardRecord, GuardSet, Specialization, SymbolInfo, TraceFailure
from dimsolve.guards.serialize import (
    SCHEMA_VERSION,
    GuardSetFormatError,
    from_json,
    guardset_from_dict,
    guardset_to_dict,
    to_json,
)

F = pytest.importorskip("torch.utils._sympy.functions")

# torch's own symbol assumptions: sizes are positive integers, unbacked values plain integers
S0, S1 = sympy.symbols("s0 s1", integer=True, positive=True)
U0 = sympy.Symbol("u0", integer=True)


def x_dim(axis, *keys):
    return DimPath(InputPath(keys or ("x",)), axis)


def sample_guardset():
    origin = SourceLocation("model.py", 12, "forward", "w = x + y", "torch/nn/modules/linear.py:134")
    return GuardSet(
        symbols=(
            SymbolInfo("s0", (x_dim(0), x_dim(0, "inputs", 1, "a")), 8),
            SymbolInfo("s1", (x_dim(1, "y"),), 6),
            SymbolInfo("u0", (), None, backed=False),
        ),
        guards=(
            GuardRecord(sympy.Eq(S0, S1), GuardKind.GUARD, origin),
            GuardRecord(sympy.Eq(F.Mod(S0 + F.PythonMod(-S0, 3), 3), 0)),
            GuardRecord(sympy.Or(sympy.Eq(S0, 4), S0 * S1 > 64), GuardKind.RUNTIME_ASSERT, SourceLocation("m.py", 3)),
            GuardRecord(U0 >= 0, GuardKind.DATA_DEPENDENT),
        ),
        specializations=(Specialization(x_dim(2), 1, "size 1 in the example"),),
        failures=(
            TraceFailure("data-dependent branch", sympy.Gt(U0, 2), origin, "data_dependent"),
            TraceFailure("unsupported op"),
        ),
        strict=True,
        torch_version="2.13.0",
        meta={"model": "Toy"},
    )


def test_json_round_trip():
    gs = sample_guardset()
    back = from_json(to_json(gs))
    assert back == gs
    assert back.meta == gs.meta
    # symbols come back with torch's assumptions, so they are the very same sympy symbols
    assert back.guards[0].expr.free_symbols == {S0, S1}
    assert back.failures[0].expr.free_symbols == {U0}


def test_field_keys_stay_fields():
    # p.a (a namedtuple field) and p['a'] (a dict key) are written apart and read back as they were
    field, key = x_dim(0, "p", AttrKey("a")), x_dim(1, "p", "a")
    gs = GuardSet(symbols=(SymbolInfo("s0", (field,), 4), SymbolInfo("s1", (key,), 3)), guards=())
    data = guardset_to_dict(gs)
    assert [s["paths"][0]["input"] for s in data["symbols"]] == [["p", {"attr": "a"}], ["p", "a"]]
    back = from_json(to_json(gs))
    assert [str(s.paths[0]) for s in back.symbols] == ["p.a.shape[0]", "p['a'].shape[1]"]


def test_dict_form_is_documented_shape():
    d = guardset_to_dict(sample_guardset())
    assert d["schema_version"] == SCHEMA_VERSION == 1
    assert d["symbols"][0] == {
        "name": "s0",
        "paths": [{"input": ["x"], "axis": 0}, {"input": ["inputs", 1, "a"], "axis": 0}],
        "example": 8,
        "backed": True,
    }
    assert d["guards"][0] == {
        "expr": "Eq(s0, s1)",
        "kind": "guard",
        "origin": {
            "file": "model.py", "line": 12, "function": "forward", "code": "w = x + y",
            "op": "torch/nn/modules/linear.py:134",
        },
    }
    assert d["guards"][1]["expr"] == "Eq(Mod(s0 + PythonMod(-s0, 3), 3), 0)"
    assert d["assumptions"] == {
        "s0": {"integer": True, "positive": True},
        "s1": {"integer": True, "positive": True},
        "u0": {"integer": True},
    }
    assert json.loads(json.dumps(d)) == d


def test_empty_guardset_round_trip():
    gs = GuardSet(symbols=(), guards=())
    assert guardset_from_dict(guardset_to_dict(gs)) == gs


def test_optional_fields_may_be_omitted():
    d = guardset_to_dict(sample_guardset())
    del d["assumptions"], d["meta"], d["specializations"][0]["reason"]
    for key in ("function", "code", "op"):
        del d["guards"][0]["origin"][key]
    gs = guardset_from_dict(d)
    assert gs.guards[0].origin == SourceLocation("model.py", 12)
    assert gs.guards[0].expr == sympy.Eq(*sympy.symbols("s0 s1", integer=True))


def test_two_symbols_with_one_name_cannot_be_written():
    other_s0 = sympy.Symbol("s0", integer=True)
    gs = GuardSet(symbols=(), guards=(GuardRecord(S0 > 2), GuardRecord(other_s0 < 9)))
    with pytest.raises(GuardSetFormatError) as info:
        guardset_to_dict(gs)
    assert info.value.path == "guards[1].expr"


def test_unwritable_expression_names_its_guard():
    gs = GuardSet(symbols=(), guards=(GuardRecord(S0 > 2), GuardRecord(sympy.Eq(S0 / 2, S1))))
    with pytest.raises(GuardSetFormatError) as info:
        guardset_to_dict(gs)
    assert info.value.path == "guards[1].expr"


def _set(path, value):
    def edit(d):
        *parents, last = path
        for key in parents:
            d = d[key]
        d[last] = value

    return edit


def _delete(path):
    def edit(d):
        *parents, last = path
        for key in parents:
            d = d[key]
        del d[last]

    return edit


MALFORMED = [
    pytest.param(_delete(["guards", 3, "expr"]), "guards[3].expr", "missing required field", id="missing-expr"),
    pytest.param(_set(["guards", 1, "expr"], 5), "guards[1].expr", "expected a string", id="expr-not-string"),
    pytest.param(
        _set(["guards", 0, "expr"], "__import__('os').system('ls')"), "guards[0].expr", "invalid expression",
        id="hostile-expr",
    ),
    pytest.param(_set(["guards", 0, "expr"], "x" * 200_000), "guards[0].expr", "limit", id="long-expr"),
    pytest.param(_set(["guards", 2, "kind"], "bogus"), "guards[2].kind", "unknown guard kind", id="bad-kind"),
    pytest.param(_set(["guards", 0, "origin", "line"], "12"), "guards[0].origin.line", "integer", id="line-str"),
    pytest.param(_delete(["guards", 0, "origin", "file"]), "guards[0].origin.file", "missing", id="origin-file"),
    pytest.param(_set(["guards", 0, "origin"], []), "guards[0].origin", "expected an object", id="origin-array"),
    pytest.param(_set(["guards", 0, "extra"], 1), "guards[0].extra", "unknown field", id="unknown-field"),
    pytest.param(_set(["guards"], {}), "guards", "expected an array", id="guards-object"),
    pytest.param(_set(["guards", 1], "Eq(s0, s1)"), "guards[1]", "expected an object", id="guard-string"),
    pytest.param(_set(["symbols", 0, "example"], True), "symbols[0].example", "integer", id="bool-example"),
    pytest.param(_set(["symbols", 0, "example"], 8.0), "symbols[0].example", "integer", id="float-example"),
    pytest.param(_set(["symbols", 0, "backed"], 1), "symbols[0].backed", "true or false", id="int-backed"),
    pytest.param(_set(["symbols", 0, "name"], None), "symbols[0].name", "string", id="null-name"),
    pytest.param(
        _set(["symbols", 0, "paths", 1, "input", 1], [1]), "symbols[0].paths[1].input[1]", "integer", id="input-key"
    ),
    pytest.param(_set(["symbols", 0, "paths", 0, "input"], []), "symbols[0].paths[0].input", "argument", id="no-key"),
    pytest.param(_delete(["symbols", 1, "paths", 0, "axis"]), "symbols[1].paths[0].axis", "missing", id="no-axis"),
    pytest.param(_set(["specializations", 0, "value"], None), "specializations[0].value", "integer", id="spec"),
    pytest.param(_set(["failures", 0, "expr"], "u0 >"), "failures[0].expr", "invalid expression", id="failure-expr"),
    pytest.param(_set(["assumptions", "s0"], {"positive": "yes"}), "assumptions.s0.positive", "true", id="flag"),
    pytest.param(_set(["assumptions", "s0"], {"__class__": True}), "assumptions.s0.__class__", "sympy", id="dunder"),
    pytest.param(
        _set(["assumptions", "s0"], {"positive": True, "negative": True}), "assumptions.s0",
        "invalid assumptions: positive=true, negative=true contradict each other", id="contra"
    ),
    pytest.param(_set(["meta", "model"], 3), "meta.model", "string", id="meta-value"),
    pytest.param(_set(["schema_version"], 2), "schema_version", "unsupported schema version 2", id="version"),
    pytest.param(_delete(["schema_version"]), "schema_version", "missing", id="no-version"),
    pytest.param(_set(["strict"], "false"), "strict", "true or false", id="strict-string"),
    pytest.param(_delete(["torch_version"]), "torch_version", "missing", id="no-torch-version"),
]


@pytest.mark.parametrize("edit, path, message", MALFORMED)
def test_malformed_dict_names_the_path(edit, path, message):
    d = copy.deepcopy(guardset_to_dict(sample_guardset()))
    edit(d)
    with pytest.raises(GuardSetFormatError) as info:
        guardset_from_dict(d)
    assert info.value.path == path
    assert message in info.value.message


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("", "not valid JSON", id="empty"),
        pytest.param("{", "not valid JSON", id="truncated"),
        pytest.param('{"a": ' + "1" * 5000 + "}", "not valid JSON: a number has more digits than Python reads",
                     id="long-number"),
        pytest.param("[" * 100_000 + "]" * 100_000, "not valid JSON: nested too deeply", id="deep"),
        pytest.param("[]", "expected an object", id="array"),
        pytest.param("null", "expected an object", id="null"),
        pytest.param("[" * 100_000 + "]" * 100_000, "not valid JSON", id="deep"),
        pytest.param('{"schema_version": 1e400}', "integer", id="huge-float"),
    ],
)
def test_malformed_json_text(text, message):
    with pytest.raises(GuardSetFormatError) as info:
        from_json(text)
    assert message in str(info.value)


def test_index_bound_guards_keep_their_detail():
    from dimsolve.guards.model import IndexDetail, ValueRange

    s1 = sympy.Symbol("s1", integer=True, positive=True)
    detail = IndexDetail("embedding", "lm.wpe.weight", sympy.Integer(64), sympy.Integer(0), s1 - 1,
                         SourceLocation("m.py", 3, "forward", "pos = torch.arange(n)"), (ValueRange("mask", 0, 1),))
    gs = GuardSet((SymbolInfo("s1", (DimPath(InputPath(("x",)), 1),), 8, True),),
                  (GuardRecord(s1 <= 64, GuardKind.INDEX_BOUND, SourceLocation("m.py", 4), detail),))
    back = from_json(to_json(gs))
    assert back.guards == gs.guards and back.guards[0].index == detail
