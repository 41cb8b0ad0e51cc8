"""Parse a user's ``dynamic_shapes`` (every form ``torch.export.export`` accepts) into a ``Spec``.

Errors are returned as DS1xx diagnostics, all of them, never raised. The forms follow torch 2.13:

- ``None`` or an empty dict/tuple: every dimension is static;
- a dict keyed by the names of the *passed* inputs (torch requires exactly those keys);
- a tuple/list with one entry per passed input, in signature order (keywords included);
- per input: a tuple/list with one entry per tensor dimension, a dict ``{axis: dim}``, ``None``,
  or, for list/tuple/dict inputs, the same container of per-element specs.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dimsolve.diagnostics.model import Diagnostic
from dimsolve.dims._common import describe, diag, sub_path
from dimsolve.dims._torch import TorchTypes, torch_types
from dimsolve.dims.check import check_entries
from dimsolve.dims.model import InputPath, LayoutNode, NodeKind, Spec
from dimsolve.dims.walk import TOP, UNSPECIFIED, SpecWalker

MAX_DEPTH = 64  # container levels in a spec or an input; deeper ones are refused before any walk recurses


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A parsed spec, or None with the DS1xx diagnostics that explain why it is not valid."""

    spec: Spec | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.spec is not None


def parse_spec(
    signature_or_callable: Any,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any] | None = None,
    dynamic_shapes: Any = None,
) -> ParseResult:
    """Parse ``dynamic_shapes`` against the example inputs of a model, function or signature.

    >>> dx = Dim("dx", min=3, max=6)
    >>> parse_spec(model, (x, y), None, {"x": (dx, None), "y": (2 * dx, None)}).spec.roots
    {'dx': RootDim(name='dx', min=3, max=6)}
    """
    types = torch_types()
    kwargs = dict(kwargs or {})
    bound = _bind(signature_or_callable, args, kwargs, types)
    if isinstance(bound, Diagnostic):
        return ParseResult(None, (bound,))
    inputs, params, var_keyword = bound
    deep = _too_deep(dynamic_shapes, inputs)
    if deep is not None:
        return ParseResult(None, (deep,))
    walker = SpecWalker(types)
    top = _TopLevel(walker, inputs, params, kwargs, _var_positional(signature_or_callable, types))
    layout = top.parse(dynamic_shapes)
    if var_keyword in inputs and layout.kind is not NodeKind.NONE:
        top.var_keyword_error(var_keyword, by_name=layout.kind is NodeKind.DICT)
    found = walker.diags + check_entries(walker.entries, walker.roots)
    if found:
        return ParseResult(None, tuple(found))
    spec = Spec(tuple(walker.entries), dict(walker.roots), layout, tuple(inputs))
    return ParseResult(spec, ())


def _depth_over(value: Any, limit: int) -> bool:
    """Whether tuples, lists and dicts nest more than ``limit`` levels in ``value`` (no recursion;
    shared or self-referencing containers are walked once per depth they are reached at)."""
    stack = [(value, 1)]
    seen: dict[int, int] = {}
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (tuple, list, dict)):
            continue
        if depth > limit:
            return True
        if seen.get(id(item), 0) >= depth:
            continue
        seen[id(item)] = depth
        stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _too_deep(spec: Any, inputs: dict[str, Any]) -> Diagnostic | None:
    """DS109 for a spec, DS101 for example inputs, nested deeper than ``MAX_DEPTH`` containers."""
    for name, value in inputs.items():
        if _depth_over(value, MAX_DEPTH):
            return diag("DS101", f"input {name} nests containers more than {MAX_DEPTH} levels deep",
                        (sub_path(TOP, name),), "pass example inputs that torch.export can flatten: "
                        f"at most {MAX_DEPTH} levels of tuples, lists and dicts")
    entries = spec.items() if isinstance(spec, dict) else enumerate(spec) if isinstance(spec, (tuple, list)) else ()
    for key, value in entries:
        if _depth_over(value, MAX_DEPTH - 1):
            return diag("DS109", f"{sub_path(TOP, key)} nests containers more than {MAX_DEPTH} levels deep",
                        (sub_path(TOP, key),), "a spec follows its input's structure: one tuple, list or dict "
                        "per container level of the input, then one entry per tensor dimension")
    return None


