"""``dimsolve explain DS201``: the documentation page of a diagnostic code.

The pages ship inside the package (``dimsolve/diagnostics/docs/<ID>.md``); that directory is the
single source of truth, and ``docs/codes/`` in the repository is a mirror kept identical by a test.
"""

from __future__ import annotations

from importlib import resources

from dimsolve.diagnostics.codes import CODES

SECTIONS = ("What it means", "Why it matters", "Example", "Use instead", "Fix safety")


class UnknownCodeError(LookupError):
    """``explain`` was given an id that is not in the code registry."""


def normalize_code(code_id: str) -> str:
    """``"ds201"`` and ``" DS201 "`` name ``"DS201"``."""
    return code_id.strip().upper()


def unknown_code_error(code_id: str) -> UnknownCodeError:
    known = ", ".join(sorted(CODES))
    return UnknownCodeError(f"unknown diagnostic code {code_id!r}; known codes: {known}")


def explain(code_id: str) -> str:
    """The markdown page for ``code_id``; raises ``UnknownCodeError`` for an id not in the registry.

    >>> explain("DS201").splitlines()[0]
    '# DS201 must-be-equal'
    """
    cid = normalize_code(code_id)
    if cid not in CODES:
        raise unknown_code_error(code_id)
    page = resources.files("dimsolve.diagnostics").joinpath("docs").joinpath(f"{cid}.md")
    return page.read_text(encoding="utf-8")
