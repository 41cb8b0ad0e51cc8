"""Helpers for tests/hints: cached dimsolve reports, real torch.export runs, and readings of an
ExportedProgram that do not go through dimsolve (range constraints, which input dims are dynamic)."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

import dimsolve

# A case builds (model, args, dynamic_shapes) afresh; reports are cached per (case id, strict).
Make = Callable[[], tuple[torch.nn.Module, tuple, Any]]

_REPORTS: dict[tuple[str, bool], Any] = {}


def report_of(case_id: str, make: Make, strict: bool = False) -> Any:
    key = (case_id, strict)
    if key not in _REPORTS:
        torch.manual_seed(0)
        model, args, spec = make()
        _REPORTS[key] = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec, strict=strict)
    return _REPORTS[key]


def build(make: Make) -> tuple[torch.nn.Module, tuple, Any]:
    torch.manual_seed(0)
    return make()


@dataclass(frozen=True)
class Case:
    """One row of a table: ``xfail`` maps a test function's name to the reason it is a known bug."""

    id: str
    make: Make
    expect: Any = None
    xfail: dict[str, str] = field(default_factory=dict)


def params(cases: list[Case], test_name: str) -> list[Any]:
    """pytest params for ``test_name``: a case gets a strict xfail only in the tests its bug breaks."""
    out = []
    for c in cases:
        marks = [pytest.mark.xfail(strict=True, reason=c.xfail[test_name])] if test_name in c.xfail else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


# ----------------------------------------------------------------------------------------------
# torch
# ----------------------------------------------------------------------------------------------


def export(model: torch.nn.Module, args: tuple, spec: Any, strict: bool = False) -> Any:
    return torch.export.export(model, tuple(args), dynamic_shapes=spec, strict=strict)


def ranges(ep: Any) -> list[tuple[Any, Any]]:
    """The values of ``ep.range_constraints`` as sorted (lower, upper) pairs (int_oo compared as text)."""
    return sorted((int(vr.lower), str(vr.upper)) for vr in ep.range_constraints.values())


def user_input_nodes(ep: Any) -> list[Any]:
    names = set(ep.graph_signature.user_inputs)
    return [n for n in ep.graph.nodes if n.op == "placeholder" and n.name in names]


def dim_is_dynamic(ep: Any, arg_index: int, axis: int) -> bool:
    """Is this input dimension a symbol (or an expression of symbols) bounded by ep.range_constraints?"""
    size = user_input_nodes(ep)[arg_index].meta["val"].shape[axis]
    if not isinstance(size, torch.SymInt):
        return False
    free = size.node.expr.free_symbols
    return bool(free) and free <= set(ep.range_constraints)


def exec_spec_code(code: str) -> Any:
    """Run dimsolve's generated Python (pin_code / fix_code) and return its ``dynamic_shapes``."""
    namespace: dict[str, Any] = {"torch": torch}
    exec(compile(code, "<dimsolve code>", "exec"), namespace)  # noqa: S102 - dimsolve's own output, under test
    return namespace["dynamic_shapes"]


# ----------------------------------------------------------------------------------------------
# dims and source lines
# ----------------------------------------------------------------------------------------------

_DIM = re.compile(r"^(\w+)\.shape\[(\d+)\]$")


def spec_path(dim: str) -> str:
    """'w.shape[1]' -> 'dynamic_shapes["w"][1]' (the primary location dimsolve gives a spec entry)."""
    name, axis = _DIM.match(dim).groups()  # type: ignore[union-attr]
    return f'dynamic_shapes["{name}"][{axis}]'


def arg_position(model: torch.nn.Module, name: str) -> int:
    return list(inspect.signature(model.forward).parameters).index(name)


def locate(model: torch.nn.Module, dim: str) -> tuple[int, int]:
    """'y.shape[1]' -> (position of y among forward's arguments, 1)."""
    name, axis = _DIM.match(dim).groups()  # type: ignore[union-attr]
    return arg_position(model, name), int(axis)


def line_of(model_cls: type, statement: str) -> tuple[str, int]:
    """(source file, line number) of the one line of ``model_cls.forward`` whose text is ``statement``."""
    lines, start = inspect.getsourcelines(model_cls.forward)
    hits = [start + i for i, text in enumerate(lines) if text.strip() == statement]
    assert len(hits) == 1, f"{statement!r} must be exactly one line of {model_cls.__name__}.forward"
    return inspect.getsourcefile(model_cls), hits[0]  # type: ignore[return-value]


def findings_for(report: Any, dim: str, code: str | None = None) -> list[Any]:
    """Findings whose primary spec path is ``dim``'s."""
    path = spec_path(dim)
    return [d for d in report.diagnostics if d.paths and d.paths[0] == path and (code is None or d.code == code)]


def assert_names_line(d: Any, model_cls: type, statement: str, quoted: bool = True) -> None:
    """The finding's first label is the model's line, and (``quoted``) its message quotes that line and file:line."""
    file, line = line_of(model_cls, statement)
    assert d.labels, f"{d.code} has no source label: {d.message}"
    loc = d.labels[0].location
    assert os.path.samefile(loc.file, file) and loc.line == line, (loc.file, loc.line, d.message)
    assert loc.code.strip() == statement
    if not quoted:
        return
    assert f"`{statement}`" in d.message, d.message
    assert f"{os.path.basename(file)}:{line}" in d.message, d.message


def codes(report: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(d.code, d.severity.value, tuple(d.paths)) for d in report.diagnostics]


# ----------------------------------------------------------------------------------------------
# grown examples (0/1)
# ----------------------------------------------------------------------------------------------

_GROWN = re.compile(r"^with (?P<sizes>.+?) (?:the spec is valid|dimsolve finds)")
_SIZE = re.compile(r"^(\w+)\.shape\[(\d+)\] = (\d+)$")


def grown_sizes(help_lines: tuple[str, ...]) -> dict[tuple[str, int], int]:
    """The sizes of the grown example a DS403 ``help`` line proposes: {(input, axis): size}."""
    for line in help_lines:
        m = _GROWN.match(line)
        if m:
            out = {}
            for part in m.group("sizes").split(", "):
                sm = _SIZE.match(part.strip())
                assert sm, f"cannot read {part!r} in {line!r}"
                out[(sm.group(1), int(sm.group(2)))] = int(sm.group(3))
            return out
    raise AssertionError(f"no 'with <dim> = <n> ...' line in help: {help_lines}")


def grow(model: torch.nn.Module, args: tuple, sizes: dict[tuple[str, int], int]) -> tuple:
    """Fresh example inputs with the given dims resized (independent of dimsolve's own resizing)."""
    out = list(args)
    for (name, axis), n in sizes.items():
        i = arg_position(model, name)
        shape = list(out[i].shape)
        shape[axis] = n
        out[i] = torch.randn(shape, dtype=out[i].dtype)
    return tuple(out)
