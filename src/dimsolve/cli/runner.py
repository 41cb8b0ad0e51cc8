"""Run declared cases, one process or several, and collect results as plain (picklable) data.

A case's result is ``ok``, ``findings`` (the report has an error) or ``error`` (its file does not
import, the function raises or returns something that is not a case, or dimsolve itself failed).
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dimsolve.cli.discover import CaseRef, describe_exception, loaded_function

OK, FINDINGS, ERROR = "ok", "findings", "error"


@dataclass(frozen=True)
class RunOptions:
    root: str
    cache_dir: str | None  # None: --no-cache
    verify_fix: bool = True  # False: --no-verify-fix (fixes proven by z3, not exported)


@dataclass(frozen=True)
class CaseResult:
    ref: CaseRef
    status: str
    source: str | None = None  # where the GuardSet came from: traced, cached, none (spec errors only)
    seconds: float = 0.0
    diagnostics: tuple[Any, ...] = ()  # dimsolve.diagnostics.model.Diagnostic
    text: str = ""  # the rendered report (findings) or the error description (error)
    report: dict[str, Any] | None = None  # the report's JSON form
    output: str = ""  # what the case printed
    rebuilt: bool = False  # its cache entry was corrupt and has been rebuilt


@dataclass(frozen=True)
class Summary:
    cases: int
    with_findings: int
    errors: int
    traced: int
    cached: int
    rebuilt: int
    seconds: float
    shard: str | None = None

    @classmethod
    def of(cls, results: Sequence[CaseResult], seconds: float, shard: str | None = None) -> "Summary":
        return cls(
            cases=len(results),
            with_findings=sum(r.status == FINDINGS for r in results),
            errors=sum(r.status == ERROR for r in results),
            traced=sum(r.source == "traced" for r in results),
            cached=sum(r.source == "cached" for r in results),
            rebuilt=sum(r.rebuilt for r in results),
            seconds=seconds,
            shard=shard,
        )

    def line(self) -> str:
        """``5 cases, 2 with findings, 1 error; traced 2, cached 3 (4.2s)``"""
        plural = "" if self.errors == 1 else "s"
        text = (f"{self.cases} case{'' if self.cases == 1 else 's'}, {self.with_findings} with findings, "
                f"{self.errors} error{plural}; traced {self.traced}, cached {self.cached}")
        if self.rebuilt:
            text += f", rebuilt {self.rebuilt} corrupt cache entr{'y' if self.rebuilt == 1 else 'ies'}"
        if self.shard:
            text += f" (shard {self.shard})"
        return f"{text} in {self.seconds:.1f}s"


_FILE_HASHES: dict[str, str] = {}


def _file_hash(path: str) -> str:
    if path not in _FILE_HASHES:
        _FILE_HASHES[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _FILE_HASHES[path]


def run_case(ref: CaseRef, options: RunOptions) -> CaseResult:
    """Run one case (in this process): import its file, call it, check its spec through the cache."""
    from dimsolve.export.api import InvalidArgument
    from dimsolve.export.cache import GuardSetCache, check_cached
    from dimsolve.export.case import CaseReturnError, as_case, case_options

    if ref.is_import_error:
        return CaseResult(ref, ERROR, text=f"cannot import {ref.relpath}: {ref.error}", output=ref.output)
    start = time.perf_counter()
    out = io.StringIO()
    path = Path(ref.file)
    with redirect_stdout(out), redirect_stderr(out):
        try:
            fn = loaded_function(ref, Path(options.root))
            case = as_case(fn(), ref.function or "", case_options(fn))
        except CaseReturnError as exc:
            return CaseResult(ref, ERROR, text=str(exc), seconds=time.perf_counter() - start, output=out.getvalue())
        except (Exception, SystemExit) as exc:  # the user's case function failed: that case's result
            return CaseResult(ref, ERROR, text=f"{ref.function}() raised {describe_exception(exc, path)}",
                              seconds=time.perf_counter() - start, output=out.getvalue())
        try:
            cache = GuardSetCache(options.cache_dir) if options.cache_dir is not None else None
            checked = check_cached(case.model, case.args, case.kwargs, dynamic_shapes=case.dynamic_shapes,
                                   strict=case.strict, cache=cache, salt=_file_hash(ref.file),
                                   verify_fix=options.verify_fix)
            report = checked.report
            text, data = str(report), report.to_dict()
        except InvalidArgument as exc:  # the case's own values (e.g. args that are not a tuple): its error
            return CaseResult(ref, ERROR, text=f"{ref.function}() returned a case dimsolve cannot check: {exc}",
                              seconds=time.perf_counter() - start, output=out.getvalue())
        except Exception as exc:  # a dimsolve bug on this case: keep going, report it as the case's error
            return CaseResult(ref, ERROR, text=f"internal error: {describe_exception(exc)}",
                              seconds=time.perf_counter() - start, output=out.getvalue())
    return CaseResult(ref, OK if report.ok else FINDINGS, checked.source, time.perf_counter() - start,
                      tuple(report.diagnostics), text, data, out.getvalue(), checked.rebuilt)


def run_cases(refs: Sequence[CaseRef], options: RunOptions, jobs: int = 1,
              on_done: Callable[[int, CaseResult], None] | None = None) -> list[CaseResult]:
    """Every case's result, sorted by case id; ``jobs`` > 1 runs them in that many worker processes."""
    results: list[CaseResult] = []

    def done(result: CaseResult) -> None:
        results.append(result)
        if on_done is not None:
            on_done(len(results), result)

    runnable = [r for r in refs if not r.is_import_error]
    for ref in refs:
        if ref.is_import_error:
            done(run_case(ref, options))
    if jobs <= 1 or len(runnable) <= 1:
        for ref in runnable:
            done(run_case(ref, options))
    else:
        _run_parallel(runnable, options, jobs, done)
    return sorted(results, key=lambda r: r.ref.id)


def _run_parallel(refs: Sequence[CaseRef], options: RunOptions, jobs: int,
                  done: Callable[[CaseResult], None]) -> None:
    import multiprocessing

    # spawn, not fork: the parent has usually imported torch (and its thread pools) while importing case files
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(refs)), mp_context=context) as pool:
        futures: dict[Future[CaseResult], CaseRef] = {pool.submit(run_case, ref, options): ref for ref in refs}
        for future in as_completed(futures):
            try:
                done(future.result())
            except Exception as exc:  # the worker died (a crash in the user's code, or out of memory)
                done(CaseResult(futures[future], ERROR, text=f"the worker process running this case failed: "
                                                             f"{type(exc).__name__}: {exc}"))
