"""Guards captured from torch tracing. Only ``guards.capture``/``guards.trace`` import torch."""

from dimsolve.guards.model import GuardKind, GuardRecord, GuardSet, Specialization, SymbolInfo, TraceFailure

__all__ = ["GuardKind", "GuardRecord", "GuardSet", "Specialization", "SymbolInfo", "TraceFailure"]
