"""Every touch of torch internals lives here: hooks on ``ShapeEnv`` that record symbols and guards.

torch 2.13 routes every guard and runtime assert through ``ShapeEnv._log_guard(prefix, expr,
forcing_spec)`` and every backed size symbol through ``ShapeEnv.create_symbol(val, source, ...)``.
We wrap both for the duration of one trace and restore them afterwards. ``check_torch_hooks()``
fails loudly when a torch upgrade moves them (tests call it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dimsolve.diagnostics.model import SourceLocation

_LOCK = threading.Lock()
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_EXAMPLES_DIR = os.path.join(_PKG_DIR, "examples")
# torch frames that name the *operation* that emitted a guard, innermost first
_OP_MARKERS = ("/nn/functional.py", "/nn/modules/", "_meta_registrations", "/_refs/", "/_prims", "fake_impls", "/_decomp/")


@dataclass
class RawSymbol:
    expr: Any  # sympy.Symbol, or sympy.Integer when torch specialised the size (0/1)
    source: Any  # torch._guards.Source
    value: int


@dataclass
class RawGuard:
    prefix: str
    expr: Any
    origin: SourceLocation | None


@dataclass
class RawUnbacked:
    expr: Any  # the unbacked sympy.Symbol (u0)
    origin: SourceLocation | None
    index: int  # how many unbacked values the same line created before this one (``a, b = t.tolist()``)


@dataclass
class RawDataDependent:
    expr: Any  # the condition torch could not decide without data
    value: Any  # how the example's real values decide it
    origin: SourceLocation | None


@dataclass
class Capture:
    symbols: list[RawSymbol] = field(default_factory=list)
    guards: list[RawGuard] = field(default_factory=list)
    unbacked: list[RawUnbacked] = field(default_factory=list)
    data_dependent: list[RawDataDependent] = field(default_factory=list)
    shape_env: Any = None  # the last ShapeEnv seen: its ranges and real values are read after tracing
    program: Any = None  # the ExportedProgram, when torch exported: its index checks are read from its graph
    inputs: tuple[Any, ...] = ()  # the example's flattened (args, kwargs), in the order of the program's inputs


@functools.lru_cache(maxsize=1)
def _torch_dir() -> str:
    import torch

    return os.path.dirname(os.path.abspath(torch.__file__))


@functools.lru_cache(maxsize=4096)
def _is_user_frame(filename: str, torch_dir: str) -> bool:
    path = os.path.abspath(filename)
    if path.startswith(torch_dir) or filename.startswith("<"):
        return False
    if path.startswith(_PKG_DIR) and not path.startswith(_EXAMPLES_DIR):
        return False
    return "site-packages/z3" not in path and "/sympy/" not in path


@functools.lru_cache(maxsize=256)
def _statement_spans(filename: str) -> tuple[tuple[int, int], ...]:
    """(first line, last line) of every statement in a source file; empty if it cannot be read."""
    import ast
    import linecache

    source = "".join(linecache.getlines(filename))
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    return tuple((n.lineno, n.end_lineno or n.lineno) for n in ast.walk(tree) if isinstance(n, ast.stmt))


def statement_start(filename: str, line: int) -> int:
    """The first line of the innermost statement containing ``line``: for a condition spread over
    several lines, the line a ``torch._check`` must go before."""
    spans = [(a, b) for a, b in _statement_spans(filename) if a <= line <= b]
    if not spans:
        return line
    return min(spans, key=lambda span: (span[1] - span[0], -span[0]))[0]


def _frame_location(frame: traceback.FrameSummary, op: str = "") -> SourceLocation:
    import linecache

    line = frame.lineno or 0
    start = statement_start(frame.filename, line) if line else line
    code = linecache.getline(frame.filename, start).strip() if start != line else (frame.line or "").strip()
    return SourceLocation(file=frame.filename, line=start, function=frame.name, code=code or (frame.line or "").strip(), op=op)


@functools.lru_cache(maxsize=4096)
def _op_file(filename: str, torch_dir: str) -> str:
    """``torch/nn/functional.py`` for a torch file that names an op, else ""."""
    path = os.path.abspath(filename)
    if path.startswith(torch_dir) and any(m in path for m in _OP_MARKERS) and not path.endswith("module.py"):
        return f"torch/{os.path.relpath(path, torch_dir)}"
    return ""


def _op_frame(stack: list[traceback.FrameSummary], torch_dir: str) -> str:
    for frame in reversed(stack):
        op = _op_file(frame.filename, torch_dir)
        if op:
            return f"{op}:{frame.lineno} in {frame.name}"
    return ""


# torch's own machinery (tracing, dispatch, shape functions), never the library call a user made
_MACHINERY_DIRS = ("_subclasses/", "fx/", "_prims", "_refs/", "_decomp/", "utils/", "_dynamo/", "_functorch/",
                   "_export/", "export/", "_library/", "_higher_order_ops/", "_logging/", "_C/")
_MACHINERY_FILES = ("__init__.py", "_ops.py", "_compile.py", "overrides.py", "_meta_registrations.py", "_guards.py",
                    "_jit_internal.py", "_tensor.py", "_utils.py", "_utils_internal.py")


def library_frame() -> str:
    """The innermost frame of a torch library the user's line called, between it and torch's
    machinery (``torch/distributions/distribution.py:76 in __init__``); "" when there is none (the
    user's own ``if tensor:``)."""
    torch_dir = _torch_dir()
    for frame in reversed(_live_stack(torch_dir)):
        path = os.path.abspath(frame.filename)
        if not path.startswith(torch_dir + os.sep):
            continue
        rel = os.path.relpath(path, torch_dir).replace(os.sep, "/")
        if rel not in _MACHINERY_FILES and not rel.startswith(_MACHINERY_DIRS):
            return f"torch/{rel}:{frame.lineno} in {frame.name}"
    return ""


def _live_stack(torch_dir: str) -> list[traceback.FrameSummary]:
    """The live stack up to the innermost user frame, as ``traceback.extract_stack`` would give it
    but without reading the source of every frame (that is most of a guard's capture cost)."""
    frames: list[traceback.FrameSummary] = []
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        user = _is_user_frame(filename, torch_dir)
        frames.append(traceback.FrameSummary(filename, frame.f_lineno, frame.f_code.co_name, lookup_line=False,
                                             line=None if user else ""))
        if user:
            break
        frame = frame.f_back
    frames.reverse()
    return frames


def user_location(stack: list[traceback.FrameSummary] | None = None) -> SourceLocation | None:
    """The innermost frame of the user's code, plus the torch op frame that emitted the guard.

    Non-strict export runs ``forward`` as plain Python, so the live stack has the user's frame.
    Strict export (dynamo) keeps the user's stack in ``TracingContext``; library modules there
    point inside torch, so we walk out to the user's file in both cases.
    """
    torch_dir = _torch_dir()
    frames = list(stack) if stack is not None else []
    if stack is None:
        from torch._guards import TracingContext

        # strict export: dynamo's view of the user's code; the live stack there is the interpreter
        frames = list(TracingContext.extract_stack() or []) or _live_stack(torch_dir)
    op = _op_frame(frames, torch_dir)
    for frame in reversed(frames):
        if _is_user_frame(frame.filename, torch_dir):
            return _frame_location(frame, op)
    return None


@functools.lru_cache(maxsize=1)
def check_torch_hooks() -> None:
    """Raise if the torch internals we hook are gone or changed shape (a torch upgrade)."""
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    expected = (
        ("_log_guard", ["self", "prefix", "g", "forcing_spec"]),
        ("create_symbol", ["self", "val", "source"]),
        ("_log_real_tensor_propagation", ["self", "orig_expr", "unsound_result"]),
        ("create_unbacked_symint", ["self"]),
        ("create_unbacked_symbool", ["self"]),
        ("create_unbacked_symfloat", ["self"]),
    )
    # the names ShapeEnv's methods use (reading the class's source instead costs 0.7 s per process)
    used = {name for f in vars(ShapeEnv).values() if inspect.isfunction(f) for name in f.__code__.co_names}
    for attr in ("var_to_range", "real_tensor_prop_unbacked_vals"):
        if attr not in used:
            raise RuntimeError(f"ShapeEnv.{attr} is gone: dimsolve needs updating")
    for name, params in expected:
        method = getattr(ShapeEnv, name, None)
        if method is None:
            raise RuntimeError(f"torch.fx.experimental.symbolic_shapes.ShapeEnv.{name} is gone: dimsolve needs updating")
        got = list(inspect.signature(method).parameters)[: len(params)]
        if got != params:
            raise RuntimeError(f"ShapeEnv.{name} changed signature to {got}: dimsolve needs updating")


@contextlib.contextmanager
def capturing() -> Iterator[Capture]:
    """Record symbols and guards of every ShapeEnv while the block runs (one trace at a time)."""
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    check_torch_hooks()
    capture = Capture()
    orig_log, orig_create = ShapeEnv._log_guard, ShapeEnv.create_symbol

    def _log_guard(self: Any, prefix: str, g: Any, forcing_spec: bool) -> None:
        capture.shape_env = self
        capture.guards.append(RawGuard(prefix, g, user_location()))
        return orig_log(self, prefix, g, forcing_spec)

    def create_symbol(self: Any, val: Any, source: Any, *args: Any, **kwargs: Any) -> Any:
        result = orig_create(self, val, source, *args, **kwargs)
        capture.symbols.append(RawSymbol(result, source, int(val)))
        return result

    def _log_real_tensor_propagation(self: Any, orig_expr: Any, unsound_result: Any) -> None:
        origin = user_location()
        if origin is not None and not origin.op:  # a check inside a library call (torch.distributions)
            origin = dataclasses.replace(origin, op=library_frame())
        capture.data_dependent.append(RawDataDependent(orig_expr, unsound_result, origin))
        return orig_real(self, orig_expr, unsound_result)

    def unbacked(orig: Any) -> Any:
        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = orig(self, *args, **kwargs)
            capture.shape_env = self
            origin = user_location()
            index = sum(1 for u in capture.unbacked if u.origin == origin and origin is not None)
            capture.unbacked.append(RawUnbacked(result.node.expr, origin, index))
            return result

        return create

    patches = {
        "_log_guard": _log_guard,
        "create_symbol": create_symbol,
        "_log_real_tensor_propagation": _log_real_tensor_propagation,
        "create_unbacked_symint": unbacked(ShapeEnv.create_unbacked_symint),
        "create_unbacked_symbool": unbacked(ShapeEnv.create_unbacked_symbool),
        "create_unbacked_symfloat": unbacked(ShapeEnv.create_unbacked_symfloat),
    }
    originals = {name: getattr(ShapeEnv, name) for name in patches}
    orig_real = originals["_log_real_tensor_propagation"]
    with _LOCK:
        for name, fn in patches.items():
            setattr(ShapeEnv, name, fn)
        try:
            yield capture
        finally:
            for name, fn in originals.items():
                setattr(ShapeEnv, name, fn)


class SpecRejected(Exception):
    """dimsolve stopped torch.export after torch solved the constraints: the spec is invalid."""


@contextlib.contextmanager
def deciding_at_constraints(decide: Any) -> Iterator[None]:
    """Call ``decide()`` right after torch.export (non-strict) has produced its guards and solved the
    constraints, and stop the export with ``SpecRejected`` when it returns False: an invalid spec is
    rejected there, before torch finalises a graph. Strict export solves inside dynamo; it is not stopped.
    """
    from torch.export import _trace

    original = getattr(_trace, "produce_guards_and_solve_constraints", None)
    if original is None:
        raise RuntimeError("torch.export._trace.produce_guards_and_solve_constraints is gone: dimsolve needs updating")

    def produce_and_decide(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not decide():
            raise SpecRejected()
        return result

    _trace.produce_guards_and_solve_constraints = produce_and_decide
    try:
        yield
    finally:
        _trace.produce_guards_and_solve_constraints = original


_NOISY_LOGGERS = ("torch._export", "torch.export", "torch._dynamo", "torch.fx", "torch._functorch", "torch._subclasses")


_LOGGER_CACHE: dict[int, list[Any]] = {}


def _noisy_loggers() -> list[Any]:
    """torch's loggers to quiet, found once per size of the logger registry (scanning it for every
    export was a sixth of the cost of checking a small model)."""
    import logging

    registry = logging.root.manager.loggerDict
    cached = _LOGGER_CACHE.get(len(registry))
    if cached is None:
        # child loggers torch configured with their own level (symbolic_shapes) ignore their parent's
        known = [lg for name, lg in list(registry.items())
                 if isinstance(lg, logging.Logger) and name.startswith(tuple(n + "." for n in _NOISY_LOGGERS))]
        cached = [logging.getLogger(name) for name in _NOISY_LOGGERS] + known
        _LOGGER_CACHE.clear()
        _LOGGER_CACHE[len(registry)] = cached
    return cached


@contextlib.contextmanager
def quiet_torch_logs() -> Iterator[None]:
    """torch logs warnings (0/1 specialisation, recompiles) that dimsolve reports itself, better worded."""
    import logging

    loggers = _noisy_loggers()
    levels = [lg.level for lg in loggers]
    _set_levels(loggers, [logging.CRITICAL] * len(loggers))
    try:
        yield
    finally:
        _set_levels(loggers, levels)


def _set_levels(loggers: list[Any], levels: list[int]) -> None:
    """``setLevel`` on each, with the registry's level cache cleared once: ``setLevel`` clears it per
    call, which walks every logger each time (quadratic in torch's hundreds of loggers)."""
    import logging

    for lg, level in zip(loggers, levels):
        lg.level = logging._checkLevel(level)  # type: ignore[attr-defined]
    clear = getattr(logging.root.manager, "_clear_cache", None)
    if clear is not None:
        clear()
    else:  # a Python without the private cache: fall back to the public, slower way
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def source_chain(source: Any) -> tuple[str, tuple[Any, ...], int] | None:
    """Decompose a size source into (root local name, item keys, axis); None if not an input size.

    ``x.size()[0]`` -> ("x", (), 0); ``L['flat_args'][2].size()[1]`` -> ("flat_args", (2,), 1); an int
    input torch made a symbol, ``L['n']`` or ``L['cfg']['k']``, has the axis ``SCALAR_AXIS``.
    """
    from torch._dynamo.source import AttrSource, GetItemSource, LocalSource, TensorProperty, TensorPropertySource

    from dimsolve.dims.model import SCALAR_AXIS

    if isinstance(source, TensorPropertySource):
        if source.prop is not TensorProperty.SIZE:
            return None
        axis, node = source.idx, source.base
    elif isinstance(source, (GetItemSource, LocalSource)):
        axis, node = SCALAR_AXIS, source
    else:
        return None
    keys: list[Any] = []
    while True:
        if isinstance(node, GetItemSource):
            keys.append(node.index)
            node = node.base
        elif isinstance(node, AttrSource):
            keys.append(node.member)
            node = node.base
        elif isinstance(node, LocalSource):
            return node.local_name, tuple(reversed(keys)), int(axis)
        else:
            return None


_DATA_DEPENDENT = ("GuardOnDataDependentSymNode", "PendingUnbackedSymbolNotFound")


def is_data_dependent(exc: BaseException) -> bool:
    return type(exc).__name__ in _DATA_DEPENDENT


def unwrap_user_error(exc: BaseException) -> BaseException:
    """torch wraps errors in UserError/chains; find the data-dependent one if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if is_data_dependent(current):
            return current
        current = current.__cause__ or current.__context__
    return exc
