"""Parts (a), (b) and (d) of the benchmark, on the model suite of ``bench.models``.

(a) ``dimsolve.check_dynamic_shapes`` vs ``torch.export.export`` with the same (valid) spec, and the
    split of dimsolve's time into tracing (``trace_guards``) and solving (``check_spec``).
(b) re-checking a spec against the cached GuardSet (in memory, and read back from JSON) vs running
    ``torch.export.export`` again with that spec.
(d) rounds until export passes: dimsolve's fixes applied at once vs torch's suggested fixes applied
    through ``refine_dynamic_shapes_from_suggested_fixes`` until export passes (at most 5 rounds).
"""

from __future__ import annotations

import contextlib
import gc
import io
import time
import traceback
import warnings
from functools import partial
from collections.abc import Callable
from typing import Any

import torch
from torch.export import Dim
from torch.export.dynamic_shapes import (
    _DerivedDim,
    _DimHint,
    refine_dynamic_shapes_from_suggested_fixes,
)

import dimsolve
from bench.models import Built, ModelCase
from bench.timing import Timeout, measure, time_limit, timed
from dimsolve.guards.serialize import from_json

MAX_ROUNDS = 5


def _export(built: Built, spec: Any) -> Any:
    return torch.export.export(built.model, built.args, dynamic_shapes=spec)


def _try_export(built: Built, spec: Any) -> BaseException | None:
    try:
        _export(built, spec)
    except Exception as exc:  # noqa: BLE001 - any refusal counts; the type is recorded
        return exc
    return None


def _quiet() -> contextlib.ExitStack:
    """Silence the warnings and prints torch and transformers emit while tracing."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    return stack


def dynamic_dims(spec: Any) -> int:
    """How many dimensions a torch ``dynamic_shapes`` value keeps dynamic (named, derived, AUTO, DYNAMIC)."""
    if isinstance(spec, (Dim, _DerivedDim, _DimHint)):
        return 0 if spec == Dim.STATIC else 1
    if isinstance(spec, dict):
        return sum(dynamic_dims(v) for v in spec.values())
    if isinstance(spec, (tuple, list)):
        return sum(dynamic_dims(v) for v in spec)
    return 0


# --- (a) -------------------------------------------------------------------------------------------


def part_a(built: Built, repeats: int) -> tuple[dict[str, Any], Any]:
    """Times on the valid spec; returns the row and the cached GuardSet for part (b)."""
    row: dict[str, Any] = {}
    m_export, err = measure(lambda: _try_export(built, built.good), repeats)
    m_cds, report = measure(
        lambda: dimsolve.check_dynamic_shapes(built.model, built.args, dynamic_shapes=built.good), repeats)
    m_trace, guardset = measure(lambda: dimsolve.trace_guards(built.model, built.args), repeats)
    m_check, checked = measure(lambda: dimsolve.check_spec(guardset, built.good), repeats)
    for key, m in (("export", m_export), ("check_dynamic_shapes", m_cds), ("trace_guards", m_trace),
                   ("check_spec", m_check)):
        m.put(row, key)
    row.update({
        "solve_over_trace": m_check.wall_s / m_trace.wall_s,
        "solve_over_trace_cpu": m_check.cpu_s / m_trace.cpu_s,
        "check_over_export": m_cds.wall_s / m_export.wall_s,
        "guards": len(guardset.guards),
        "symbols": len(guardset.symbols),
        "torch_exports": err is None,
        "dimsolve_ok": report.ok,
        "check_spec_ok": checked.ok,
        "agree": (err is None) == report.ok == checked.ok,
    })
    if err is not None:
        row["torch_error"] = f"{type(err).__name__}: {str(err)[:300]}"
    return row, guardset


# --- (b) -------------------------------------------------------------------------------------------


def _check_from_json(text: str, spec: Any) -> Any:
    return dimsolve.check_spec(from_json(text), spec)


def part_b(built: Built, guardset: Any, a: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Re-check each spec against the cached GuardSet vs export again with that spec."""
    text = guardset.model_dump_json()
    out: dict[str, Any] = {"json_bytes": len(text.encode())}
    measure(lambda: from_json(text), repeats)[0].put(out, "from_json")
    specs = {"valid": built.good} if built.bad is None else {"valid": built.good, "violated": built.bad}
    reps = max(repeats, 5)  # milliseconds: more repeats are cheap
    for label, spec in specs.items():
        row: dict[str, Any] = {}
        m_check, report = measure(partial(dimsolve.check_spec, guardset, spec), reps)
        m_json, report_json = measure(partial(_check_from_json, text, spec), reps)
        m_check.put(row, "check_spec")
        m_json.put(row, "from_json_check_spec")
        if label == "valid":
            row.update(export_s=a["export_s"], export_best_s=a["export_best_s"], export_cpu_s=a["export_cpu_s"])
        else:
            measure(partial(_try_export, built, spec), repeats)[0].put(row, "export")
        row.update({
            "speedup": row["export_s"] / m_check.wall_s,
            "speedup_cpu": row["export_cpu_s"] / m_check.cpu_s,
            "speedup_from_json": row["export_s"] / m_json.wall_s,
            "speedup_from_json_cpu": row["export_cpu_s"] / m_json.cpu_s,
            "ok": report.ok,
            "same_verdict_from_json": report.ok == report_json.ok
            and [v.code for v in report.violations] == [v.code for v in report_json.violations],
        })
        out[label] = row
    return out


