"""Trace a model once with torch.export and return every shape guard it emitted as a ``GuardSet``.

Every tensor dimension is traced as ``Dim.AUTO`` (a fresh symbol, torch's default range
``[2, inf)``), and so is every int input (range ``[0, inf)``), independent of the user's spec: the guards then describe what the *model* requires,
and the same GuardSet can check any spec for these example inputs without re-tracing.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import sympy

from dimsolve.dims._common import is_plain_int
from dimsolve.dims._torch import pytree_key, spec_tree
from dimsolve.dims.model import DimPath, InputPath
from dimsolve.guards import capture as cap
from dimsolve.guards import unbacked
from dimsolve.guards.isolation import isolated
from dimsolve.guards.root_forms import root_definition, root_forms
from dimsolve.guards.model import GuardKind, GuardRecord, GuardSet, Specialization, SymbolInfo, TraceFailure
from dimsolve.guards.source_lines import user_location


@dataclass(frozen=True)
class Leaf:
    path: InputPath
    value: Any


def bind_inputs(model: Any, args: tuple, kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """forward's parameters by name, as torch.export binds them."""
    fn = model.forward if hasattr(model, "forward") else model
    bound = inspect.signature(fn).bind(*args, **(kwargs or {}))
    return dict(bound.arguments)


def _input_path(name: str, key_path: tuple[Any, ...]) -> InputPath:
    """A pytree key path under parameter ``name`` as dimsolve's ``InputPath``."""
    return InputPath((name, *(pytree_key(k) for k in key_path)))


def input_leaves(bound: Mapping[str, Any]) -> list[Leaf]:
    """Every pytree leaf of every input, in torch's flattening order, with its path."""
    from torch.utils._pytree import tree_flatten_with_path

    return [Leaf(_input_path(name, key_path), leaf)
            for name, value in bound.items() for key_path, leaf in tree_flatten_with_path(value)[0]]


def auto_dynamic_shapes(bound: Mapping[str, Any]) -> dict[str, Any]:
    """``Dim.AUTO`` on every dimension of every tensor input and on every int input (torch makes it a
    symbol, so the guards also say what the model needs of a spec's dynamic ints), ``None`` for
    everything else."""
    import torch
    from torch.export import Dim

    def leaf_spec(x: Any) -> Any:
        if is_plain_int(x):
            return Dim.AUTO
        if not isinstance(x, torch.Tensor):
            return None
        return tuple(Dim.AUTO for _ in range(x.dim()))

    return {name: spec_tree(value, leaf_spec) for name, value in bound.items()}


def resolve_dim(chain: tuple[str, tuple[Any, ...], int], params: list[str], leaves: list[Leaf]) -> DimPath | None:
    root, keys, axis = chain
    if root in params:
        path = InputPath((root, *keys))
    elif root == "flat_args" and keys and isinstance(keys[0], int) and keys[0] < len(leaves):
        path = InputPath(leaves[keys[0]].path.keys + tuple(keys[1:]))
    elif root == "args" and len(keys) >= 2 and keys[0] == 0 and isinstance(keys[1], int) and keys[1] < len(params):
        path = InputPath((params[keys[1]], *keys[2:]))
    elif root == "args" and len(keys) >= 2 and keys[0] == 1:
        path = InputPath(tuple(keys[1:]))
    else:
        return None
    return DimPath(path, axis)


def _size_of(leaves: list[Leaf], dim: DimPath) -> int | None:
    """The example's size of ``dim`` (an int input's value for a scalar path)."""
    import torch

    for leaf in leaves:
        if leaf.path != dim.input:
            continue
        if dim.is_scalar:
            return leaf.value if is_plain_int(leaf.value) else None
        if isinstance(leaf.value, torch.Tensor) and dim.axis < leaf.value.dim():
            return int(leaf.value.shape[dim.axis])
    return None


def _symbols(raw: list[cap.RawSymbol], params: list[str], leaves: list[Leaf]) -> tuple[list[SymbolInfo], list[Specialization]]:
    by_name: dict[str, SymbolInfo] = {}
    specs: list[Specialization] = []
    for r in raw:
        chain = cap.source_chain(r.source)
        dim = resolve_dim(chain, params, leaves) if chain else None
        if dim is None or _size_of(leaves, dim) != r.value:
            continue
        if not isinstance(r.expr, sympy.Symbol):
            if r.value in (0, 1) and not dim.is_scalar:  # other constants are dims the spec itself made static
                specs.append(Specialization(dim, r.value, f"torch specialises sizes 0 and 1 (example size {r.value})"))
            continue
        name = str(r.expr)
        old = by_name.get(name)
        paths = (old.paths if old else ()) + ((dim,) if not old or dim not in old.paths else ())
        by_name[name] = SymbolInfo(name, paths, r.value, backed=True)
    return _add_aliases(list(by_name.values()), leaves), specs


