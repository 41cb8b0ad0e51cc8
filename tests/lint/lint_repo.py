"""A tiny project with shape cases, written into a temporary directory, and a way to lint it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

PYPROJECT = """\
[project]
name = "fixture"
version = "0"

[tool.dimsolve]
cases = ["models/**/shape_cases.py"]
"""

ADD_CASES = '''\
import torch
from torch.export import Dim

import dimsolve


class Add(torch.nn.Module):
    def forward(self, x, y):
        return x + y


@dimsolve.case
def good():
    d = Dim("d")
    return Add(), (torch.randn(4), torch.randn(4)), {}, {"x": (d,), "y": (d,)}


@dimsolve.case
def violating():
    spec = {"x": (Dim("a"),), "y": (Dim("b"),)}
    return Add(), (torch.randn(4), torch.randn(4)), {}, spec


def helper_not_a_case():
    return 42
'''

PROJ_CASES = '''\
import torch
from torch.export import Dim

import dimsolve


class Proj(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        print("printed by the model")
        return self.lin(x)


@dimsolve.case
def as_case():
    return dimsolve.Case(Proj(), (torch.randn(3, 4),), dynamic_shapes={"x": (Dim("b"), 4)})


@dimsolve.case
def bad_spec():
    return Proj(), (torch.randn(3, 4),), {}, {"x": (Dim("b"),)}


@dimsolve.case
def bad_return():
    return 42
'''

BROKEN_CASES = '''\
import dimsolve
import a_module_that_does_not_exist


@dimsolve.case
def never_seen():
    raise AssertionError("unreachable")
'''

BRANCH_CASES = '''\
import torch
from torch.export import Dim

import dimsolve


class Branch(torch.nn.Module):
    def forward(self, x):
        if x.shape[0] <= 8:
            return x * 2
        return x


@dimsolve.case
def too_wide():
    return Branch(), (torch.randn(4),), {}, {"x": (Dim("n"),)}
'''

CLEAN_CASES = '''\
import torch
from torch.export import Dim

import dimsolve


class Add(torch.nn.Module):
    def forward(self, x, y):
        return x + y


@dimsolve.case(strict=False)
def clean():
    d = Dim("d")
    return Add(), (torch.randn(5), torch.randn(5)), {}, {"x": (d,), "y": (d,)}
'''

FILES = {
    "pyproject.toml": PYPROJECT,
    "models/add/shape_cases.py": ADD_CASES,
    "models/proj/shape_cases.py": PROJ_CASES,
    "models/broken/shape_cases.py": BROKEN_CASES,
    "models/branch/shape_cases.py": BRANCH_CASES,
    "models/add/helpers.py": "raise RuntimeError('not a case file: must never be imported')\n",
    "extra/clean_cases.py": CLEAN_CASES,  # outside the globs: linted only when named
}

# id -> (status, error codes) of every case the globs find
EXPECTED = {
    "models/add/shape_cases.py::good": ("ok", []),
    "models/add/shape_cases.py::violating": ("findings", ["DS201"]),
    "models/branch/shape_cases.py::too_wide": ("findings", ["DS301"]),
    "models/broken/shape_cases.py": ("error", []),
    "models/proj/shape_cases.py::as_case": ("ok", []),
    "models/proj/shape_cases.py::bad_return": ("error", []),
    "models/proj/shape_cases.py::bad_spec": ("findings", ["DS102"]),
}
CHECKED = 4  # cases that reach the solver: all but the errors and bad_spec (a spec error needs no trace)
COLD_TRACED = 3  # good and violating share one GuardSet (same model, inputs and case file): the second is a hit


def write_repo(root: Path) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def lint_env(cache_dir: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DIMSOLVE_CACHE_DIR", "DIMSOLVE_DEBUG")}
    if cache_dir is not None:
        env["DIMSOLVE_CACHE_DIR"] = str(cache_dir)
    return env


def start_lint(repo: Path, *args: str, cache_dir: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dimsolve.cli.main", "lint", *args], cwd=repo,
                            env=lint_env(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def lint(repo: Path, *args: str, cache_dir: Path | None = None) -> subprocess.CompletedProcess:
    return finish(start_lint(repo, *args, cache_dir=cache_dir))


def lint_many(repo: Path, runs: dict[str, tuple[str, ...]], cache_dir: Path | None = None) -> dict[str, subprocess.CompletedProcess]:
    """Several lint runs at once (each pays torch's import time; in parallel they pay it once)."""
    procs = {name: start_lint(repo, *args, cache_dir=cache_dir) for name, args in runs.items()}
    return {name: finish(p) for name, p in procs.items()}


def timed_lint(repo: Path, *args: str, cache_dir: Path | None = None) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    result = lint(repo, *args, cache_dir=cache_dir)
    return result, time.perf_counter() - start
