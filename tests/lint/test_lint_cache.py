"""The GuardSet cache: entries round-trip, anything that does not check out is corrupt, keys see what tracing sees."""

from __future__ import annotations

import json

import pytest
import sympy

from dimsolve.dims.model import DimPath, InputPath
from dimsolve.export.cache import GuardSetCache, Lookup, default_cache_dir
from dimsolve.guards.model import GuardRecord, GuardSet, SymbolInfo
from dimsolve.guards.serialize import to_json

KEY = "a" * 64
S0, S1 = sympy.symbols("s0 s1", integer=True, positive=True)
INPUTS = json.dumps({"params": ["x", "y"], "leaves": [{"path": ["x"], "shape": [4]}, {"path": ["y"], "shape": [4]}]})


def guardset(meta=True):
    return GuardSet(
        symbols=(SymbolInfo("s0", (DimPath(InputPath(("x",)), 0),), 4), SymbolInfo("s1", (DimPath(InputPath(("y",)), 0),), 4)),
        guards=(GuardRecord(sympy.Eq(S0, S1)),),
        torch_version="2.13.0",
        meta={"inputs": INPUTS} if meta else {},
    )


@pytest.fixture
def cache(tmp_path):
    return GuardSetCache(tmp_path / "cache")


def test_store_then_load_round_trips(cache):
    cache.store(KEY, to_json(guardset()))
    loaded, lookup = cache.load(KEY)
    assert lookup is Lookup.HIT
    assert loaded == guardset() and loaded.meta["inputs"] == INPUTS
    assert cache.load("b" * 64) == (None, Lookup.MISS)
    assert [p.name for p in (cache.directory / "guardsets").iterdir()] == [f"{KEY}.json"]  # no temp files left


def _entry(cache):
    return json.loads(cache.entry_path(KEY).read_text())


def _rewrite(cache, change):
    data = _entry(cache)
    change(data)
    cache.entry_path(KEY).write_text(json.dumps(data))


def _with_text(text):
    """Replace the GuardSet text and sign it with the cache's own secret: the content checks, not the MAC, refuse it."""
    from dimsolve.export.cache import cache_secret
    from dimsolve.export.cache_entry import entry_mac

    def change(data):
        data["guardset"] = text
        data["hmac"] = entry_mac(cache_secret(), data["key"], text)

    return change


