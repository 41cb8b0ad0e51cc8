"""The GuardSet cache never lies or hangs: a tampered entry with a recomputed checksum is rebuilt, only
regular files are read, and a cache that cannot be written means "run without it" plus one warning.

The unit tests use ``GuardSetCache`` directly; the last tests run the real ``dimsolve lint``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest
import sympy

from dimsolve.dims.model import DimPath, InputPath
from dimsolve.export import cache as cache_module
from dimsolve.export.cache import GuardSetCache, Lookup, cache_secret, secret_path
from dimsolve.guards.model import GuardRecord, GuardSet, SymbolInfo
from dimsolve.guards.serialize import to_json

KEY = "c" * 64
S0, S1 = sympy.symbols("s0 s1", integer=True, positive=True)
INPUTS = json.dumps({"params": ["x", "y"], "leaves": [{"path": ["x"], "shape": [4]}, {"path": ["y"], "shape": [4]}]})


def guardset():
    return GuardSet(
        symbols=(SymbolInfo("s0", (DimPath(InputPath(("x",)), 0),), 4), SymbolInfo("s1", (DimPath(InputPath(("y",)), 0),), 4)),
        guards=(GuardRecord(sympy.Eq(S0, S1)),),
        torch_version="2.13.0",
        meta={"inputs": INPUTS},
    )


@pytest.fixture
def cache(tmp_path):
    c = GuardSetCache(tmp_path / "cache")
    assert c.store(KEY, to_json(guardset()))
    return c


def _load_within(cache, seconds=10.0):
    """``cache.load(KEY)`` in a thread: a read that blocks fails the test instead of hanging it."""
    out = []
    worker = threading.Thread(target=lambda: out.append(cache.load(KEY)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert out, f"cache.load blocked for more than {seconds} s"
    return out[0]


def _drop_guards(text):
    data = json.loads(text)
    data["guards"] = []
    return json.dumps(data, indent=2)


# --- tampering --------------------------------------------------------------------------------


def test_an_entry_with_a_guard_removed_and_its_checksum_recomputed_is_rebuilt(cache):
    # what anyone who can write the directory can do without the secret: edit, then recompute a hash
    entry = json.loads(cache.entry_path(KEY).read_text())
    entry["guardset"] = _drop_guards(entry["guardset"])
    entry["hmac"] = hashlib.sha256(entry["guardset"].encode()).hexdigest()
    cache.entry_path(KEY).write_text(json.dumps(entry))
    assert cache.load(KEY) == (None, Lookup.CORRUPT)
    assert not cache.entry_path(KEY).exists()


def test_a_version_1_entry_with_a_plain_sha256_is_not_trusted(cache):
    text = _drop_guards(to_json(guardset()))
    old = {"format": "dimsolve-guardset-cache", "version": 1, "key": KEY, "guardset": text,
           "sha256": hashlib.sha256(text.encode()).hexdigest()}
    cache.entry_path(KEY).write_text(json.dumps(old))
    assert cache.load(KEY) == (None, Lookup.CORRUPT)


def test_an_entry_signed_with_another_secret_is_not_trusted(tmp_path, cache):
    other = GuardSetCache(tmp_path / "cache", secret=b"x" * 64)
    assert other.load(KEY) == (None, Lookup.CORRUPT)
    assert other.store(KEY, to_json(guardset())) and other.load(KEY)[1] is Lookup.HIT
    assert cache.load(KEY) == (None, Lookup.CORRUPT)


def test_the_secret_is_created_once_outside_the_cache_and_the_environment_overrides_it(cache, monkeypatch):
    path = secret_path()
    assert path.is_file() and cache.directory not in path.parents
    if os.name == "posix":
        assert path.stat().st_mode & 0o077 == 0  # readable by its owner only
    first = cache_secret()
    assert cache_secret() == first and len(first) >= 32
    monkeypatch.setenv("DIMSOLVE_CACHE_SECRET", "ci-secret-" + "z" * 32)
    assert cache_secret() == b"ci-secret-" + b"z" * 32
    assert GuardSetCache(cache.directory).load(KEY) == (None, Lookup.CORRUPT)  # signed under the file's key


def test_without_a_secret_nothing_is_trusted_and_nothing_is_deleted(cache, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker / "config"))  # the secret cannot be created
    fresh = GuardSetCache(cache.directory)
    assert fresh.load(KEY) == (None, Lookup.MISS)
    assert fresh.entry_path(KEY).exists()
    assert fresh.store("d" * 64, to_json(guardset())) is False
    assert "cache secret" in fresh.unusable()


# --- only regular files, bounded ----------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_entry_is_not_read_and_is_removed(cache):
    cache.entry_path(KEY).unlink()
    os.mkfifo(cache.entry_path(KEY))
    assert _load_within(cache) == (None, Lookup.CORRUPT)
    assert not cache.entry_path(KEY).exists()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_link_to_dev_zero_is_not_followed(cache):
    cache.entry_path(KEY).unlink()
    cache.entry_path(KEY).symlink_to("/dev/zero")
    assert _load_within(cache) == (None, Lookup.CORRUPT)
    assert not cache.entry_path(KEY).is_symlink() and Path("/dev/zero").exists()


def test_a_link_to_a_valid_entry_is_not_followed(cache, tmp_path):
    moved = tmp_path / "elsewhere.json"
    shutil.move(cache.entry_path(KEY), moved)
    cache.entry_path(KEY).symlink_to(moved)
    assert cache.load(KEY) == (None, Lookup.CORRUPT)
    assert moved.exists()  # the link went, not its target


def test_a_directory_entry_is_corrupt_not_an_exception(cache):
    cache.entry_path(KEY).unlink()
    cache.entry_path(KEY).mkdir()
    (cache.entry_path(KEY) / "inside").write_text("x")
    assert cache.load(KEY) == (None, Lookup.CORRUPT)
    assert cache.store(KEY, to_json(guardset())) is False  # cannot replace a directory: checked without cache
    assert cache.clear() == 0 and cache.entry_path(KEY).is_dir()  # `cache clear` does not crash on it


def test_an_entry_over_the_size_limit_is_not_read(cache, monkeypatch):
    monkeypatch.setattr(cache_module, "MAX_ENTRY_BYTES", 100)
    assert cache.entry_path(KEY).stat().st_size > 100
    assert cache.load(KEY) == (None, Lookup.CORRUPT)


# --- an unwritable cache --------------------------------------------------------------------------


def test_an_unwritable_cache_directory_stores_nothing_and_says_why(tmp_path):
    # a regular file where a directory should be: unwritable even for root
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = GuardSetCache(blocker / "cache")
    assert cache.store(KEY, to_json(guardset())) is False
    assert cache.load(KEY) == (None, Lookup.MISS)
    assert "cannot write the cache directory" in cache.unusable()
    assert GuardSetCache(tmp_path / "fine").unusable() is None


# --- the real CLI -------------------------------------------------------------------------------

CASES = '''\
import torch
from torch.export import Dim

import dimsolve


class Add(torch.nn.Module):
    def forward(self, x, y):
        return x + y


@dimsolve.case
def violating():
    return Add(), (torch.randn(4), torch.randn(4)), {}, {"x": (Dim("a"),), "y": (Dim("b"),)}
'''


@pytest.fixture(scope="module")
def small_repo(tmp_path_factory):
    from lint_repo import PYPROJECT, lint

    root = tmp_path_factory.mktemp("small-repo")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "models").mkdir()
    (root / "models" / "shape_cases.py").write_text(CASES)
    cold = lint(root, "--format", "json")
    assert cold.returncode == 1, cold.stderr
    return root


def _codes(result):
    doc = json.loads(result.stdout)
    return [d["code"] for case in doc["cases"] for d in (case["report"] or {}).get("diagnostics", [])], doc["summary"]


@pytest.mark.torch
@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs")
def test_lint_with_a_tampered_a_fifo_and_an_unwritable_cache_still_reports_the_finding(small_repo, tmp_path):
    from lint_repo import finish, start_lint

    [entry] = (small_repo / ".dimsolve_cache" / "guardsets").glob("*.json")
    tampered = tmp_path / "tampered"
    shutil.copytree(small_repo / ".dimsolve_cache", tampered)
    target = tampered / "guardsets" / entry.name
    data = json.loads(target.read_text())
    data["guardset"] = _drop_guards(data["guardset"])
    data["hmac"] = hashlib.sha256(data["guardset"].encode()).hexdigest()
    target.write_text(json.dumps(data))
    fifo = tmp_path / "fifo"
    shutil.copytree(small_repo / ".dimsolve_cache", fifo)
    (fifo / "guardsets" / entry.name).unlink()
    os.mkfifo(fifo / "guardsets" / entry.name)
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    procs = {name: start_lint(small_repo, "--format", "json", cache_dir=where)
             for name, where in (("tampered", tampered), ("fifo", fifo), ("unwritable", blocker / "cache"))}
    results = {name: finish(proc, timeout=240) for name, proc in procs.items()}

    for name, result in results.items():
        assert result.returncode == 1, (name, result.stderr)
        codes, summary = _codes(result)
        assert codes == ["DS201"], (name, codes)
        assert summary["errors"] == 0 and "internal error" not in result.stdout
    assert _codes(results["tampered"])[1]["cache_rebuilt"] == 1
    assert _codes(results["fifo"])[1]["cache_rebuilt"] == 1
    warnings = [ln for ln in results["unwritable"].stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "running without the cache" in warnings[0], results["unwritable"].stderr
