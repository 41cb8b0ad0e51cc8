"""torch.export's constraint-violation objections, read from torch's objects during one export.

torch 2.13 collects every objection in ``ShapeEnv.produce_guards_verbose`` through a local closure
(``record_constraint_violation``) and then raises one ``ConstraintViolationError`` whose message is
prose. A closure cannot be hooked and prose must not be parsed, so each check is caught at the torch
*method* it calls just before recording:

- ``ShapeEnv._render_range_for_constraint_violation(source, c)``: called only to word an objection,
  from three places told apart by the calling function: ``track_symint`` (a Dim the trace made a
  constant or an expression), ``issue_guard`` (a guard unproven over the Dim's range, the guard being
  the one just given to ``DimConstraints.add``) and ``produce_guards_verbose`` itself (the range check);
- ``EqualityConstraint.is_equal`` / ``is_derived`` returning False (is_equal calls is_derived itself);
- ``DimConstraints.forced_specializations()``, called after ``solve()`` by non-strict and strict export.

The values (the inferred size, the range guard) are read from the placeholders and ranges torch used.
``check_objection_hooks()`` fails loudly when a torch upgrade moves any of this.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sympy

from dimsolve.dims.model import DimPath

# a lock of our own, not the capture module's: recording_objections() runs nested inside capturing()
_LOCK = threading.Lock()
_RENDER = "_render_range_for_constraint_violation"


class ObjectionKind(enum.Enum):
    """One member per check in torch that raises a constraint violation."""

    UNPROVEN_GUARD = "unproven_guard"  # a guard on a named Dim torch could not prove over the Dim's range
    RANGE = "range"  # the Dim's range is wider than what the guards allow
    SPECIALIZED = "specialized"  # a dynamic dim the trace made a constant (or an expression of other dims)
    NOT_EQUAL = "not_equal"  # two sizes torch proved equal, spec keeps them apart
    NOT_RELATED = "not_related"  # a size torch tied to a named Dim by a relation the spec does not state
    FORCED_SPECIALIZATION = "forced_specialization"  # DimConstraints.forced_specializations()


# which ``_render_range_for_constraint_violation`` caller means which objection
_SITES = {
    "track_symint": ObjectionKind.SPECIALIZED,
    "issue_guard": ObjectionKind.UNPROVEN_GUARD,
    "produce_guards_verbose": ObjectionKind.RANGE,
}


@dataclass(frozen=True, slots=True)
class Objection:
    """One objection torch raised, in input dims; expressions stay in torch's symbols (``s77``).

    ``value`` is the constant or expression torch inferred (SPECIALIZED, NOT_RELATED) or the value
    its solver forced (FORCED_SPECIALIZATION).
    """

    kind: ObjectionKind
    dims: tuple[DimPath, ...]  # the input dims involved; first = the one torch complains about
    guard: sympy.Basic | None = None  # UNPROVEN_GUARD / RANGE: the guard expression, in torch's symbols
    value: sympy.Basic | None = None  # SPECIALIZED / NOT_RELATED / FORCED_SPECIALIZATION
    dim_name: str | None = None  # torch's debug name for dims[0] (the user's Dim name), when it has one


@dataclass(frozen=True, slots=True)
class RawObjection:
    """An objection as torch met it: sources, not yet input dims."""

    kind: ObjectionKind
    sources: tuple[Any, ...]  # torch._guards.Source, the complained-about one first
    guard: Any = None
    value: Any = None
    dim_name: str | None = None


@dataclass
class _GuardsCall:
    """One running ``produce_guards_verbose``: its ShapeEnv and placeholders by source name."""

    shape_env: Any
    placeholders: dict[str, Any]


@dataclass
class ObjectionLog:
    """What the hooks saw during one export, in the order torch met it."""

    raw: list[RawObjection] = field(default_factory=list)
    calls: list[_GuardsCall] = field(default_factory=list)
    last_added: Any = None  # the expression most recently given to DimConstraints.add
    in_is_equal: int = 0  # is_equal calls is_derived: that inner False is not an objection of its own

    def rendered(self, shape_env: Any, source: Any, constraint: Any, caller: str) -> None:
        """The objection whose message torch is about to word for ``source``, told apart by ``caller``."""
        kind = _SITES.get(caller)
        if not self.calls or kind is None or getattr(constraint, "warn_only", False):
            return
        name = shape_env.source_name_to_debug_name.get(source.name)
        size = _size_expr(self.calls[-1], source)
        if kind is ObjectionKind.SPECIALIZED:
            others = [shape_env.var_to_sources.get(s) for s in sorted(getattr(size, "free_symbols", ()), key=str)]
            self.raw.append(RawObjection(kind, (source, *(o[0] for o in others if o)), value=size, dim_name=name))
        elif kind is ObjectionKind.UNPROVEN_GUARD:
            # issue_guard gives the guard to DimConstraints.add just before wording the objection
            guard = self.last_added if size in getattr(self.last_added, "free_symbols", ()) else None
            self.raw.append(RawObjection(kind, (source,), guard=guard, dim_name=name))
        else:
            r = shape_env.var_to_range.get(size)
            guard = None if r is None else sympy.And(sympy.Le(r.lower, size), sympy.Le(size, r.upper))
            self.raw.append(RawObjection(kind, (source,), guard=guard, dim_name=name))

    def unequal(self, equalities: Any, source: Any, other: Any, fn: Callable[[sympy.Expr], sympy.Expr] | None) -> None:
        """``is_equal`` (``fn`` None) or ``is_derived`` said False for ``source`` against ``other``."""
        if not self.calls or equalities.warn_only or (fn is not None and self.in_is_equal):
            return
        call = self.calls[-1]
        name = call.shape_env.source_name_to_debug_name.get(source.name)
        if fn is None:
            self.raw.append(RawObjection(ObjectionKind.NOT_EQUAL, (source, other), dim_name=name))
            return
        root = _size_expr(call, other)
        value = fn(root) if root is not None else None
        self.raw.append(RawObjection(ObjectionKind.NOT_RELATED, (source, other), value=value, dim_name=name))

    def forced(self, dim_constraints: Any) -> None:
        """What ``forced_specializations()`` returned, from the solver state its keys are printed
        from; torch fills that by popping a set, so sort by source for a stable order."""
        dcp = dim_constraints._dcp
        found = [(dcp.symbol_to_source[s][0], val) for s, val in dim_constraints._substitutions.items()
                 if s in dim_constraints._marked_dynamic]
        for source, val in sorted(found, key=lambda item: item[0].name):
            name = dcp.source_name_to_debug_name.get(source.name)
            self.raw.append(RawObjection(ObjectionKind.FORCED_SPECIALIZATION, (source,), value=sympy.sympify(val),
                                         dim_name=name))


def _size_expr(call: _GuardsCall, source: Any) -> sympy.Expr | None:
    """The size at a ``TensorPropertySource`` as torch's placeholder holds it (a symbol, an
    expression, or an Integer once specialised): the value ``track_symint`` judged."""
    base, idx = getattr(source, "base", None), getattr(source, "idx", None)
    shape = getattr(call.placeholders.get(getattr(base, "name", None)), "shape", None)
    if shape is None or idx is None or idx >= len(shape):
        return None
    node = getattr(shape[idx], "node", None)
    as_int = int(shape[idx]) if node is None else node.maybe_as_int()
    return sympy.Integer(as_int) if as_int is not None else node.expr


def _patches(log: ObjectionLog) -> dict[tuple[type, str], Callable[..., Any]]:
    from torch.fx.experimental.symbolic_shapes import DimConstraints, EqualityConstraint, ShapeEnv

    orig_produce, orig_render = ShapeEnv.produce_guards_verbose, getattr(ShapeEnv, _RENDER)
    orig_equal, orig_derived = EqualityConstraint.is_equal, EqualityConstraint.is_derived
    orig_add, orig_forced = DimConstraints.add, DimConstraints.forced_specializations

    def produce_guards_verbose(self: Any, placeholders: Any, sources: Any, *args: Any, **kwargs: Any) -> Any:
        log.calls.append(_GuardsCall(self, {s.name: p for s, p in zip(sources, placeholders)}))
        try:
            return orig_produce(self, placeholders, sources, *args, **kwargs)
        finally:
            log.calls.pop()

    def render(self: Any, source: Any, c: Any) -> str:
        text = orig_render(self, source, c)
        # the calling function is the only thing that tells the three objections worded here apart
        log.rendered(self, source, c, sys._getframe(1).f_code.co_name)
        return text

    def is_equal(self: Any, source1: Any, source2: Any) -> bool:
        log.in_is_equal += 1
        try:
            result = orig_equal(self, source1, source2)
        finally:
            log.in_is_equal -= 1
        if not result:
            log.unequal(self, source1, source2, None)
        return result

    def is_derived(self: Any, src: Any, symbol_src: Any, fn: Callable[[sympy.Expr], sympy.Expr]) -> bool:
        result = orig_derived(self, src, symbol_src, fn)
        if not result:
            log.unequal(self, src, symbol_src, fn)
        return result

    def add(self: Any, expr: Any) -> bool:
        log.last_added = expr
        return orig_add(self, expr)

    def forced_specializations(self: Any) -> dict[str, sympy.Expr]:
        result = orig_forced(self)
        log.forced(self)
        return result

    return {(ShapeEnv, "produce_guards_verbose"): produce_guards_verbose, (ShapeEnv, _RENDER): render,
            (EqualityConstraint, "is_equal"): is_equal, (EqualityConstraint, "is_derived"): is_derived,
            (DimConstraints, "add"): add, (DimConstraints, "forced_specializations"): forced_specializations}


@contextlib.contextmanager
def recording_objections() -> Iterator[ObjectionLog]:
    """Record the constraint violations torch finds while the block runs (one export at a time).

    >>> with recording_objections() as log:                                   # doctest: +SKIP
    ...     torch.export.export(model, args, dynamic_shapes=spec)
    >>> read_objections(log, resolve)                                         # doctest: +SKIP
    (Objection(kind=<ObjectionKind.RANGE: 'range'>, dims=(x.shape[0],), ...),)
    """
    check_objection_hooks()
    log = ObjectionLog()
    with _LOCK:
        patches = _patches(log)
        originals = {key: key[0].__dict__[key[1]] for key in patches}
        for (cls, name), fn in patches.items():
            setattr(cls, name, fn)
        try:
            yield log
        finally:
            for (cls, name), fn in originals.items():
                setattr(cls, name, fn)


def read_objections(log: ObjectionLog, resolve: Callable[[Any], DimPath | None]) -> tuple[Objection, ...]:
    """The log's objections in input dims, in the order torch met them, each once.

    ``resolve`` maps a torch Source to its input dim. An objection whose first source does not
    resolve is dropped (it is not about an input dim); other unresolved sources are left out.
    Strict export names inputs ``L['flat_args'][i]`` (its message rewrites them as text afterwards):
    the resolver maps them to the same dims. Repeats (guards produced twice) collapse.
    """
    out: dict[Objection, None] = {}
    for raw in log.raw:
        dims = [resolve(source) for source in raw.sources]
        if not dims or dims[0] is None:
            continue
        kept = tuple(dict.fromkeys(d for d in dims if d is not None))
        out.setdefault(Objection(raw.kind, kept, raw.guard, raw.value, raw.dim_name))
    return tuple(out)


def _code_tree(code: types.CodeType) -> Iterator[types.CodeType]:
    """A function's code and the code of every closure defined in it."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_tree(const)


