"""The JSON wire form of diagnostics (pydantic v2), versioned by ``ReportModel.schema_version``.

This is the only module of ``diagnostics/`` that imports pydantic. ``from_diagnostic`` and
``to_diagnostic`` convert between the frozen value objects and these models, so
``Diagnostic -> JSON -> Diagnostic`` gives back an equal value (``facts`` must hold JSON values;
tuples inside them come back as lists).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel, computed_field

from dimsolve.diagnostics.changes import render_change
from dimsolve.diagnostics.codes import CODES, doc_path
from dimsolve.diagnostics.model import (
    AddCheck,
    Applicability,
    Diagnostic,
    Fix,
    Label,
    MakeAuto,
    NewRoot,
    Relate,
    SetRange,
    Severity,
    SourceLocation,
    SpecChange,
    Specialize,
)

SCHEMA_VERSION = 1


class LocationModel(BaseModel):
    """A line of model source: ``{"file": "model.py", "line": 12, "function": "forward", ...}``."""

    file: str
    line: int
    function: str = ""
    code: str = ""
    op: str = ""

    @classmethod
    def from_location(cls, loc: SourceLocation) -> LocationModel:
        return cls(file=loc.file, line=loc.line, function=loc.function, code=loc.code, op=loc.op)

    def to_location(self) -> SourceLocation:
        return SourceLocation(self.file, self.line, self.function, self.code, self.op)


class LabelModel(BaseModel):
    location: LocationModel
    message: str = ""


# --- spec changes: one model per variant, tagged by "type" ------------------------------------


class SetRangeModel(BaseModel):
    type: Literal["set_range"] = "set_range"
    target: str
    min: int
    max: int | None
    hint: Literal["AUTO", "DYNAMIC"] | None = Field(default=None, exclude_if=lambda v: v is None)


class SpecializeModel(BaseModel):
    type: Literal["specialize"] = "specialize"
    target: str
    value: int


class RelateModel(BaseModel):
    type: Literal["relate"] = "relate"
    target: str
    root: str
    coeff: int = 1
    offset: int = 0


class NewRootModel(BaseModel):
    type: Literal["new_root"] = "new_root"
    name: str
    min: int
    max: int | None


class MakeAutoModel(BaseModel):
    type: Literal["make_auto"] = "make_auto"
    target: str


class AddCheckModel(BaseModel):
    type: Literal["add_check"] = "add_check"
    code: str
    location: LocationModel | None = None


AnyChangeModel = Annotated[
    Union[SetRangeModel, SpecializeModel, RelateModel, NewRootModel, MakeAutoModel, AddCheckModel],
    Field(discriminator="type"),
]


class SpecChangeModel(RootModel[AnyChangeModel]):
    """A ``SpecChange`` on the wire: ``{"type": "relate", "target": "dy", "root": "dx", ...}``."""

    @classmethod
    def from_change(cls, change: SpecChange) -> SpecChangeModel:
        return cls(root=_change_model(change))

    def to_change(self) -> SpecChange:
        return _change_value(self.root)


def _change_model(c: SpecChange) -> AnyChangeModel:
    if isinstance(c, SetRange):
        return SetRangeModel(target=c.target, min=c.min, max=c.max, hint=c.hint)  # type: ignore[arg-type]
    if isinstance(c, Specialize):
        return SpecializeModel(target=c.target, value=c.value)
    if isinstance(c, Relate):
        return RelateModel(target=c.target, root=c.root, coeff=c.coeff, offset=c.offset)
    if isinstance(c, NewRoot):
        return NewRootModel(name=c.name, min=c.min, max=c.max)
    if isinstance(c, MakeAuto):
        return MakeAutoModel(target=c.target)
    if isinstance(c, AddCheck):
        loc = LocationModel.from_location(c.location) if c.location is not None else None
        return AddCheckModel(code=c.code, location=loc)
    raise TypeError(f"not a SpecChange: {c!r}")


def _change_value(m: AnyChangeModel) -> SpecChange:
    if isinstance(m, SetRangeModel):
        return SetRange(m.target, m.min, m.max, m.hint)
    if isinstance(m, SpecializeModel):
        return Specialize(m.target, m.value)
    if isinstance(m, RelateModel):
        return Relate(m.target, m.root, m.coeff, m.offset)
    if isinstance(m, NewRootModel):
        return NewRoot(m.name, m.min, m.max)
    if isinstance(m, MakeAutoModel):
        return MakeAuto(m.target)
    return AddCheck(m.code, m.location.to_location() if m.location is not None else None)


class FixModel(BaseModel):
    title: str
    changes: list[SpecChangeModel]
    applicability: Applicability = Applicability.VERIFIED

    # Serialised for consumers that only display fixes; ignored when a report is read back.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def python(self) -> list[str]:
        return [render_change(c.to_change()) for c in self.changes]

    @classmethod
    def from_fix(cls, fix: Fix) -> FixModel:
        changes = [SpecChangeModel.from_change(c) for c in fix.changes]
        return cls(title=fix.title, changes=changes, applicability=fix.applicability)

    def to_fix(self) -> Fix:
        return Fix(self.title, tuple(c.to_change() for c in self.changes), self.applicability)


class DiagnosticModel(BaseModel):
    """One finding. ``name`` and ``doc`` come from the code registry and are informational."""

    code: str
    name: str = ""
    doc: str = ""
    severity: Severity
    message: str
    paths: list[str] = []
    labels: list[LabelModel] = []
    notes: list[str] = []
    help: list[str] = []
    fixes: list[FixModel] = []
    facts: dict[str, Any] = {}

    @classmethod
    def from_diagnostic(cls, d: Diagnostic) -> DiagnosticModel:
        registered = CODES.get(d.code)
        return cls(
            code=d.code,
            name=registered.name if registered else "",
            doc=doc_path(d.code) if registered else "",
            severity=d.severity,
            message=d.message,
            paths=list(d.paths),
            labels=[
                LabelModel(location=LocationModel.from_location(lb.location), message=lb.message)
                for lb in d.labels
            ],
            notes=list(d.notes),
            help=list(d.help),
            fixes=[FixModel.from_fix(f) for f in d.fixes],
            facts=dict(d.facts),
        )

    def to_diagnostic(self) -> Diagnostic:
        return Diagnostic(
            code=self.code,
            severity=self.severity,
            message=self.message,
            paths=tuple(self.paths),
            labels=tuple(Label(lb.location.to_location(), lb.message) for lb in self.labels),
            notes=tuple(self.notes),
            help=tuple(self.help),
            fixes=tuple(f.to_fix() for f in self.fixes),
            facts=dict(self.facts),
        )


class ReportModel(BaseModel):
    """A whole report. Extra top-level keys (e.g. ``tool_version``) are kept, not rejected."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA_VERSION
    ok: bool
    diagnostics: list[DiagnosticModel]
    fix_code: str | None
    fixed_spec: dict[str, Any] | None = None
    symbols: list[dict[str, Any]] = []
    # the one verdict on the fix: "verified" (torch exported it), "proven" (z3 only), "unverified"
    fix_status: Applicability | None = None
    # sizes the fix's example inputs must have (0/1 examples), as {"x.shape[0]": 2}
    fixed_example: dict[str, int] | None = None
    # each export of a candidate fix: {"exported": bool, "why": torch's objection}
    fix_rounds: list[dict[str, Any]] = []


def from_diagnostic(d: Diagnostic) -> DiagnosticModel:
    """``DiagnosticModel.from_diagnostic(d)``."""
    return DiagnosticModel.from_diagnostic(d)


def to_diagnostic(m: DiagnosticModel) -> Diagnostic:
    """``m.to_diagnostic()``."""
    return m.to_diagnostic()
