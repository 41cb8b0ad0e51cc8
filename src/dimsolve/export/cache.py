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

The pieces: this module (the directory: load, store, clear), ``cache_entry`` (an entry's format
and MAC, ``Lookup``), ``cache_secret`` (the HMAC key), ``cache_files`` (I/O that is safe in a
directory others write), ``cache_key`` (the fingerprint) and ``cached_check`` (checking through
the cache). Callers import from this module.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dimsolve.export.cache_entry import ENTRY_FORMAT, ENTRY_VERSION, Lookup, decode_entry, encode_entry
from dimsolve.export.cache_files import read_regular_file, rmdir_if_empty, write_atomic
from dimsolve.export.cache_key import cache_key
from dimsolve.export.cache_secret import SECRET_ENV, cache_secret, secret_path
from dimsolve.export.cached_check import CachedCheck, check_cached
from dimsolve.guards.model import GuardSet

__all__ = [
    "CACHE_ENV", "DEFAULT_DIRNAME", "ENTRY_FORMAT", "ENTRY_VERSION", "MAX_ENTRY_BYTES", "SECRET_ENV", "CachedCheck",
    "GuardSetCache", "Lookup", "cache_key", "cache_secret", "check_cached", "default_cache_dir", "secret_path",
]

CACHE_ENV = "DIMSOLVE_CACHE_DIR"
DEFAULT_DIRNAME = ".dimsolve_cache"
MAX_ENTRY_BYTES = 64 * 1024 * 1024
_ENTRIES = "guardsets"
_TAG = "CACHEDIR.TAG"
_TAG_TEXT = "Signature: 8a477f597d28d172789f06886806bc55\n# dimsolve's GuardSet cache; `dimsolve cache clear` removes it\n"


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
            raw = read_regular_file(path, MAX_ENTRY_BYTES)
        except (FileNotFoundError, NotADirectoryError):
            return None, Lookup.MISS
        except OSError:  # a symlink (O_NOFOLLOW refuses it) or an unreadable entry
            raw = None
        try:
            secret = self.secret
        except OSError:  # no secret: nothing can be trusted, nothing is deleted
            return None, Lookup.MISS
        guardset = decode_entry(raw, key, secret) if raw is not None else None
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
            write_atomic(self.entry_path(key), encode_entry(key, guardset_json, self.secret))
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
            rmdir_if_empty(entries)
        for name in (_TAG, ".gitignore"):
            (self.directory / name).unlink(missing_ok=True)
        rmdir_if_empty(self.directory)
        return removed

    def _mark_directory(self) -> None:
        tag = self.directory / _TAG
        if not tag.exists():
            write_atomic(tag, _TAG_TEXT)
            write_atomic(self.directory / ".gitignore", "# created by dimsolve\n*\n")

    @staticmethod
    def _discard(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            rmdir_if_empty(path)
        except OSError:
            pass