CORRUPTIONS = {
    "truncated": lambda c: c.entry_path(KEY).write_bytes(c.entry_path(KEY).read_bytes()[:50]),
    "not-json": lambda c: c.entry_path(KEY).write_text("{not json"),
    "not-utf8": lambda c: c.entry_path(KEY).write_bytes(b"\xff\xfe\x00"),
    "not-an-object": lambda c: c.entry_path(KEY).write_text("[1, 2]"),
    "extra-field": lambda c: _rewrite(c, lambda d: d.update(extra=1)),
    "wrong-key": lambda c: _rewrite(c, lambda d: d.update(key="b" * 64)),
    "wrong-format-version": lambda c: _rewrite(c, lambda d: d.update(version=99)),
    "checksum-mismatch": lambda c: _rewrite(c, lambda d: d.update(guardset=d["guardset"] + " ")),
    "guardset-wrong-schema": lambda c: _rewrite(c, _with_text(json.dumps({"schema_version": 2}))),
    "guardset-bad-expression": lambda c: _rewrite(
        c, _with_text(_entry(c)["guardset"].replace("Eq(s0, s1)", "__import__('os')"))),
    "guardset-without-inputs": lambda c: _rewrite(c, _with_text(to_json(guardset(meta=False)))),
    "guardset-not-a-string": lambda c: _rewrite(c, lambda d: d.update(guardset={"schema_version": 1})),
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_corrupt_entries_are_never_trusted_and_are_removed(cache, corrupt):
    cache.store(KEY, to_json(guardset()))
    corrupt(cache)
    assert cache.load(KEY) == (None, Lookup.CORRUPT)
    assert not cache.entry_path(KEY).exists()
    cache.store(KEY, to_json(guardset()))
    assert cache.load(KEY)[1] is Lookup.HIT


def test_default_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("DIMSOLVE_CACHE_DIR", raising=False)
    assert default_cache_dir(tmp_path) == tmp_path / ".dimsolve_cache"
    assert default_cache_dir(tmp_path, "build/guards") == tmp_path / "build/guards"
    monkeypatch.setenv("DIMSOLVE_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir(tmp_path, "build/guards") == tmp_path / "env"


# --- with torch ---------------------------------------------------------------------------------


@pytest.fixture
def torch_bits():
    torch = pytest.importorskip("torch")
    from torch.export import Dim

    class Add(torch.nn.Module):
        def forward(self, x, y):
            return x + y

    class Proj(torch.nn.Module):
        def __init__(self, n=4):
            super().__init__()
            self.lin = torch.nn.Linear(n, n)

        def forward(self, x):
            return self.lin(x)

    return torch, Dim, Add, Proj


@pytest.mark.torch
def test_key_sees_inputs_weights_strict_and_salt_but_not_the_spec(torch_bits):
    from dimsolve.export.cache import cache_key

    torch, Dim, Add, Proj = torch_bits
    x = torch.randn(4)
    base = cache_key(Add(), (x, x), None, strict=False)
    assert cache_key(Add(), (torch.randn(4), torch.randn(4)), {}, strict=False) == base  # values do not matter
    different = {
        "shape": cache_key(Add(), (torch.randn(5), x), None, strict=False),
        "dtype": cache_key(Add(), (x.double(), x), None, strict=False),
        "strict": cache_key(Add(), (x, x), None, strict=True),
        "salt": cache_key(Add(), (x, x), None, strict=False, salt="case file v2"),
        "model": cache_key(Proj(), (torch.randn(3, 4),), None, strict=False),
    }
    assert len({base, *different.values()}) == 1 + len(different)
    m = torch.randn(3, 4)
    assert cache_key(Proj(4), (m,), None, strict=False) != cache_key(Proj(8), (m,), None, strict=False)


@pytest.mark.torch
@pytest.mark.parametrize(
    "example, spec_of, source, codes",
    [
        pytest.param(4, lambda Dim: {"x": (Dim("a"),), "y": (Dim("b"),)}, "traced", ["DS201"], id="violated"),
        pytest.param(4, lambda Dim: {"x": (Dim("d"),), "y": (Dim("d"),)}, "traced", [], id="valid"),
        pytest.param(4, lambda Dim: {"x": (Dim("d"), 3), "y": None}, "none", ["DS102"], id="spec-error-no-trace"),
        pytest.param(1, lambda Dim: {"x": (Dim("a"),), "y": (Dim("b"),)}, "traced", ["DS403", "DS403", "DS201"], id="zero-one"),
    ],
)
def test_check_cached_agrees_with_check_dynamic_shapes(tmp_path, torch_bits, example, spec_of, source, codes):
    import dimsolve
    from dimsolve.export.cache import check_cached

    torch, Dim, Add, _ = torch_bits
    args = (torch.randn(example), torch.randn(example))
    spec = spec_of(Dim)
    expected = dimsolve.check_dynamic_shapes(Add(), args, dynamic_shapes=spec)
    cache = GuardSetCache(tmp_path)
    first = check_cached(Add(), args, dynamic_shapes=spec, cache=cache)
    second = check_cached(Add(), args, dynamic_shapes=spec, cache=cache)
    # 0/1 examples re-trace with grown inputs every time (check_dynamic_shapes); everything else is cached
    assert (first.source, second.source) == (source, "cached" if source == "traced" and example > 1 else source)
    for checked in (first, second):
        assert [d.code for d in checked.report.diagnostics] == [d.code for d in expected.diagnostics]
        assert [d.code for d in checked.report.diagnostics if d.is_error] == codes
        assert [d.message for d in checked.report.diagnostics] == [d.message for d in expected.diagnostics]
        assert checked.report.fix_code == expected.fix_code
