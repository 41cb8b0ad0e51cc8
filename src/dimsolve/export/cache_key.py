"""The cache key: a fingerprint of everything tracing a model on its example inputs depends on.

That is the source of the model's classes (and their module files), the shapes/dtypes/strides of
the example inputs and of the parameters, the strict flag, and the torch, Python and dimsolve
versions. The spec is deliberately not part of it: one GuardSet checks any spec for its inputs.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dimsolve.export.cache_entry import ENTRY_FORMAT, ENTRY_VERSION


def cache_key(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None, *, strict: bool, salt: str = "") -> str:
    """The hex sha256 of everything tracing ``model`` on these inputs depends on (not the spec).

    ``salt`` adds what the caller knows about, e.g. the contents of the case file that built the model.
    """
    import torch

    from dimsolve._version import __version__

    parts = {
        "entry": [ENTRY_FORMAT, ENTRY_VERSION],
        "dimsolve": __version__,
        "torch": torch.__version__,
        "python": list(sys.version_info[:2]),
        "strict": bool(strict),
        "model": _model_fingerprint(model),
        "inputs": _input_fingerprint(model, args, kwargs),
        "salt": salt,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _user_classes(model: Any) -> list[Any]:
    import torch

    objects = list(model.modules()) if isinstance(model, torch.nn.Module) else [model]
    seen: dict[str, Any] = {}
    for obj in objects:
        cls = obj if inspect.isfunction(obj) else type(obj)
        for klass in getattr(cls, "__mro__", (cls,)):
            module = getattr(klass, "__module__", "") or ""
            if module.split(".")[0] not in ("torch", "builtins"):
                seen.setdefault(f"{module}.{getattr(klass, '__qualname__', klass)}", klass)
    return [seen[name] for name in sorted(seen)]


def _source_of(obj: Any) -> dict[str, str]:
    """The object's own source and the sha256 of its whole module file ("" when unavailable)."""
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        source = ""
    try:
        file = inspect.getsourcefile(obj)
        module_hash = hashlib.sha256(Path(file).read_bytes()).hexdigest() if file else ""
    except (OSError, TypeError):
        module_hash = ""
    return {"source": _sha256(source), "module": module_hash}


def _model_fingerprint(model: Any) -> dict[str, Any]:
    import torch

    fingerprint: dict[str, Any] = {
        "classes": {f"{c.__module__}.{c.__qualname__}": _source_of(c) for c in _user_classes(model)},
    }
    if isinstance(model, torch.nn.Module):
        fingerprint["state"] = [[name, _tensor_fingerprint(t)] for name, t in model.state_dict(keep_vars=True).items()]
        fingerprint["training"] = model.training
    return fingerprint


def _tensor_fingerprint(t: Any) -> list[Any]:
    return [list(t.shape), str(t.dtype), str(t.device), list(t.stride()) if t.layout is _strided() else str(t.layout)]


def _strided() -> Any:
    import torch

    return torch.strided


def _input_fingerprint(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None) -> list[Any]:
    import torch

    from dimsolve.guards.trace import bind_inputs, input_leaves

    try:
        leaves = input_leaves(bind_inputs(model, tuple(args), kwargs))
    except TypeError:  # the inputs do not bind: tracing reports that; key on their types only
        return [repr(type(a)) for a in args] + sorted(repr(k) for k in (kwargs or {}))
    out: list[Any] = []
    for leaf in leaves:
        value = leaf.value
        if isinstance(value, torch.Tensor):
            described: Any = _tensor_fingerprint(value)
        elif value is None or isinstance(value, (bool, int, float, str)):
            described = repr(value)
        else:
            described = f"<{type(value).__module__}.{type(value).__qualname__}>"
        out.append([[str(k) if not isinstance(k, int) else k for k in leaf.path.keys], described])
    return out


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

