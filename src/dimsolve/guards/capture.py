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
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dimsolve.diagnostics.model import SourceLocation
from dimsolve.guards.source_lines import library_frame, user_location

_LOCK = threading.Lock()


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
    # the first expression torch replaced each symbol by (a size by its derived Dim's ``s56 + 1``)
    first_replacements: dict[Any, Any] = field(default_factory=dict)
    program: Any = None  # the ExportedProgram, when torch exported: its index checks are read from its graph
    inputs: tuple[Any, ...] = ()  # the example's flattened (args, kwargs), in the order of the program's inputs


@functools.lru_cache(maxsize=1)
def check_torch_hooks() -> None:
    """Raise if the torch internals we hook are gone or changed shape (a torch upgrade)."""
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    expected = (
        ("_log_guard", ["self", "prefix", "g", "forcing_spec"]),
        ("create_symbol", ["self", "val", "source"]),
        ("_set_replacement", ["self", "a", "tgt", "msg"]),
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

    def _set_replacement(self: Any, a: Any, tgt: Any, msg: str) -> None:
        capture.first_replacements.setdefault(a, tgt)
        return orig_replace(self, a, tgt, msg)

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
        "_set_replacement": _set_replacement,
        "_log_real_tensor_propagation": _log_real_tensor_propagation,
        "create_unbacked_symint": unbacked(ShapeEnv.create_unbacked_symint),
        "create_unbacked_symbool": unbacked(ShapeEnv.create_unbacked_symbool),
        "create_unbacked_symfloat": unbacked(ShapeEnv.create_unbacked_symfloat),
    }
    originals = {name: getattr(ShapeEnv, name) for name in patches}
    orig_real = originals["_log_real_tensor_propagation"]
    orig_replace = originals["_set_replacement"]
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


_NOISY_LOGGERS = ("torch._export", "torch.export", "torch._dynamo", "torch.fx", "torch._functorch", "torch._subclasses",
                  "torch._guards")  # strict export logs its ConstraintViolation with a traceback there


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

    from dimsolve.dims.model import SCALAR_AXIS, AttrKey

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
            keys.append(AttrKey(node.member))
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
