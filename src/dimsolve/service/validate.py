"""What the request models cannot say field by field: a GuardSet's symbols must name each input
dimension once, and the dimensions must exist in the inputs the GuardSet records.

``check_guardset`` runs in the server process on the validated request model (plain Python, no
sympy); ``check_paths_exist`` runs in the worker, where the recorded inputs are parsed. Both
raise ``ServiceError`` 422 with the JSON path of the offending value, so a malformed GuardSet
never reaches the solver (where it used to surface as a 500).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dimsolve.service.errors import invalid

SCALAR_AXIS = -1  # dims.model.SCALAR_AXIS, copied: the server process imports nothing of dims (a test holds them equal)


def _path_key(path: Any) -> tuple[tuple[Any, ...], int]:
    return tuple(path.input), path.axis


def check_guardset(guardset: Any) -> None:
    """Refuse duplicate symbol names, backed symbols without an input path or with a negative
    example, unbacked symbols with one, and an input dimension claimed by two symbols.
    ``guardset`` is a ``GuardSetWire``."""
    names: dict[str, int] = {}
    owner: dict[tuple[tuple[Any, ...], int], str] = {}
    for i, symbol in enumerate(guardset.symbols):
        where = f"guardset.symbols[{i}]"
        if symbol.name in names:
            raise invalid(f"symbol {symbol.name!r} is defined twice (first at guardset.symbols[{names[symbol.name]}]); "
                          "each symbol needs one entry listing all its paths", f"{where}.name")
        names[symbol.name] = i
        if symbol.backed and not symbol.paths:
            raise invalid(f"backed symbol {symbol.name!r} has no input path; a backed symbol is the size of at least "
                          "one input dimension (only unbacked symbols have none)", f"{where}.paths")
        if not symbol.backed and symbol.paths:
            raise invalid(f"unbacked symbol {symbol.name!r} has input paths; an input dimension's size is a backed "
                          "symbol (set backed to true), a data-dependent value has no path", f"{where}.paths")
        if symbol.backed and symbol.example is not None and symbol.example < 0:
            raise invalid(f"backed symbol {symbol.name!r} has the example size {symbol.example}; sizes are >= 0",
                          f"{where}.example")
        for j, path in enumerate(symbol.paths):
            other = owner.setdefault(_path_key(path), symbol.name)
            if other != symbol.name:
                raise invalid(f"{_show(path)} is claimed by symbols {other!r} and {symbol.name!r}; "
                              "one input dimension is one symbol", f"{where}.paths[{j}]")
    for i, spec in enumerate(guardset.specializations):
        if spec.value < 0:
            raise invalid(f"a specialisation to {spec.value}; sizes are >= 0", f"guardset.specializations[{i}].value")


def check_paths_exist(symbols: Iterable[tuple[str, Iterable[Any]]], specializations: Iterable[Any],
                      leaves: Mapping[Any, tuple[int, ...] | None]) -> None:
    """Every symbol path and specialisation names a dimension of a recorded input, and every
    dimension of a recorded tensor has a symbol or a specialisation.

    ``symbols`` is (name, paths) per symbol in GuardSet order, ``specializations`` the
    specialisations' ``DimPath``s, and ``leaves`` the recorded inputs (``TracedInputs.leaves``):
    a tensor's shape, or None for an int (whose value is the path with axis -1).
    """
    listed = [(name, list(paths)) for name, paths in symbols]
    for i, (name, paths) in enumerate(listed):
        for j, path in enumerate(paths):
            _exists(path, leaves, f"guardset.symbols[{i}].paths[{j}]", f"symbol {name!r}")
    covered: set[tuple[Any, int]] = set()
    for i, path in enumerate(specializations):
        _exists(path, leaves, f"guardset.specializations[{i}].path", "a specialisation")
        covered.add((path.input, path.axis))
    covered |= {(path.input, path.axis) for _, paths in listed for path in paths}
    for ipath, shape in leaves.items():
        missing = next((axis for axis in range(len(shape or ())) if (ipath, axis) not in covered), None)
        if missing is not None:
            raise invalid(f"{ipath}.shape[{missing}] has neither a symbol nor a specialisation; dimsolve.trace_guards "
                          "records one for every dimension of every tensor input", "guardset.symbols")


def _exists(path: Any, leaves: Mapping[Any, tuple[int, ...] | None], where: str, what: str) -> None:
    if path.input not in leaves:
        raise invalid(f"{what} is the size of {path}, but {path.input} is not among the recorded inputs "
                      "(guardset.meta.inputs)", where)
    shape = leaves[path.input]
    if path.axis == SCALAR_AXIS:
        if shape is not None:
            raise invalid(f"{what} has axis -1 (an int input's value), but {path.input} is a tensor", where)
    elif shape is None:
        raise invalid(f"{what} is the size of {path}, but {path.input} is not a tensor", where)
    elif not 0 <= path.axis < len(shape):
        raise invalid(f"{what} is the size of {path}, but {path.input} has rank {len(shape)}", where)


def _show(path: Any) -> str:
    head, *rest = path.input
    return str(head) + "".join(f"[{k!r}]" for k in rest) + f".shape[{path.axis}]"


__all__ = ["check_guardset", "check_paths_exist"]
