"""Load a user's case factory from ``path/to/file.py:factory``. This runs the user's code."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from typing import Any


class CaseError(Exception):
    """The target cannot be loaded or does not return a case; the message says what to do."""


def factory_line(target: str) -> int:
    """The line of ``factory`` in ``path/to/file.py:factory`` (its ``def`` or assignment), 1 when not found.

    Read from the source, so that SARIF from ``dimsolve check`` can point at the spec's case.
    """
    import ast

    path, _, name = target.rpartition(":")
    try:
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
    except (OSError, SyntaxError, ValueError, RecursionError):
        return 1
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return node.lineno
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.lineno
    return 1


def _raised(exc: BaseException) -> str:
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")


def load_case(target: str) -> Any:
    from dimsolve.export.api import Case

    path, sep, factory_name = target.rpartition(":")
    if not sep or not path or not factory_name:
        raise CaseError(f"expected path/to/file.py:factory, got {target!r}")
    if not os.path.isfile(path):
        what = ("a directory" if os.path.isdir(path) else "not a regular file") if os.path.exists(path) else None
        raise CaseError(f"{path} is {what}: expected a Python file" if what else f"no such file: {path}")
    # a name from the path itself, not ``hash()`` (salted per process): the same file gets the same
    # module name, and so the same class names in torch's messages, in every run
    digest = hashlib.sha256(os.path.abspath(path).encode("utf-8")).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(f"dimsolve_case_{digest}", path)
    if spec is None or spec.loader is None:
        raise CaseError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the user's module failed (or called sys.exit): report it
        raise CaseError(f"importing {path} failed: {_raised(exc)}") from exc
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise CaseError(f"{path} has no callable {factory_name!r}")
    try:
        result = factory()
    except (Exception, SystemExit) as exc:  # sys.exit() in the user's code too
        raise CaseError(f"{factory_name}() raised {_raised(exc)}") from exc
    if isinstance(result, Case):
        return result
    if isinstance(result, tuple) and len(result) == 4:
        model, args, kwargs, dynamic_shapes = result
        return Case(model, tuple(args), dict(kwargs or {}), dynamic_shapes)
    raise CaseError(f"{factory_name}() must return (model, args, kwargs, dynamic_shapes) or a dimsolve.Case")