def _add_aliases(symbols: list[SymbolInfo], leaves: list[Leaf]) -> list[SymbolInfo]:
    """The same tensor object passed twice shares its symbols: record every path it appears at."""
    first_of: dict[int, InputPath] = {}
    aliases: dict[InputPath, list[InputPath]] = {}
    for leaf in leaves:
        if hasattr(leaf.value, "shape"):
            origin = first_of.setdefault(id(leaf.value), leaf.path)
            if origin != leaf.path:
                aliases.setdefault(origin, []).append(leaf.path)
    out = []
    for s in symbols:
        extra = tuple(DimPath(a, p.axis) for p in s.paths for a in aliases.get(p.input, ()))
        out.append(SymbolInfo(s.name, s.paths + extra, s.example, s.backed))
    return out


def _guards(raw: list[cap.RawGuard]) -> list[GuardRecord]:
    seen: set[sympy.Basic] = set()
    out = []
    for g in raw:
        # torch logs a guard it evaluates under suppress_guards() (fake-tensor cache checks, e.g. a
        # view against its ``_base``) and then drops it: the exported program never checks it
        if g.prefix.endswith("[guard suppressed]") or g.expr in (sympy.true, True) or g.expr in seen:
            continue
        seen.add(g.expr)
        kind = GuardKind.RUNTIME_ASSERT if g.prefix == "runtime_assert" else GuardKind.GUARD
        out.append(GuardRecord(g.expr, kind, g.origin))
    return out


def _root_definitions(guards: list[GuardRecord], declared: set[str]) -> dict[sympy.Basic, sympy.Symbol]:
    """``a*root + b -> size`` for each of torch's definitions ``Eq(size, a*root + b)`` of a derived
    Dim's root (a symbol no input declares), ``size`` one declared symbol."""
    forms: dict[sympy.Basic, sympy.Symbol] = {}
    for g in guards:
        definition = root_definition(g.expr, declared)
        if definition is not None:
            forms.setdefault(definition[1], definition[0])
    return forms


def _in_declared_terms(guards: list[GuardRecord], declared: set[str]) -> list[GuardRecord]:
    """Guards torch states over a derived Dim's root alone, restated over a size it defines.

    Strict export replaces ``x.shape[2]`` by ``2*_d`` once the spec's derived Dim is seen, then
    re-checks ``x.shape[2] == 2*(x.shape[2] // 2)`` as ``Eq(2*(2*s30 // 2), 2*s30)``: ``s30`` is no
    input's size, so the guard would name an undeclared symbol. Where the root only appears in a
    form a definition gives (``2*s30`` is ``x.shape[2]``), the guard reads the same over that size.
    """
    forms = _root_definitions(guards, declared)
    if not forms:
        return guards
    out = []
    for g in guards:
        names = {s.name for s in g.expr.free_symbols}  # type: ignore[attr-defined]
        if names - declared:
            restated = g.expr.xreplace(forms)
            # a definition itself restates to True: it stays, as torch's definition of the root
            if restated is not sympy.true and {s.name for s in restated.free_symbols} <= declared:  # type: ignore[attr-defined]
                g = replace(g, expr=restated)
        out.append(g)
    return out


def _index_guards(captured: cap.Capture, bound: Mapping[str, Any], symbols: list[SymbolInfo],
                  guards: list[GuardRecord]) -> list[GuardRecord]:
    """The program's index checks that depend on sizes (``guards.index_bounds``), those torch
    does not already guard."""
    from dimsolve.guards.index_bounds import index_guards

    if captured.program is None:
        return []
    names = {id(leaf.value): str(leaf.path) for leaf in input_leaves(bound)}
    have = {g.expr for g in guards}
    found = index_guards(captured.program, captured.inputs, names, {s.name for s in symbols if s.backed})
    return [g for g in found if g.expr not in have]


def failure_of(exc: BaseException) -> TraceFailure:
    import traceback

    inner = cap.unwrap_user_error(exc)
    origin = user_location(traceback.extract_tb(inner.__traceback__)) if inner.__traceback__ else None
    kind = "data_dependent" if cap.is_data_dependent(inner) else "error"
    first_line = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    return TraceFailure(message=f"{type(inner).__name__}: {first_line}", origin=origin, kind=kind)


