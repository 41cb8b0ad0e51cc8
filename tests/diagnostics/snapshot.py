"""File snapshots: ``assert_snapshot(name, text)`` compares with ``snapshots/<name>``.

Set ``DIMSOLVE_UPDATE_SNAPSHOTS=1`` to (re)write the files instead; review the diff before committing.
"""

import difflib
import os
from pathlib import Path

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"


def updating() -> bool:
    return os.environ.get("DIMSOLVE_UPDATE_SNAPSHOTS") == "1"


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOT_DIR / name
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(f"missing snapshot {path}; run with DIMSOLVE_UPDATE_SNAPSHOTS=1 to create it")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"snapshots/{name}",
                tofile="rendered",
            )
        )
        raise AssertionError(f"output differs from snapshot {name} (DIMSOLVE_UPDATE_SNAPSHOTS=1 to accept):\n{diff}")
