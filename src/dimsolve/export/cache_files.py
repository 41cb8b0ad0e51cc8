"""File operations for a cache directory other people can write to.

A cache entry may be a FIFO, a device, a symlink to ``/dev/zero`` or a file of gigabytes: reading
one must never block, follow a link or read without bound. Writes go to a temporary file and
``os.replace``, so a concurrent reader never sees half a file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def read_regular_file(path: Path, limit: int) -> bytes | None:
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


def write_atomic(path: Path, text: str) -> None:
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


def rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