def without_torch_graph_dump(text: str) -> str:
    """torch.export prints the partial graph (``e.partial_fx_graph``) to stderr when tracing fails;
    dimsolve reports the failure itself, so keep the model's own output and drop that dump."""
    cut = text.find("\ndef forward(self")
    return text if cut < 0 else text[:cut].rstrip("\n") + ("\n" if text[:cut].strip() else "")


def _export_once(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, bound: Mapping[str, Any], strict: bool,
                 real_values: bool, size_oblivious: bool = False) -> tuple[cap.Capture, list[TraceFailure]]:
    import torch
    import torch._functorch.config as functorch_config
    import torch.fx.experimental._config as fx_config

    failures: list[TraceFailure] = []
    out, err = io.StringIO(), io.StringIO()
    # real-tensor propagation (as torch's draft_export does) decides data-dependent guards with the
    # example's real values, so tracing reaches every one of them instead of stopping at the first
    real = functorch_config.patch(fake_tensor_propagate_real_tensors=True, generate_fake_kernels_from_real_mismatches=True)
    # size-oblivious tracing treats sizes 0/1 like any other size instead of specialising them
    oblivious = fx_config.patch(backed_size_oblivious=True) if size_oblivious else contextlib.nullcontext()
    with (isolated(), cap.capturing() as captured, cap.quiet_torch_logs(), contextlib.redirect_stdout(out),
          contextlib.redirect_stderr(err), real if real_values else contextlib.nullcontext(), oblivious):
        try:
            program = torch.export.export(model, tuple(args), dict(kwargs or {}),
                                          dynamic_shapes=auto_dynamic_shapes(bound), strict=strict)
            keep_program(captured, program, args, kwargs)
        except Exception as exc:  # any tracing failure becomes data: the guards before it still count
            failures.append(failure_of(exc))
    sys.stdout.write(without_torch_graph_dump(out.getvalue()))
    sys.stderr.write(without_torch_graph_dump(err.getvalue()))
    return captured, failures


def keep_program(captured: cap.Capture, program: Any, args: tuple, kwargs: Mapping[str, Any] | None) -> None:
    """Record torch's ExportedProgram with the capture: its index checks join the GuardSet."""
    from torch.utils._pytree import tree_flatten

    captured.program = program
    captured.inputs = tuple(tree_flatten((tuple(args), dict(kwargs or {})))[0])


def trace_guards(model: Any, args: tuple, kwargs: Mapping[str, Any] | None = None, *, strict: bool = False,
                 size_oblivious: bool = False) -> GuardSet:
    """Trace ``model`` with every input dimension dynamic and collect the guards it emits.

    ``size_oblivious``
    keeps example sizes 0 and 1 symbolic (torch's ``backed_size_oblivious``): the guards then say
    what the model needs of those dims at sizes >= 2, without a grown example.

    When tracing stops at a data-dependent guard, it runs again with the example's real values so
    that every data-dependent guard is found in one run (each becomes a ``data_dependent`` failure).

    >>> gs = trace_guards(model, (torch.randn(6, 4), torch.randn(6, 4)))   # doctest: +SKIP
    >>> [str(g.expr) for g in gs.guards]                                     # doctest: +SKIP
    ['Eq(s0, s2)', 'Eq(s1, s3)']
    """
    bound = bind_inputs(model, args, kwargs)
    captured, failures = _export_once(model, args, kwargs, bound, strict, False, size_oblivious)
    if any(f.kind == "data_dependent" for f in failures):
        captured, failures = _export_once(model, args, kwargs, bound, strict, True, size_oblivious)
        failures = [f for f in failures if f.kind != "data_dependent"] + unbacked.data_dependent_failures(captured)
    return guardset_from_capture(captured, bound, failures, strict)


def guardset_from_capture(captured: cap.Capture, bound: Mapping[str, Any], failures: list[TraceFailure],
                          strict: bool) -> GuardSet:
    """The GuardSet of one captured export: symbols mapped to input paths, guards, specialisations."""
    import torch

    symbols, specializations = _symbols(captured.symbols, list(bound), input_leaves(bound))
    declared = {s.name for s in symbols}
    guards = root_forms(captured.first_replacements, declared).restate(_in_declared_terms(_guards(captured.guards), declared), declared)
    return GuardSet(
        symbols=tuple(symbols) + tuple(unbacked.unbacked_symbols(captured)),
        guards=tuple(guards + _index_guards(captured, bound, symbols, guards)),
        specializations=tuple(specializations),
        failures=tuple(failures),
        strict=strict,
        torch_version=torch.__version__,
    )
