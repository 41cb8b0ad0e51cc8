"""The cache's HMAC key, kept outside the cache directory so whoever can write entries cannot sign them.

``$DIMSOLVE_CACHE_SECRET`` (for CI), else a random key created once, mode 0600, in
``~/.config/dimsolve/cache-key``; concurrent first uses agree on one key (``os.link`` never
replaces a key another process created first).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from dimsolve.export.cache_files import read_regular_file

SECRET_ENV = "DIMSOLVE_CACHE_SECRET"


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
    raw = read_regular_file(path, 4096)
    if raw is None or len(raw.strip()) < 32:
        raise OSError(f"{path} is not a key file (a regular file of 32 to 4096 bytes)")
    return raw.strip()

