"""Rebuild stand-in example inputs (meta tensors of the recorded shapes) from a GuardSet.

``check_spec`` parses a spec without the model: the GuardSet records forward's parameter names
and every input leaf's path and shape, which is all the spec parser needs.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from dimsolve.guards.model import GuardSet


def _insert(tree: Any, keys: list[Any], value: Any) -> Any:
    if not keys:
        return value
    head, rest = keys[0], keys[1:]
    if tree is None:
        tree = [] if isinstance(head, int) else {}
    if isinstance(tree, list):
        while len(tree) <= head:
            tree.append(None)
        tree[head] = _insert(tree[head], rest, value)
    else:
        tree[head] = _insert(tree.get(head), rest, value)
    return tree


def stand_in_inputs(guards: GuardSet) -> tuple[inspect.Signature, tuple, dict[str, Any]] | None:
    import torch

    raw = guards.meta.get("inputs")
    if not raw:
        return None
    data = json.loads(raw)
    values: dict[str, Any] = {}
    for leaf in data["leaves"]:
        keys = list(leaf["path"])
        shape = leaf["shape"]
        value = torch.empty(shape, device="meta") if shape is not None else 0
        values[keys[0]] = _insert(values.get(keys[0]), keys[1:], value)
    params = [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in data["params"]]
    signature = inspect.Signature(params)
    return signature, (), values
