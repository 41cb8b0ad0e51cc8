"""``check_dynamic_shapes`` through the GuardSet cache, for ``dimsolve lint`` and the pytest plugin.

A cached GuardSet must check exactly as a fresh one, so the fresh one also goes through its JSON
form before it is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dimsolve.export.cache_entry import Lookup
from dimsolve.export.cache_key import cache_key
from dimsolve.export.report import Report

if TYPE_CHECKING:
    from dimsolve.export.cache import GuardSetCache


@dataclass(frozen=True)
class CachedCheck:
    """A report, and where its GuardSet came from: ``traced``, ``cached`` or ``none`` (spec errors: no trace)."""

    report: Report
    source: str
    rebuilt: bool = False  # a corrupt entry was found and replaced


def check_cached(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None = None, *, dynamic_shapes: Any,
                 strict: bool = False, cache: GuardSetCache | None = None, salt: str = "",
                 verify_fix: bool = True) -> CachedCheck:
    """``check_dynamic_shapes`` semantics, with the GuardSet read from ``cache`` when it has one.

    The fresh and the cached paths check the same thing: the GuardSet is always written to and read
    back from its JSON form before ``check_spec`` sees it. When the example inputs have 0/1 sizes
    that torch specialised on dimensions the spec makes dynamic, ``check_dynamic_shapes`` re-traces
    with grown inputs; that case is not cached and runs ``check_dynamic_shapes`` itself.
    ``verify_fix``: as in ``check_dynamic_shapes`` (False: the fix is proven, not exported).
    """
    from dimsolve.dims.parse import parse_spec
    from dimsolve.export.api import _check_call, trace_guards
    from dimsolve.export.oracle import check_with_torch
    from dimsolve.solver.budget import DEFAULT_TIMEOUT_MS
    from dimsolve.export.zero_one import specialised_dims
    from dimsolve.guards.serialize import GuardSetFormatError, from_json, to_json

    _check_call(args, kwargs)
    args = tuple(args)
    parsed = parse_spec(model, args, kwargs, dynamic_shapes)
    if parsed.spec is None:
        return CachedCheck(Report(parsed.diagnostics), "none")
    key = cache_key(model, args, kwargs, strict=strict, salt=salt) if cache is not None else ""
    guardset, lookup = cache.load(key) if cache is not None else (None, Lookup.MISS)
    source = "cached"
    if guardset is None:
        source = "traced"
        traced = trace_guards(model, args, kwargs, strict=strict)
        try:
            text = to_json(traced)
        except GuardSetFormatError:  # an expression the codec cannot write: check it as traced, do not cache
            text = None
        guardset = from_json(text) if text is not None else traced
        if cache is not None and text is not None:
            cache.store(key, text)
    if specialised_dims(parsed.spec, guardset):
        source = "traced"  # 0/1 examples: the grown example is traced again, not cached
    # torch.export of the spec decides, as in check_dynamic_shapes; the cache spares the all-dynamic trace
    report = check_with_torch(model, args, kwargs, dynamic_shapes, parsed.spec, strict, DEFAULT_TIMEOUT_MS,
                              guardset, verify_fix=verify_fix).report
    return CachedCheck(report, source, lookup is Lookup.CORRUPT)