def _names_used(cls: type) -> set[str]:
    """Every attribute name any method of ``cls`` (and its closures) touches."""
    names: set[str] = set()
    for member in vars(cls).values():
        code = getattr(member, "__code__", None)
        for c in _code_tree(code) if code is not None else ():
            names.update(c.co_names)
    return names


@functools.lru_cache(maxsize=1)
def check_objection_hooks() -> None:
    """Raise if the torch internals the hooks rely on are gone or changed shape (a torch upgrade)."""
    from torch.fx.experimental.symbolic_shapes import DimConstraints, EqualityConstraint, ShapeEnv

    expected = (
        (ShapeEnv, "produce_guards_verbose", ["self", "placeholders", "sources"]),
        (ShapeEnv, _RENDER, ["self", "source", "c"]),
        (EqualityConstraint, "is_equal", ["self", "source1", "source2"]),
        (EqualityConstraint, "is_derived", ["self", "src", "symbol_src", "fn"]),
        (DimConstraints, "add", ["self", "expr"]),
        (DimConstraints, "forced_specializations", ["self"]),
    )
    for cls, name, params in expected:
        method = cls.__dict__.get(name)
        if method is None:
            raise RuntimeError(f"torch.fx.experimental.symbolic_shapes.{cls.__name__}.{name} is gone: dimsolve needs updating")
        got = list(inspect.signature(method).parameters)[: len(params)]
        if got != params:
            raise RuntimeError(f"{cls.__name__}.{name} changed signature to {got}: dimsolve needs updating")
    callers = {c.co_name for c in _code_tree(ShapeEnv.produce_guards_verbose.__code__) if _RENDER in c.co_names}
    if callers != set(_SITES):
        raise RuntimeError(f"ShapeEnv.{_RENDER} is now called from {sorted(callers)}, not {sorted(_SITES)}: dimsolve needs updating")
    needed = ((ShapeEnv, ("source_name_to_debug_name", "var_to_range", "var_to_sources")),
              (DimConstraints, ("_substitutions", "_marked_dynamic", "_dcp")),
              (EqualityConstraint, ("warn_only",)))
    for cls, attrs in needed:
        used = _names_used(cls) | set(getattr(cls, "__dataclass_fields__", ()))
        for attr in attrs:
            if attr not in used:
                raise RuntimeError(f"{cls.__name__}.{attr} is gone: dimsolve needs updating")
