"""Which line of the user's code a guard comes from: the innermost frame outside torch.

A guard is emitted deep inside torch (a meta function, a fake-tensor impl); the user wants the
statement of *their* model that led there, and the torch operation that emitted it. The stack is
torch's own record of the user's code under strict export (dynamo), the live stack otherwise.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback

from dimsolve.diagnostics.model import SourceLocation

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_EXAMPLES_DIR = os.path.join(_PKG_DIR, "examples")
# torch frames that name the *operation* that emitted a guard, innermost first
_OP_MARKERS = ("/nn/functional.py", "/nn/modules/", "_meta_registrations", "/_refs/", "/_prims", "fake_impls", "/_decomp/")


@functools.lru_cache(maxsize=1)
def _torch_dir() -> str:
    import torch

    return os.path.dirname(os.path.abspath(torch.__file__))


@functools.lru_cache(maxsize=4096)
def _is_user_frame(filename: str, torch_dir: str) -> bool:
    path = os.path.abspath(filename)
    if path.startswith(torch_dir) or filename.startswith("<"):
        return False
    if path.startswith(_PKG_DIR) and not path.startswith(_EXAMPLES_DIR):
        return False
    return "site-packages/z3" not in path and "/sympy/" not in path


@functools.lru_cache(maxsize=256)
def _statement_spans(filename: str) -> tuple[tuple[int, int], ...]:
    """(first line, last line) of every statement in a source file; empty if it cannot be read."""
    import ast
    import linecache

    source = "".join(linecache.getlines(filename))
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    return tuple((n.lineno, n.end_lineno or n.lineno) for n in ast.walk(tree) if isinstance(n, ast.stmt))


def statement_start(filename: str, line: int) -> int:
    """The first line of the innermost statement containing ``line``: for a condition spread over
    several lines, the line a ``torch._check`` must go before."""
    spans = [(a, b) for a, b in _statement_spans(filename) if a <= line <= b]
    if not spans:
        return line
    return min(spans, key=lambda span: (span[1] - span[0], -span[0]))[0]


def _frame_location(frame: traceback.FrameSummary, op: str = "") -> SourceLocation:
    import linecache

    line = frame.lineno or 0
    start = statement_start(frame.filename, line) if line else line
    code = linecache.getline(frame.filename, start).strip() if start != line else (frame.line or "").strip()
    return SourceLocation(file=frame.filename, line=start, function=frame.name, code=code or (frame.line or "").strip(), op=op)


@functools.lru_cache(maxsize=4096)
def _op_file(filename: str, torch_dir: str) -> str:
    """``torch/nn/functional.py`` for a torch file that names an op, else ""."""
    path = os.path.abspath(filename)
    if path.startswith(torch_dir) and any(m in path for m in _OP_MARKERS) and not path.endswith("module.py"):
        return f"torch/{os.path.relpath(path, torch_dir)}"
    return ""


def _op_frame(stack: list[traceback.FrameSummary], torch_dir: str) -> str:
    for frame in reversed(stack):
        op = _op_file(frame.filename, torch_dir)
        if op:
            return f"{op}:{frame.lineno} in {frame.name}"
    return ""


# torch's own machinery (tracing, dispatch, shape functions), never the library call a user made
_MACHINERY_DIRS = ("_subclasses/", "fx/", "_prims", "_refs/", "_decomp/", "utils/", "_dynamo/", "_functorch/",
                   "_export/", "export/", "_library/", "_higher_order_ops/", "_logging/", "_C/")
_MACHINERY_FILES = ("__init__.py", "_ops.py", "_compile.py", "overrides.py", "_meta_registrations.py", "_guards.py",
                    "_jit_internal.py", "_tensor.py", "_utils.py", "_utils_internal.py")


def library_frame() -> str:
    """The innermost frame of a torch library the user's line called, between it and torch's
    machinery (``torch/distributions/distribution.py:76 in __init__``); "" when there is none (the
    user's own ``if tensor:``)."""
    torch_dir = _torch_dir()
    for frame in reversed(_live_stack(torch_dir)):
        path = os.path.abspath(frame.filename)
        if not path.startswith(torch_dir + os.sep):
            continue
        rel = os.path.relpath(path, torch_dir).replace(os.sep, "/")
        if rel not in _MACHINERY_FILES and not rel.startswith(_MACHINERY_DIRS):
            return f"torch/{rel}:{frame.lineno} in {frame.name}"
    return ""


def _live_stack(torch_dir: str) -> list[traceback.FrameSummary]:
    """The live stack up to the innermost user frame, as ``traceback.extract_stack`` would give it
    but without reading the source of every frame (that is most of a guard's capture cost)."""
    frames: list[traceback.FrameSummary] = []
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        user = _is_user_frame(filename, torch_dir)
        frames.append(traceback.FrameSummary(filename, frame.f_lineno, frame.f_code.co_name, lookup_line=False,
                                             line=None if user else ""))
        if user:
            break
        frame = frame.f_back
    frames.reverse()
    return frames


def user_location(stack: list[traceback.FrameSummary] | None = None) -> SourceLocation | None:
    """The innermost frame of the user's code, plus the torch op frame that emitted the guard.

    Non-strict export runs ``forward`` as plain Python, so the live stack has the user's frame.
    Strict export (dynamo) keeps the user's stack in ``TracingContext``; library modules there
    point inside torch, so we walk out to the user's file in both cases.
    """
    torch_dir = _torch_dir()
    frames = list(stack) if stack is not None else []
    if stack is None:
        from torch._guards import TracingContext

        # strict export: dynamo's view of the user's code; the live stack there is the interpreter
        frames = list(TracingContext.extract_stack() or []) or _live_stack(torch_dir)
    op = _op_frame(frames, torch_dir)
    for frame in reversed(frames):
        if _is_user_frame(frame.filename, torch_dir):
            return _frame_location(frame, op)
    return None