def _bind(
    target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], types: TorchTypes | None
) -> tuple[dict[str, Any], tuple[str, ...], str | None] | Diagnostic:
    """Combine args and kwargs by ``forward``'s signature, as torch does."""
    try:
        if isinstance(target, inspect.Signature):
            sig = target
        elif types is not None and isinstance(target, types.module):
            sig = inspect.signature(getattr(target, "forward"))
        else:
            sig = inspect.signature(target)
        arguments = sig.bind(*args, **kwargs).arguments
    except (TypeError, ValueError) as exc:
        return diag(
            "DS101",
            f"the example inputs do not match the signature of forward: {exc}",
            (TOP,),
            "pass args and kwargs that forward accepts",
        )
    var_keyword = next((p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD), None)
    return dict(arguments), tuple(sig.parameters), var_keyword


def _var_positional(target: Any, types: TorchTypes | None) -> str | None:
    """The name of forward's ``*args`` parameter, if it has one."""
    try:
        fn = getattr(target, "forward") if types is not None and isinstance(target, types.module) else target
        sig = target if isinstance(target, inspect.Signature) else inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return next((p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.VAR_POSITIONAL), None)


class _TopLevel:
    """Match the top level of the spec to forward's inputs."""

    def __init__(self, walker: SpecWalker, inputs: dict[str, Any], params: tuple[str, ...], kwargs: dict[str, Any],
                 var_positional: str | None = None):
        self.w = walker
        self.inputs = inputs
        self.names = list(inputs)
        self.params = params
        self.kwargs = kwargs
        self.var_positional = var_positional

    def parse(self, spec: Any) -> LayoutNode:
        if spec is None or (isinstance(spec, (dict, tuple, list)) and len(spec) == 0):
            return LayoutNode(NodeKind.NONE, children=(self._by_name({}),))
        if isinstance(spec, dict):
            self._check_keys(spec)
            return self._by_name(spec)
        if isinstance(spec, (tuple, list)):
            return self._by_position(spec)
        self.w.error(
            "DS109",
            f"dynamic_shapes is {describe(spec)}",
            (TOP,),
            "give a dict keyed by forward's parameter names, a tuple with one entry per input, or None",
        )
        return LayoutNode(NodeKind.NONE, children=(self._by_name({}),))

    def var_keyword_error(self, name: str, *, by_name: bool) -> None:
        # torch 2.13 fails inside export (an internal AssertionError) for any such spec, even all-None
        where = sub_path(TOP, name if by_name else self.names.index(name))
        self.w.error(
            "DS101",
            f"forward takes **{name} and torch cannot match a dynamic_shapes spec to those inputs",
            (where,),
            f"make the inputs in **{name} named parameters of forward, or pass dynamic_shapes=None",
        )

    def _by_name(self, spec: dict[Any, Any]) -> LayoutNode:
        nodes = {
            n: self.w.walk(v, spec.get(n, UNSPECIFIED), InputPath((n,)), sub_path(TOP, n)) for n, v in self.inputs.items()
        }
        keys = [k for k in spec if k in nodes] + [n for n in self.names if n not in spec]
        return LayoutNode(NodeKind.DICT, keys=tuple(keys), children=tuple(nodes[k] for k in keys))

    def _check_keys(self, spec: dict[Any, Any]) -> None:
        valid = ", ".join(self.names)
        for key in spec:
            if key in self.inputs:
                continue
            if key in self.params:
                message = f"dynamic_shapes has key {key!r}, but {key} is not passed in the example inputs"
                hint = f"remove it: torch only accepts keys for the inputs that are passed ({valid})"
            else:
                message = f"dynamic_shapes has key {key!r}, which is not an input of forward"
                hint = f"use the names of forward's inputs: {valid}" + self._wrap_hint(spec)
            self.w.error("DS101", message, (sub_path(TOP, key),), hint)
        for name in self.names:
            if name not in spec:
                self.w.error(
                    "DS101",
                    f"dynamic_shapes has no entry for input {name!r}",
                    (sub_path(TOP, name),),
                    f'add "{name}": None (static) or a spec for it; torch needs a key for every input ({valid})',
                )

    def _wrap_hint(self, spec: dict[Any, Any]) -> str:
        if len(self.names) == 1 and isinstance(self.inputs[self.names[0]], dict):
            if set(spec) == set(self.inputs[self.names[0]]):
                return f' (it looks like the spec of {self.names[0]}: wrap it as {{"{self.names[0]}": {{...}}}})'
        return ""

    def _by_position(self, spec: Sequence[Any]) -> LayoutNode:
        shown = ", ".join(self.names)
        if self.var_positional in self.inputs and len(spec) > len(self.names):
            return self._flattened_var_positional(spec, self.var_positional)
        for i in range(len(self.names), len(spec)):
            self.w.error(
                "DS101",
                f"dynamic_shapes[{i}] has no matching input: forward takes {len(self.names)} inputs ({shown})",
                (sub_path(TOP, i),),
                "remove it, or key the spec by input name",
            )
        if len(spec) < len(self.names):
            self.w.error(
                "DS101",
                f"dynamic_shapes has {len(spec)} entries but forward takes {len(self.names)} inputs ({shown})",
                (TOP,),
                "give one entry per input in signature order (None for a static one), or key the spec by name",
            )
        self._check_kwarg_order()
        children = []
        for i, name in enumerate(self.names):
            child = spec[i] if i < len(spec) else UNSPECIFIED
            children.append(self.w.walk(self.inputs[name], child, InputPath((name,)), sub_path(TOP, i)))
        kind = NodeKind.LIST if isinstance(spec, list) else NodeKind.TUPLE
        return LayoutNode(kind, keys=tuple(range(len(self.names))), children=tuple(children))

    def _flattened_var_positional(self, spec: Sequence[Any], name: str) -> LayoutNode:
        """One spec per element of ``*name`` at the top level: torch binds ``*name`` as one input."""
        at = self.names.index(name)
        n = len(self.inputs[name])
        self.w.error(
            "DS101",
            f"dynamic_shapes gives {len(spec)} entries, but torch binds *{name} ({n} tensors) as one input: "
            f"forward takes {len(self.names)} inputs ({', '.join(self.names)})",
            (TOP,),
            f"group the specs of *{name} into one tuple at position {at}, e.g. "
            f"dynamic_shapes = ({'..., ' * at}(<spec of {name}[0]>, ..., <spec of {name}[{n - 1}]>),), "
            f"or key it by name: {{\"{name}\": (...)}}",
        )
        children = tuple(self.w.walk(self.inputs[k], UNSPECIFIED, InputPath((k,)), sub_path(TOP, i))
                         for i, k in enumerate(self.names))
        return LayoutNode(NodeKind.TUPLE, keys=tuple(range(len(self.names))), children=children)

    def _check_kwarg_order(self) -> None:
        # torch checks a positional spec against signature order but builds ranges in call order
        passed = [k for k in self.kwargs if k in self.inputs]
        ordered = [k for k in self.inputs if k in passed]
        if passed != ordered:
            self.w.error(
                "DS101",
                f"keyword inputs are passed as ({', '.join(passed)}) but a positional dynamic_shapes follows "
                f"signature order ({', '.join(ordered)}); torch mixes the two up",
                (TOP,),
                "key dynamic_shapes by input name, or pass the keyword inputs in signature order",
            )
