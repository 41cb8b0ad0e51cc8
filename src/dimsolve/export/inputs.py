"""Rebuild stand-in example inputs (meta tensors of the recorded shapes) from a GuardSet.

``check_spec`` parses a spec without the model: the GuardSet records forward's parameter names
and every input leaf's path and shape, and (``meta["containers"]``) whether each container is a
tuple, a list or a dict, which is all the spec parser needs: torch refuses a list spec for a tuple
input, so the stand-in must be a tuple where the example was one.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from dimsolve.guards.model import GuardSet


CONTAINERS = "containers"
_KINDS = {tuple: "tuple", list: "list", dict: "dict"}


def container_kinds(bound: dict[str, Any]) -> str:
    """``meta["containers"]``: ``[[path, "tuple" | "list" | "dict"], ...]`` for every container input."""
    out: list[list[Any]] = []
    stack: list[tuple[list[Any], Any]] = [([name], value) for name, value in bound.items()]
    while stack:
        path, value = stack.pop()
        kind = next((k for t, k in _KINDS.items() if isinstance(value, t)), None)
        if kind is None or len(path) > 64:  # deeper inputs are refused by the spec parser
            continue
        out.append([path, kind])
        items = value.items() if isinstance(value, dict) else enumerate(value)
        stack.extend((path + [k], v) for k, v in items if isinstance(k, (str, int)))
    return json.dumps(sorted(out, key=lambda item: json.dumps(item[0])))


def _insert(tree: Any, prefix: tuple[Any, ...], keys: list[Any], value: Any, kinds: dict[tuple[Any, ...], str]) -> Any:
    if not keys:
        return value
    head, rest = keys[0], keys[1:]
    if tree is None:
        tree = {} if kinds.get(prefix, "list" if isinstance(head, int) else "dict") == "dict" else []
    if isinstance(tree, list):
        while len(tree) <= head:
            tree.append(None)
        tree[head] = _insert(tree[head], prefix + (head,), rest, value, kinds)
    else:
        tree[head] = _insert(tree.get(head), prefix + (head,), rest, value, kinds)
    return tree


def _present(values: dict[str, Any], path: tuple[Any, ...]) -> bool:
    node: Any = values
    for key in path:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node) and node[key] is not None:
            node = node[key]
        else:
            return False
    return True


def _as_recorded(tree: Any, prefix: tuple[Any, ...], kinds: dict[tuple[Any, ...], str]) -> Any:
    if isinstance(tree, list):
        items = [_as_recorded(v, prefix + (i,), kinds) for i, v in enumerate(tree)]
        return tuple(items) if kinds.get(prefix) == "tuple" else items
    if isinstance(tree, dict):
        return {k: _as_recorded(v, prefix + (k,), kinds) for k, v in tree.items()}
    return tree


def _recorded_kinds(raw: str | None) -> dict[tuple[Any, ...], str]:
    """The recorded container kinds (none for GuardSets made before they were recorded: lists then)."""
    if not raw:
        return {}
    try:
        return {tuple(path): kind for path, kind in json.loads(raw) if kind in ("tuple", "list", "dict")}
    except (ValueError, TypeError, RecursionError):  # a hand-edited or foreign record: as if none was kept
        return {}


def stand_in_inputs(guards: GuardSet) -> tuple[inspect.Signature, tuple, dict[str, Any]] | None:
    """Meta-device inputs shaped as the traced ones, from ``meta["inputs"]``; None when there is no
    usable record (absent, or malformed: the caller then works from the symbols)."""
    try:
        return _stand_ins(guards)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, RuntimeError):
        return None


def _stand_ins(guards: GuardSet) -> tuple[inspect.Signature, tuple, dict[str, Any]] | None:
    import torch

    raw = guards.meta.get("inputs")
    if not raw:
        return None
    data = json.loads(raw)
    kinds = _recorded_kinds(guards.meta.get(CONTAINERS))
    values: dict[str, Any] = {}
    for leaf in data["leaves"]:
        keys = list(leaf["path"])
        shape = leaf["shape"]
        value = torch.empty(shape, device="meta") if shape is not None else leaf.get("value", 0)
        values[keys[0]] = _insert(values.get(keys[0]), (keys[0],), keys[1:], value, kinds)
    for path, kind in sorted(kinds.items(), key=lambda item: len(item[0])):  # empty containers have no leaf
        if not _present(values, path):
            empty: Any = {} if kind == "dict" else []
            values[path[0]] = _insert(values.get(path[0]), (path[0],), list(path[1:]), empty, kinds)
    values = {name: _as_recorded(tree, (name,), kinds) for name, tree in values.items()}
    params = [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in data["params"]]
    signature = inspect.Signature(params)
    return signature, (), values
