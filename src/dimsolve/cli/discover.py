"""Find the shape cases a project declares: case files from ``[tool.dimsolve]``, ``@dimsolve.case`` functions.

Importing a case file runs it: this module is the trust boundary of ``dimsolve lint`` and
``pytest --dimsolve``. Nothing here imports torch; the case files usually do.

Configuration (``pyproject.toml`` of the project root, the nearest ancestor directory that has one)::

    [tool.dimsolve]
    cases = ["models/**/shape_cases.py"]   # globs relative to the root; default ["**/*shape_cases.py"]
    cache-dir = ".dimsolve_cache"          # optional; $DIMSOLVE_CACHE_DIR wins
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import os
import re
import sys
import traceback
from collections.abc import Iterable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

DEFAULT_CASES = ("**/*shape_cases.py",)
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", "env", "build", "dist"}


class ConfigError(Exception):
    """``[tool.dimsolve]`` is malformed, or a path on the command line does not exist."""


@dataclass(frozen=True)
class Config:
    root: Path
    cases: tuple[str, ...] = DEFAULT_CASES
    cache_dir: str | None = None
    pyproject: Path | None = None


@dataclass(frozen=True)
class CaseRef:
    """One case to run: ``function`` in ``file``; ``function`` is None when the file failed to import."""

    id: str  # "models/a/shape_cases.py::good": the sort key of sharding, the name in every report
    file: str  # absolute
    relpath: str  # POSIX, relative to the root when below it
    function: str | None
    line: int
    strict: bool = False
    error: str | None = None  # why the file could not be imported (type: message, then the traceback)
    output: str = ""  # what importing the file printed

    @property
    def is_import_error(self) -> bool:
        return self.function is None


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: cwd) with a ``pyproject.toml``, else ``start``."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    return here


def load_config(root: Path) -> Config:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return Config(root)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {pyproject}: {exc}") from None
    table = data.get("tool", {}).get("dimsolve", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.dimsolve] must be a table")
    cases = table.get("cases", list(DEFAULT_CASES))
    if isinstance(cases, str):
        cases = [cases]
    if not isinstance(cases, list) or not all(isinstance(c, str) and c for c in cases):
        raise ConfigError(f"{pyproject}: [tool.dimsolve] cases must be a list of glob strings")
    cache_dir = table.get("cache-dir")
    if cache_dir is not None and not isinstance(cache_dir, str):
        raise ConfigError(f"{pyproject}: [tool.dimsolve] cache-dir must be a string")
    return Config(root, tuple(cases), cache_dir, pyproject)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A POSIX path glob as a regex: ``*`` and ``?`` stay within a path segment, ``**/`` spans any depth.

    >>> bool(glob_regex("models/**/shape_cases.py").fullmatch("models/shape_cases.py"))
    True
    """
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _walk_python_files(base: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath) / name


