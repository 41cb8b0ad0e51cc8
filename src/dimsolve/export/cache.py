"""GuardSets cached on disk, so a second ``dimsolve lint`` re-checks specs without re-tracing.

An entry is keyed by what tracing depends on: the source of the model's classes (and their module
files), the case file, the shapes/dtypes/strides of the example inputs and of the model's
parameters, the strict flag, and the torch and dimsolve versions. The spec is not part of the key:
a GuardSet checks any spec for its inputs (``check_spec``), which is what makes editing a spec cheap.

Entries are untrusted input: anyone who can write the cache directory (a CI cache restored from
another branch, a shared checkout) can write an entry. Each entry stores its own key and an
HMAC-SHA256 of key and GuardSet text under a secret kept *outside* the cache directory
(``$DIMSOLVE_CACHE_SECRET``, else a random key created once in ``~/.config/dimsolve/cache-key``),
so an entry edited with a recomputed checksum does not check out. Only regular files of at most
``MAX_ENTRY_BYTES`` are read (a FIFO, a device or a symlink is never opened for reading), the text
is read back with the GuardSet parser (never ``eval``/pickle), and anything that does not check
out (not a regular file, bad JSON, wrong key, wrong MAC, truncated file, unknown schema) is
reported as corrupt and rebuilt. Writes go to a temporary file in the same directory, then
``os.replace``, so concurrent lint workers never see half an entry. A cache that cannot be
written (or a secret that cannot be read or created) is not an error: checks run without it.

What the key cannot see: code the model calls in modules that define none of its classes (a helper
function in ``utils.py``). After changing such code, run with ``--no-cache`` or ``dimsolve cache clear``.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import inspect
import json
import os
import secrets
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dimsolve.export.report import Report
from dimsolve.guards.model import GuardSet

CACHE_ENV = "DIMSOLVE_CACHE_DIR"
DEFAULT_DIRNAME = ".dimsolve_cache"
SECRET_ENV = "DIMSOLVE_CACHE_SECRET"
ENTRY_FORMAT = "dimsolve-guardset-cache"
ENTRY_VERSION = 2  # 2: an HMAC under a secret kept outside the cache (1 had a plain sha256)
MAX_ENTRY_BYTES = 64 * 1024 * 1024
_ENTRY_FIELDS = {"format", "version", "key", "hmac", "guardset"}
_ENTRIES = "guardsets"
_TAG = "CACHEDIR.TAG"
_TAG_TEXT = "Signature: 8a477f597d28d172789f06886806bc55\n# dimsolve's GuardSet cache; `dimsolve cache clear` removes it\n"


class Lookup(str, enum.Enum):
    HIT = "hit"
    MISS = "miss"
    CORRUPT = "corrupt"  # an entry existed but did not check out; it was removed


def default_cache_dir(project_root: str | os.PathLike[str] | None = None, configured: str | None = None) -> Path:
    """``$DIMSOLVE_CACHE_DIR``, else ``configured`` (relative to the root), else ``<root>/.dimsolve_cache``."""
    root = Path(project_root) if project_root is not None else Path.cwd()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    if configured:
        return root / configured
    return root / DEFAULT_DIRNAME


class GuardSetCache:
    """A directory of GuardSet entries, one JSON file per key.

    >>> cache = GuardSetCache(tmp_path)                 # doctest: +SKIP
    >>> cache.store(key, guardset); cache.load(key)     # doctest: +SKIP
    (GuardSet(...), <Lookup.HIT: 'hit'>)
    """

    def __init__(self, directory: str | os.PathLike[str], secret: bytes | None = None) -> None:
        self.directory = Path(directory)
        self._secret = secret

    @property
    def secret(self) -> bytes:
        """The HMAC key (``cache_secret()`` unless given); ``OSError`` when it cannot be read or created."""
        if self._secret is None:
            self._secret = cache_secret()
        return self._secret

    def entry_path(self, key: str) -> Path:
        return self.directory / _ENTRIES / f"{key}.json"

    def load(self, key: str) -> tuple[GuardSet | None, Lookup]:
        path = self.entry_path(key)
        try:
            raw = _read_regular_file(path, MAX_ENTRY_BYTES)
        except (FileNotFoundError, NotADirectoryError):
            return None, Lookup.MISS
        except OSError:  # a symlink (O_NOFOLLOW refuses it) or an unreadable entry
            raw = None
        try:
            secret = self.secret
        except OSError:  # no secret: nothing can be trusted, nothing is deleted
            return None, Lookup.MISS
        guardset = _decode_entry(raw, key, secret) if raw is not None else None
        if guardset is None:
            self._discard(path)
            return None, Lookup.CORRUPT
        return guardset, Lookup.HIT

    def store(self, key: str, guardset_json: str) -> bool:
        """Write an entry atomically; the text must come from ``guards.serialize.to_json``.

        Returns False, and writes nothing, when the directory or the secret is not usable: the
        check goes on without the cache (``dimsolve lint`` warns once, up front, see ``unusable``).
        """
        try:
            entries = self.directory / _ENTRIES
            entries.mkdir(parents=True, exist_ok=True)
            self._mark_directory()
            entry = {
                "format": ENTRY_FORMAT,
                "version": ENTRY_VERSION,
                "key": key,
                "hmac": _mac(self.secret, key, guardset_json),
                "guardset": guardset_json,
            }
            _write_atomic(self.entry_path(key), json.dumps(entry, sort_keys=True))
        except OSError:
            return False
        return True

    def unusable(self) -> str | None:
        """Why this cache cannot be used (one line for a warning), or None when it can: creates the
        directory and the secret, and writes and removes a probe file."""
        try:
            self.secret
        except OSError as exc:
            return f"cannot read or create the cache secret {secret_path()}: {exc.strerror or exc}"
        try:
            entries = self.directory / _ENTRIES
            entries.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=entries, prefix=".tmp-", suffix=".probe")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            return f"cannot write the cache directory {self.directory}: {exc.strerror or exc}"
        return None

    def clear(self) -> int:
        """Remove every entry (and the cache's own marker files); returns how many entries went."""
        entries = self.directory / _ENTRIES
        removed = 0
        if entries.is_dir():
            for path in entries.iterdir():
                if path.suffix == ".json" or path.name.startswith(".tmp-"):
                    try:
                        path.unlink(missing_ok=True)
                    except OSError:  # a directory where an entry should be: not ours to delete
                        continue
                    removed += path.suffix == ".json"
            _rmdir_if_empty(entries)
        for name in (_TAG, ".gitignore"):
            (self.directory / name).unlink(missing_ok=True)
        _rmdir_if_empty(self.directory)
        return removed

    def _mark_directory(self) -> None:
        tag = self.directory / _TAG
        if not tag.exists():
            _write_atomic(tag, _TAG_TEXT)
            _write_atomic(self.directory / ".gitignore", "# created by dimsolve\n*\n")

    @staticmethod
    def _discard(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            _rmdir_if_empty(path)
        except OSError:
            pass


def secret_path() -> Path:
    """Where the cache secret lives: ``$XDG_CONFIG_HOME/dimsolve/cache-key`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "dimsolve" / "cache-key"


def cache_secret() -> bytes:
    """``$DIMSOLVE_CACHE_SECRET``, else the key in ``secret_path()`` (created, mode 0600, on first use).

    Raises ``OSError`` when there is no secret and none can be created.
    """
    env = os.environ.get(SECRET_ENV)
    if env:
        return env.encode("utf-8")
    path = secret_path()
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # never replaces a key another process created first
        except FileExistsError:
            pass
    finally:
        Path(tmp).unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    raw = _read_regular_file(path, 4096)
    if raw is None or len(raw.strip()) < 32:
        raise OSError(f"{path} is not a key file (a regular file of 32 to 4096 bytes)")
    return raw.strip()


def _read_regular_file(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it is not a regular file or is larger than ``limit``.

    Opened without following a final symlink and without blocking, so a FIFO, a device or a
    link to ``/dev/zero`` is looked at, never read; ``FileNotFoundError`` when it does not exist.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return None if size > limit else b"".join(chunks)
    finally:
        os.close(fd)


def _mac(secret: bytes, key: str, text: str) -> str:
    message = "\0".join((ENTRY_FORMAT, str(ENTRY_VERSION), key, text)).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _decode_entry(raw: bytes, key: str, secret: bytes) -> GuardSet | None:
    from dimsolve.guards.serialize import GuardSetFormatError, from_json

    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or set(entry) != _ENTRY_FIELDS:
        return None
    text, mac = entry["guardset"], entry["hmac"]
    if (entry["format"], entry["version"], entry["key"]) != (ENTRY_FORMAT, ENTRY_VERSION, key) or not isinstance(text, str):
        return None
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(secret, key, text)):
        return None
    try:
        guardset = from_json(text)
    except GuardSetFormatError:
        return None
    return guardset if guardset.meta.get("inputs") else None


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; entries are not secrets
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


# --- the key -----------------------------------------------------------------------------------


def cache_key(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None, *, strict: bool, salt: str = "") -> str:
    """The hex sha256 of everything tracing ``model`` on these inputs depends on (not the spec).

    ``salt`` adds what the caller knows about, e.g. the contents of the case file that built the model.
    """
    import torch

    from dimsolve._version import __version__

    parts = {
        "entry": [ENTRY_FORMAT, ENTRY_VERSION],
        "dimsolve": __version__,
        "torch": torch.__version__,
        "python": list(sys.version_info[:2]),
        "strict": bool(strict),
        "model": _model_fingerprint(model),
        "inputs": _input_fingerprint(model, args, kwargs),
        "salt": salt,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _user_classes(model: Any) -> list[Any]:
    import torch

    objects = list(model.modules()) if isinstance(model, torch.nn.Module) else [model]
    seen: dict[str, Any] = {}
    for obj in objects:
        cls = obj if inspect.isfunction(obj) else type(obj)
        for klass in getattr(cls, "__mro__", (cls,)):
            module = getattr(klass, "__module__", "") or ""
            if module.split(".")[0] not in ("torch", "builtins"):
                seen.setdefault(f"{module}.{getattr(klass, '__qualname__', klass)}", klass)
    return [seen[name] for name in sorted(seen)]


def _source_of(obj: Any) -> dict[str, str]:
    """The object's own source and the sha256 of its whole module file ("" when unavailable)."""
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        source = ""
    try:
        file = inspect.getsourcefile(obj)
        module_hash = hashlib.sha256(Path(file).read_bytes()).hexdigest() if file else ""
    except (OSError, TypeError):
        module_hash = ""
    return {"source": _sha256(source), "module": module_hash}


def _model_fingerprint(model: Any) -> dict[str, Any]:
    import torch

    fingerprint: dict[str, Any] = {
        "classes": {f"{c.__module__}.{c.__qualname__}": _source_of(c) for c in _user_classes(model)},
    }
    if isinstance(model, torch.nn.Module):
        fingerprint["state"] = [[name, _tensor_fingerprint(t)] for name, t in model.state_dict(keep_vars=True).items()]
        fingerprint["training"] = model.training
    return fingerprint


def _tensor_fingerprint(t: Any) -> list[Any]:
    return [list(t.shape), str(t.dtype), str(t.device), list(t.stride()) if t.layout is _strided() else str(t.layout)]


def _strided() -> Any:
    import torch

    return torch.strided


def _input_fingerprint(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None) -> list[Any]:
    import torch

    from dimsolve.guards.trace import bind_inputs, input_leaves

    try:
        leaves = input_leaves(bind_inputs(model, tuple(args), kwargs))
    except TypeError:  # the inputs do not bind: tracing reports that; key on their types only
        return [repr(type(a)) for a in args] + sorted(repr(k) for k in (kwargs or {}))
    out: list[Any] = []
    for leaf in leaves:
        value = leaf.value
        if isinstance(value, torch.Tensor):
            described: Any = _tensor_fingerprint(value)
        elif value is None or isinstance(value, (bool, int, float, str)):
            described = repr(value)
        else:
            described = f"<{type(value).__module__}.{type(value).__qualname__}>"
        out.append([[str(k) if not isinstance(k, int) else k for k in leaf.path.keys], described])
    return out


# --- checking through the cache ----------------------------------------------------------------


@dataclass(frozen=True)
class CachedCheck:
    """A report, and where its GuardSet came from: ``traced``, ``cached`` or ``none`` (spec errors: no trace)."""

    report: Report
    source: str
    rebuilt: bool = False  # a corrupt entry was found and replaced


def check_cached(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None = None, *, dynamic_shapes: Any,
                 strict: bool = False, cache: GuardSetCache | None = None, salt: str = "") -> CachedCheck:
    """``check_dynamic_shapes`` semantics, with the GuardSet read from ``cache`` when it has one.

    The fresh and the cached paths check the same thing: the GuardSet is always written to and read
    back from its JSON form before ``check_spec`` sees it. When the example inputs have 0/1 sizes
    that torch specialised on dimensions the spec makes dynamic, ``check_dynamic_shapes`` re-traces
    with grown inputs; that case is not cached and runs ``check_dynamic_shapes`` itself.
    """
    from dimsolve.dims.parse import parse_spec
    from dimsolve.export.api import _check_call, trace_guards
    from dimsolve.export.oracle import check_with_torch
    from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS
    from dimsolve.export.zero_one import specialised_dims
    from dimsolve.guards.serialize import GuardSetFormatError, from_json, to_json

    _check_call(args, kwargs)
    args = tuple(args)
    parsed = parse_spec(model, args, kwargs, dynamic_shapes)
    if parsed.spec is None:
        return CachedCheck(Report(parsed.diagnostics), "none")
    key = cache_key(model, args, kwargs, strict=strict, salt=salt) if cache is not None else ""
    guardset, lookup = cache.load(key) if cache is not None else (None, Lookup.MISS)
    source = "cached"
    if guardset is None:
        source = "traced"
        traced = trace_guards(model, args, kwargs, strict=strict)
        try:
            text = to_json(traced)
        except GuardSetFormatError:  # an expression the codec cannot write: check it as traced, do not cache
            text = None
        guardset = from_json(text) if text is not None else traced
        if cache is not None and text is not None:
            cache.store(key, text)
    if specialised_dims(parsed.spec, guardset):
        source = "traced"  # 0/1 examples: the grown example is traced again, not cached
    # torch.export of the spec decides, as in check_dynamic_shapes; the cache spares the all-dynamic trace
    report = check_with_torch(model, args, kwargs, dynamic_shapes, parsed.spec, strict, DEFAULT_TIMEOUT_MS,
                              guardset).report
    return CachedCheck(report, source, lookup is Lookup.CORRUPT)
