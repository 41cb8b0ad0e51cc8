"""Run an ExportedProgram on concrete inputs: the last word on a fix whose point is that the
program runs (an index check torch does not make), not only that it exports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def run_failure(program: Any, args: tuple, kwargs: Mapping[str, Any] | None) -> str:
    """"" when ``program`` runs on these inputs, else what it raised (``IndexError: index out of range``).

    >>> run_failure(ep, (torch.randint(0, 100, (2, 64)),), None)   # doctest: +SKIP
    ''
    """
    import torch

    try:
        with torch.no_grad():
            program.module()(*args, **dict(kwargs or {}))
    except Exception as exc:  # noqa: BLE001 - whatever the program raises is the answer
        text = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return ""