def relpath(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def case_files(config: Config, paths: Sequence[str] = ()) -> list[Path]:
    """The case files to import: named files as given; in named directories (or the root) the ones the globs match."""
    patterns = [glob_regex(p[2:] if p.startswith("./") else p) for p in config.cases]
    found: dict[Path, None] = {}
    for raw in paths or [str(config.root)]:
        path = Path(raw).resolve()
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            for file in _walk_python_files(path):
                rel = relpath(file, config.root)
                if any(p.fullmatch(rel) for p in patterns):
                    found[file.resolve()] = None
        elif path.exists():
            raise ConfigError(f"{raw} is not a Python file or a directory")
        else:
            raise ConfigError(f"no such file or directory: {raw}")
    return sorted(found)


# --- importing ---------------------------------------------------------------------------------

_MODULES: dict[str, ModuleType] = {}


def module_name(path: Path) -> str:
    digest = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    return f"dimsolve_case_{stem}_{digest}"


def import_case_file(path: Path, root: Path) -> ModuleType:
    """Import (once per process) the case file at ``path`` with ``root`` on ``sys.path``; this runs its code."""
    key = str(path)
    if key in _MODULES:
        return _MODULES[key]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    name = module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _MODULES[key] = module
    return module


def _error_line(exc: BaseException, path: Path) -> int:
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == path and exc.lineno:
        return exc.lineno
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
    return (lines[-1] or 1) if lines else 1


def describe_exception(exc: BaseException, path: Path | None = None) -> str:
    """``Type: message`` then the traceback from the first frame in ``path`` (the user's frames only)."""
    frames = list(traceback.extract_tb(exc.__traceback__))
    if path is not None:
        starts = [i for i, f in enumerate(frames) if Path(f.filename).resolve() == path]
        frames = frames[starts[0]:] if starts else frames[-1:]
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    head = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    tb = "".join(traceback.format_list(frames)) if frames else ""
    if isinstance(exc, SyntaxError) and exc.text:
        tb += f'  File "{exc.filename}", line {exc.lineno}\n    {exc.text.strip()}\n'
    return head + ("\n" + tb.rstrip("\n") if tb else "")


def _spec_expr_line(value: ast.expr, assigned: dict[str, int]) -> int:
    """The line of the spec in a returned ``(model, args, kwargs, spec)`` or ``Case(..., dynamic_shapes=spec)``."""
    spec: ast.expr | None = None
    if isinstance(value, ast.Tuple) and len(value.elts) == 4:
        spec = value.elts[3]
    elif isinstance(value, ast.Call):
        spec = next((k.value for k in value.keywords if k.arg == "dynamic_shapes"), None)
        if spec is None and len(value.args) >= 4:
            spec = value.args[3]
    if spec is None:
        return value.lineno
    if isinstance(spec, ast.Name) and spec.id in assigned:
        return assigned[spec.id]
    return spec.lineno


def spec_lines(source: str) -> dict[str, int]:
    """For each top-level function: the line that writes its spec (best effort), else its ``def`` line."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    lines: dict[str, int] = {}
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        assigned: dict[str, int] = {}
        returns: list[ast.Return] = []
        stack: list[ast.AST] = list(node.body)
        while stack:
            child = stack.pop(0)
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    if isinstance(target, ast.Name):
                        assigned[target.id] = child.lineno
            if isinstance(child, ast.Return) and child.value is not None:
                returns.append(child)
            stack.extend(ast.iter_child_nodes(child))
        last = max(returns, key=lambda r: r.lineno, default=None)
        lines[node.name] = _spec_expr_line(last.value, assigned) if last and last.value else node.lineno
    return lines


def cases_in(module: ModuleType, path: Path, root: Path) -> list[CaseRef]:
    """The ``@dimsolve.case`` functions defined in ``module``, in definition order."""
    from dimsolve.export.case import case_options

    rel = relpath(path, root)
    try:
        located = spec_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        located = {}
    refs = []
    for name, obj in list(vars(module).items()):
        options = case_options(obj)
        if options is None or getattr(obj, "__module__", None) != module.__name__:
            continue
        code = getattr(obj, "__code__", None)
        line = located.get(name) or (code.co_firstlineno if code is not None else 1)
        refs.append(CaseRef(f"{rel}::{name}", str(path), rel, name, line, options.strict))
    return refs


@dataclass
class Discovery:
    cases: list[CaseRef] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def discover(config: Config, paths: Sequence[str] = ()) -> Discovery:
    """Every case in the case files, sorted by id; a file that fails to import is one error entry."""
    result = Discovery(files=case_files(config, paths))
    for path in result.files:
        out = io.StringIO()
        try:
            with redirect_stdout(out), redirect_stderr(out):
                module = import_case_file(path, config.root)
        except (Exception, SystemExit) as exc:  # the user's file is broken: report it as that file's result
            rel = relpath(path, config.root)
            result.cases.append(CaseRef(rel, str(path), rel, None, _error_line(exc, path),
                                        error=describe_exception(exc, path), output=out.getvalue()))
            continue
        result.cases.extend(cases_in(module, path, config.root))
    result.cases.sort(key=lambda c: c.id)
    return result


def shard(cases: Sequence[CaseRef], index: int, total: int) -> list[CaseRef]:
    """Shard ``index`` of ``total`` (1-based): the cases at sorted positions ``p`` with ``p % total == index - 1``."""
    ordered = sorted(cases, key=lambda c: c.id)
    return [c for p, c in enumerate(ordered) if p % total == index - 1]


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` -> ``(2, 3)``; a ``ValueError`` for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"expected I/N such as 1/3, got {text!r}")
    i, n = int(match.group(1)), int(match.group(2))
    if not 1 <= i <= n:
        raise ValueError(f"shard {i}/{n}: I must be between 1 and N")
    return i, n


def loaded_function(ref: CaseRef, root: Path) -> Any:
    module = import_case_file(Path(ref.file), root)
    return getattr(module, ref.function or "")
