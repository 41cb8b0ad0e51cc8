"""Machinery for the tests/unbacked suite: model sources as strings, written to files we control,
imported with importlib, checked by dimsolve, then patched with dimsolve's own ``torch._check``
suggestions and exported again with real ``torch.export.export``.

Generating the model source ourselves means we know every line number: a DS601's
``location.line`` must point at the offending statement of *this* text, and inserting the
suggested checks right above it is a plain list insertion.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

import dimsolve
from dimsolve.diagnostics.model import AddCheck, Diagnostic

# torch's own symbol names (u0, s17, ...) must never reach the user
TORCH_SYMBOL = re.compile(r"\b[us]\d+\b")
SPECIALIZED_KIND = "specialized int from data-dependent value"


@dataclass(frozen=True)
class Failure:
    """One data-dependent failure the model has: the statement that raises, the user names its
    guard must be written in, and optionally the exact guard text and ``torch._check`` lines
    (compared without spaces and parentheses, so ``(a//2) >= 5`` matches ``a // 2 >= 5``)."""

    statement: str
    names: tuple[str, ...]
    guard: str | None = None
    checks: tuple[str, ...] | None = None
    specialized_int: bool = False


@dataclass(frozen=True)
class Case:
    source: str
    args: tuple
    dynamic_shapes: Any = None
    failures: tuple[Failure, ...] = ()
    strict: bool = False
    # test name -> reason, for the parts of a case that a known dimsolve bug breaks
    xfail: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return textwrap.dedent(self.source).lstrip("\n")


def squash(text: str) -> str:
    return re.sub(r"[\s()]", "", text)


def line_of(source: str, statement: str) -> int:
    """1-based line of ``statement`` in ``source`` (it must occur exactly once)."""
    hits = [i for i, line in enumerate(source.splitlines(), start=1) if line.strip() == statement]
    assert len(hits) == 1, f"{statement!r} occurs {len(hits)} times in the model source"
    return hits[0]


def ds601(report: Any) -> list[Diagnostic]:
    return [d for d in report.diagnostics if d.code == "DS601"]


def add_checks(diagnostic: Diagnostic) -> list[AddCheck]:
    return [c for fix in diagnostic.fixes for c in fix.changes if isinstance(c, AddCheck)]


def params(cases: dict[str, Case], test: str, select: Any = lambda c: True) -> list[Any]:
    """pytest params with ids, xfail-marked (strict) where ``case.xfail`` names ``test``."""
    return [
        pytest.param(key, id=key, marks=[pytest.mark.xfail(strict=True, reason=case.xfail[test])]
                     if test in case.xfail else [])
        for key, case in cases.items() if select(case)
    ]


def insert_checks(source: str, path: Path, diagnostics: list[Diagnostic]) -> str:
    """Put every suggested ``torch._check(...)`` right above the line its AddCheck names, with
    that line's indentation. Uses only what the report says: file, line, code."""
    lines = source.splitlines()
    wanted: dict[int, list[str]] = {}
    for d in diagnostics:
        for change in add_checks(d):
            loc = change.location
            assert loc is not None, f"AddCheck without a location: {change}"
            assert Path(loc.file).resolve() == path.resolve(), (loc.file, path)
            assert loc.code.startswith(lines[loc.line - 1].strip()), (loc.line, loc.code)
            wanted.setdefault(loc.line, []).append(change.code)
    for number in sorted(wanted, reverse=True):
        target = lines[number - 1]
        indent = target[: len(target) - len(target.lstrip())]
        lines[number - 1:number - 1] = [indent + code for code in dict.fromkeys(wanted[number])]
    return "\n".join(lines) + "\n"


_COUNTER = itertools.count()


def load_model(source: str, path: Path) -> Any:
    """Write ``source`` to ``path`` and import it under a fresh module name; return ``Model()``."""
    path.write_text(source)
    name = f"_dimsolve_unbacked_{path.stem}_{next(_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.Model()


def torch_export(model: Any, case: Case, dynamic_shapes: Any = None) -> Any:
    spec = case.dynamic_shapes if dynamic_shapes is None else dynamic_shapes
    return torch.export.export(model, case.args, dynamic_shapes=spec, strict=case.strict)


def same_output(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same_output(x, y) for x, y in zip(a, b))
    return a == b


@dataclass
class Run:
    model: Any
    path: Path
    report: Any


class Runner:
    """Runs each case once per session (the first torch trace costs seconds, later ones ~0.3 s)."""

    def __init__(self, directory: Path, cases: dict[str, Case]) -> None:
        self.directory = directory
        self.cases = cases
        self._original: dict[str, Run] = {}
        self._patched: dict[str, Run] = {}

    def original(self, key: str) -> Run:
        if key not in self._original:
            case = self.cases[key]
            path = self.directory / f"{key.replace('-', '_')}.py"
            model = load_model(case.text, path)
            report = dimsolve.check_dynamic_shapes(model, case.args, dynamic_shapes=case.dynamic_shapes,
                                                   strict=case.strict)
            self._original[key] = Run(model, path, report)
        return self._original[key]

    def patched(self, key: str) -> Run:
        """The model with every suggested check inserted, and dimsolve's report on it."""
        if key not in self._patched:
            case = self.cases[key]
            first = self.original(key)
            source = insert_checks(case.text, first.path, ds601(first.report))
            path = self.directory / f"{key.replace('-', '_')}_patched.py"
            model = load_model(source, path)
            report = dimsolve.check_dynamic_shapes(model, case.args, dynamic_shapes=case.dynamic_shapes,
                                                   strict=case.strict)
            self._patched[key] = Run(model, path, report)
        return self._patched[key]
