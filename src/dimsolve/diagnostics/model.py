"""Diagnostics as plain data: what went wrong, where, and the structured change that fixes it.

Nothing here knows about output formats; the renderers in this package turn these objects into
text, JSON or SARIF. Every field uses the user's own vocabulary (``x.shape[0]``, ``dy``), never
torch's internal symbol names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A line of the user's model source that emitted a guard (``model.py:12 in forward``)."""

    file: str
    line: int
    function: str = ""
    code: str = ""
    # the innermost torch frame, to say *which op* emitted the guard (e.g. ``torch/nn/modules/linear.py:134``)
    op: str = ""

    def short(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where} in {self.function}" if self.function else where


# --- structured spec changes -------------------------------------------------------------------
# A fix travels as these values, never as text to be re-parsed. ``target`` is the user's Dim name
# (``dy``) or, for a dimension with no name, its input path (``x.shape[0]``).


@dataclass(frozen=True, slots=True)
class SetRange:
    """Give a root Dim a (tighter) range: ``dim = Dim("dim", min=3, max=6)``; for a ``Dim.AUTO`` /
    ``Dim.DYNAMIC`` size (``target`` is its path) the range of that hint, which ``hint`` names."""

    target: str
    min: int
    max: int | None  # None: unbounded above
    hint: str | None = None  # for a path target: the hint the range goes on, "AUTO" (None: Dim.DYNAMIC)


@dataclass(frozen=True, slots=True)
class Specialize:
    """Make a dimension static: ``d1 = 4``."""

    target: str
    value: int


@dataclass(frozen=True, slots=True)
class Relate:
    """Define a dimension from a root: ``target = coeff*root + offset`` (``dy = dx``, ``dw = 2*dx + 1``)."""

    target: str
    root: str
    coeff: int = 1
    offset: int = 0


@dataclass(frozen=True, slots=True)
class NewRoot:
    """Introduce a fresh root Dim, e.g. ``_dx = Dim("_dx", min=2, max=12)`` for a divisibility fix."""

    name: str
    min: int
    max: int | None


@dataclass(frozen=True, slots=True)
class MakeAuto:
    """Let torch infer a dimension (``Dim.AUTO``): used when the model's relation is not expressible as ``A*root + B``."""

    target: str


@dataclass(frozen=True, slots=True)
class AddCheck:
    """Insert ``torch._check(...)`` before a line of the model (data-dependent guards)."""

    code: str
    location: SourceLocation | None = None


SpecChange = SetRange | Specialize | Relate | NewRoot | MakeAuto | AddCheck


class Applicability(str, enum.Enum):
    """How safe it is to apply a fix without reading it (mirrors rustc/ruff)."""

    VERIFIED = "verified"  # torch.export exported the fixed spec, and z3 proves every guard of that program
    PROVEN = "proven"  # z3 proves it against a cached GuardSet; torch was not asked (check_spec, the service)
    UNVERIFIED = "unverified"  # best effort: torch rejected it, or the solver could not decide


@dataclass(frozen=True, slots=True)
class Fix:
    title: str
    changes: tuple[SpecChange, ...]
    applicability: Applicability = Applicability.VERIFIED


@dataclass(frozen=True, slots=True)
class Label:
    """A secondary location: where in the model the guard came from, with a short message."""

    location: SourceLocation
    message: str = ""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding. ``paths`` are the spec entries it concerns, primary first (``dynamic_shapes["y"][0]``)."""

    code: str
    severity: Severity
    message: str
    paths: tuple[str, ...] = ()
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = ()
    # machine-readable facts: "guard" (user terms), "counterexample" ({"x.shape[0]": 7, ...}), ...
    facts: dict[str, object] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR
