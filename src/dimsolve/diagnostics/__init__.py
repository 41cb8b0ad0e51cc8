"""Diagnostics as data (``model``), the code registry (``codes``) and one renderer per format.

``text.render_text``, ``sarif.render_sarif`` and ``explain.explain`` are stdlib-only and exported
here. The JSON renderer (``json_render.render_json``) is imported from its module: it is the one
place pydantic is loaded.
"""

from dimsolve.diagnostics.changes import render_change
from dimsolve.diagnostics.codes import CODES, Code, code
from dimsolve.diagnostics.explain import UnknownCodeError, explain
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
from dimsolve.diagnostics.sarif import render_sarif
from dimsolve.diagnostics.text import render_text

__all__ = [
    "CODES", "Code", "code", "AddCheck", "Applicability", "Diagnostic", "Fix", "Label", "MakeAuto",
    "NewRoot", "Relate", "SetRange", "Severity", "SourceLocation", "SpecChange", "Specialize",
    "UnknownCodeError", "explain", "render_change", "render_sarif", "render_text",
]