# --- (d) -------------------------------------------------------------------------------------------


def _dimsolve_rounds(built: Built) -> dict[str, Any]:
    """Check, apply every fix at once, repeat until dimsolve is satisfied; then export once."""
    spec, rounds, start = built.bad, 0, time.perf_counter()
    while True:
        report = dimsolve.check_dynamic_shapes(built.model, built.args, dynamic_shapes=spec)
        if report.ok:
            break
        if rounds == MAX_ROUNDS:
            return {"passed": False, "rounds": rounds, "why": f"still violated after {MAX_ROUNDS} rounds"}
        if report.fixed_dynamic_shapes is None:
            return {"passed": False, "rounds": rounds, "why": "no fix offered: " + ", ".join(
                v.code for v in report.violations)}
        spec, rounds = report.fixed_dynamic_shapes, rounds + 1
    err = _try_export(built, spec)
    out: dict[str, Any] = {"passed": err is None, "rounds": rounds, "seconds": time.perf_counter() - start,
                           "dynamic_dims_after": dynamic_dims(spec)}
    if err is not None:
        out["why"] = f"export of the fixed spec failed: {type(err).__name__}: {_first_line(err)}"
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(text[:3])[:300] if text else type(exc).__name__


def _torch_rounds(built: Built) -> dict[str, Any]:
    """Export; on a constraint violation apply torch's suggested fixes and export again."""
    spec: Any = built.bad
    start = time.perf_counter()
    for rounds in range(MAX_ROUNDS + 1):
        err = _try_export(built, spec)
        if err is None:
            return {"passed": True, "rounds": rounds, "seconds": time.perf_counter() - start,
                    "dynamic_dims_after": dynamic_dims(spec)}
        if rounds == MAX_ROUNDS:
            break
        msg = getattr(err, "msg", None)
        if not isinstance(msg, str):
            return {"passed": False, "rounds": rounds, "why": f"{type(err).__name__} without suggested fixes: "
                    f"{_first_line(err)}"}
        try:
            refined = refine_dynamic_shapes_from_suggested_fixes(msg, spec)
        except Exception as exc:  # noqa: BLE001 - a crash of torch's own fixer is the result
            return {"passed": False, "rounds": rounds, "why": f"refine crashed: {type(exc).__name__}: "
                    f"{_first_line(exc)}"}
        if refined == spec:
            return {"passed": False, "rounds": rounds, "why": f"suggested fixes change nothing: {_first_line(err)}"}
        spec = refined
    return {"passed": False, "rounds": MAX_ROUNDS, "why": f"not converged in {MAX_ROUNDS} rounds"}


def part_d(built: Built) -> dict[str, Any]:
    torch_rounds = _torch_rounds(built)
    return {
        "dynamic_dims_written": dynamic_dims(built.bad),
        # torch exports the violating spec: the program then rejects inputs the spec admits
        "torch_silent": torch_rounds["passed"] and torch_rounds["rounds"] == 0,
        "dimsolve": _dimsolve_rounds(built),
        "torch": torch_rounds,
    }


# --- one case ---------------------------------------------------------------------------------------


def warm_up() -> float:
    """The first export in a process pays for imports and caches (~2 s): pay it before measuring."""
    from bench.models import SMALL

    start = time.perf_counter()
    with _quiet():
        built = next(c for c in SMALL if c.name == "tutorial").build()
        _export(built, built.good)
        gs = dimsolve.trace_guards(built.model, built.args)
        dimsolve.check_spec(gs, built.bad)
        dimsolve.check_spec(from_json(gs.model_dump_json()), built.good)
    _settle()
    return time.perf_counter() - start


def _settle() -> None:
    """Collect, then freeze what is alive: with torch and transformers loaded a full collection
    takes ~0.5 s, and the per-measurement collections should only see the measurement's garbage."""
    gc.collect()
    gc.freeze()


def guarded_case(row: dict[str, Any], limit_s: float, body: Callable[[], None]) -> dict[str, Any]:
    """``body`` (which fills ``row``) under ``limit_s``, quietly; a failure is recorded in ``row`` so
    one broken case does not stop the benchmark."""
    try:
        with time_limit(limit_s), _quiet():
            body()
    except Timeout as exc:
        row["error"] = f"timeout: {exc}"
    except Exception as exc:  # noqa: BLE001 - one broken case must not stop the benchmark
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc(limit=8)
    return row


def run_case(case: ModelCase, parts: str, repeats: int, limit_s: float) -> dict[str, Any]:
    """Every requested part for one model, each under ``limit_s``; failures are recorded, not raised."""
    row: dict[str, Any] = {"name": case.name, "kind": case.kind, "what": case.what}

    def body() -> None:
        built = case.build()
        row["warm_up_s"], _ = timed(lambda: (_try_export(built, built.good),
                                             dimsolve.trace_guards(built.model, built.args)))
        _settle()
        a, guardset = part_a(built, repeats)
        if "a" in parts:
            row["a"] = a
        if "b" in parts:
            row["b"] = part_b(built, guardset, a, repeats)
        if "d" in parts and built.bad is not None:
            row["d"] = part_d(built)

    return guarded_case(row, limit_s, body)
