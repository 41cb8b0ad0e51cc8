"""The ``Report``: findings as data, the fixed spec, and the renderings users and machines read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dimsolve.diagnostics.json_render import render_json
from dimsolve.diagnostics.model import AddCheck, Applicability, Diagnostic, SourceLocation, SpecChange
from dimsolve.diagnostics.sarif import render_sarif
from dimsolve.diagnostics.text import render_text
from dimsolve.dims.model import DimPath, Spec
from dimsolve.guards.model import GuardSet


@dataclass(frozen=True)
class Violation:
    """One error finding in the shape the public API promises."""

    code: str
    message: str
    paths: tuple[str, ...]
    guard: str | None
    location: SourceLocation | None
    counterexample: dict[str, int]
    fix: tuple[SpecChange, ...]

    @classmethod
    def from_diagnostic(cls, d: Diagnostic) -> "Violation":
        cex = d.facts.get("counterexample")
        guard = d.facts.get("guard")
        return cls(
            code=d.code,
            message=d.message,
            paths=d.paths,
            guard=guard if isinstance(guard, str) else None,
            location=d.labels[0].location if d.labels else None,
            counterexample=dict(cex) if isinstance(cex, dict) else {},
            fix=tuple(c for f in d.fixes for c in f.changes),
        )


def stamp_fixes(diagnostics: tuple[Diagnostic, ...], applicability: Applicability) -> tuple[Diagnostic, ...]:
    """Every spec fix labelled with the report's one verdict on the fixed spec (``torch._check``
    lines for data-dependent guards are code fixes with their own verification, left as they are)."""
    from dataclasses import replace

    def label(f: Any) -> Any:
        spec_fix = any(not isinstance(c, AddCheck) for c in f.changes)
        return replace(f, applicability=applicability) if spec_fix and f.applicability is not applicability else f

    out = []
    for d in diagnostics:
        fixes = tuple(label(f) for f in d.fixes)
        out.append(d if fixes == d.fixes else replace(d, fixes=fixes))
    return tuple(out)


@dataclass(frozen=True)
class FixedExample:
    """Example inputs a fix is meant for, when the user's own cannot carry it (sizes 0/1 specialise)."""

    sizes: dict[DimPath, int]  # the dims whose size changes, with the new size
    args: tuple
    kwargs: dict[str, Any]

    def describe(self) -> str:
        return ", ".join(f"{p} = {n}" for p, n in sorted(self.sizes.items()))


@dataclass(frozen=True)
class FixRound:
    """One export of a candidate fix by torch: what was tried and what torch said."""

    spec: Spec
    exported: bool
    why: str  # torch's objection in the user's words ("" when it exported)


@dataclass(frozen=True)
class Report:
    """What ``check_dynamic_shapes`` found. ``ok`` is False iff there is an error-severity finding.

    ``fix_verified`` is the one fact behind every "verified" dimsolve prints: with ``torch_confirmed``
    it means torch.export exported the fixed spec (with ``fixed_example`` when there is one);
    without (``check_spec``, the service) it means z3 proved the fix against the cached guards.
    Every spec fix in ``diagnostics`` is stamped from it on construction.
    """

    diagnostics: tuple[Diagnostic, ...]
    spec: Spec | None = None
    fixed_spec: Spec | None = None
    guardset: GuardSet | None = None
    fix_verified: bool = False
    pinned_spec: Spec | None = None
    torch_confirmed: bool = False
    fixed_example: FixedExample | None = None
    rounds: tuple[FixRound, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "diagnostics", stamp_fixes(self.diagnostics, self.applicability))

    @property
    def applicability(self) -> Applicability:
        if not self.fix_verified:
            return Applicability.UNVERIFIED
        return Applicability.VERIFIED if self.torch_confirmed else Applicability.PROVEN

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def violations(self) -> list[Violation]:
        return [Violation.from_diagnostic(d) for d in self.diagnostics if d.is_error]

    @property
    def fixed_dynamic_shapes(self) -> Any:
        """The fixed spec in the user's own structure, as torch objects; None when there is nothing to fix."""
        if self.fixed_spec is None:
            return None
        from dimsolve.dims.render import to_torch

        return to_torch(self.fixed_spec)

    @property
    def fix_code(self) -> str | None:
        if self.fixed_spec is None:
            return None
        from dimsolve.dims.render import render_python

        code = render_python(self.fixed_spec)
        if self.fixed_example is not None:
            code += (f"\n# export with example inputs where {self.fixed_example.describe()}: "
                     "torch specialises example sizes 0 and 1\n")
        return code

    @property
    def pinned_dynamic_shapes(self) -> Any:
        """Every Dim.AUTO/DYNAMIC replaced by what export infers, as named Dims: pin today's behaviour."""
        if self.pinned_spec is None:
            return None
        from dimsolve.dims.render import to_torch

        return to_torch(self.pinned_spec)

    @property
    def pin_code(self) -> str | None:
        if self.pinned_spec is None:
            return None
        from dimsolve.dims.render import render_python

        return render_python(self.pinned_spec)

    def __str__(self) -> str:
        return render_text(self.diagnostics, fix_code=self.fix_code)

    def model_dump_json(self) -> str:
        extra: dict[str, object] = {}
        if self.guardset is not None:
            extra["symbols"] = [
                {"name": str(s.paths[0]) if s.paths else (s.label or "data-dependent value"), "example": s.example,
                 "backed": s.backed, "range": [s.lower, s.upper] if not s.backed else None}
                for s in self.guardset.symbols
            ]
        if self.fixed_spec is not None:
            extra["fix_status"] = self.applicability.value
        if self.fixed_example is not None:
            extra["fixed_example"] = {str(p): n for p, n in self.fixed_example.sizes.items()}
        extra["fix_rounds"] = [{"exported": r.exported, "why": r.why} for r in self.rounds]
        return render_json(self.diagnostics, ok=self.ok, fix_code=self.fix_code, extra=extra)

    def to_sarif(self) -> dict[str, Any]:
        from dimsolve._version import __version__

        return render_sarif(self.diagnostics, tool_version=__version__)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())
