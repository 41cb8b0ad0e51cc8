"""Diagnostics as data (``model``), the code registry (``codes``) and one renderer per format."""

from dimsolve.diagnostics.codes import CODES, Code, code
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

__all__ = [
    "CODES", "Code", "code", "AddCheck", "Applicability", "Diagnostic", "Fix", "Label", "MakeAuto",
    "NewRoot", "Relate", "SetRange", "Severity", "SourceLocation", "SpecChange", "Specialize",
]
