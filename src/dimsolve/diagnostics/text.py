"""The human renderer: rustc/ruff-style text for a list of diagnostics.

```
error[DS201]: y.shape[0] must equal x.shape[0]
  --> model.py:12 in forward
   |     w = x + y
   = spec:   x: (dx, d1)  y: (dy, d1)      guard: x.shape[0] == y.shape[0]
   = counterexample: x.shape[0]=2, y.shape[0]=3 is admitted by the spec but fails this guard
   = fix: dy = dx
```

A pure function of its arguments (and of the working directory, which only shortens absolute
source paths), so the output can be snapshot-tested byte for byte.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from dimsolve.diagnostics.changes import render_change
from dimsolve.diagnostics.model import Applicability, Diagnostic, Label, Severity, SourceLocation

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_SEVERITY_STYLE = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.INFO: "\x1b[1;36m",
}
_GUTTER_STYLE = "\x1b[1;34m"
_FIX_STYLE = "\x1b[1;32m"

# The gutter is three columns wide, like rustc's for single-digit line numbers; every fact line
# starts with it so the eye can run down the left edge of one diagnostic.
_GUTTER = "   "


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def paint(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self.color and text else text


def display_path(file: str, cwd: str | None = None) -> str:
    """``file`` relative to ``cwd`` (default: the working directory) when it lies below it.

    >>> display_path("/home/me/proj/model.py", "/home/me/proj")
    'model.py'
    """
    if not os.path.isabs(file):
        return file
    base = cwd if cwd is not None else os.getcwd()
    try:
        rel = os.path.relpath(file, base)
    except ValueError:  # another drive on Windows
        return file
    return file if rel.startswith(os.pardir) else rel


def _location_text(loc: SourceLocation) -> str:
    where = f"{display_path(loc.file)}:{loc.line}"
    return f"{where} in {loc.function}" if loc.function else where


def _natural_key(path: str) -> list[object]:
    """Sort ``x.shape[2]`` before ``x.shape[10]``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def _field(st: _Style, name: str, text: str, name_style: str = _BOLD) -> list[str]:
    """``   = name: text``; continuation lines of a multi-line text line up under its first line."""
    head = f"{_GUTTER}{st.paint('=', _GUTTER_STYLE)} {st.paint(name + ':', name_style)} "
    indent = " " * (len(_GUTTER) + len(name) + 4)
    first, *rest = text.split("\n")
    return [head + first] + [indent + line if line else "" for line in rest]


def _label_lines(st: _Style, label: Label, primary: bool) -> list[str]:
    arrow = "-->" if primary else ":::"
    lines = [f"  {st.paint(arrow, _GUTTER_STYLE)} {_location_text(label.location)}"]
    bar = st.paint("|", _GUTTER_STYLE)
    code = label.location.code.strip()
    if code:
        lines.append(f"{_GUTTER}{bar}     {code}")
    note = label.message
    if label.location.op:
        via = f"emitted by {label.location.op}"
        note = f"{note} ({via})" if note else via
    if note:
        lines.append(f"{_GUTTER}{bar}     {st.paint('^', _GUTTER_STYLE)} {note}")
    return lines


def counterexample_text(values: object) -> str:
    """``x.shape[0]=2, y.shape[0]=3 is admitted by the spec but fails this guard``."""
    if isinstance(values, Mapping):
        items = sorted(((str(k), v) for k, v in values.items()), key=lambda kv: _natural_key(kv[0]))
        shown = ", ".join(f"{k}={v}" for k, v in items)
    else:
        shown = str(values)
    return f"{shown} is admitted by the spec but fails this guard"


def _fact_lines(st: _Style, d: Diagnostic, spec_line: str | None) -> list[str]:
    lines: list[str] = []
    guard = d.facts.get("guard")
    spec = d.facts.get("spec")
    # the report-wide spec line only helps findings about the spec (not, e.g., data-dependent ones)
    if spec is None and (d.paths or guard is not None or "counterexample" in d.facts):
        spec = spec_line
    if spec is not None:
        text = f"  {spec}" + (f"      guard: {guard}" if guard is not None else "")
        lines += _field(st, "spec", text)
    elif guard is not None:
        lines += _field(st, "guard", str(guard))
    if "counterexample" in d.facts:
        lines += _field(st, "counterexample", counterexample_text(d.facts["counterexample"]))
    return lines


def _fix_lines(st: _Style, d: Diagnostic) -> list[str]:
    lines: list[str] = []
    for fix in d.fixes:
        name = _FIX_LABEL[fix.applicability]
        rendered = [render_change(c) for c in fix.changes] or [fix.title]
        for text in rendered:
            lines += _field(st, name, text, _FIX_STYLE)
    return lines


def render_diagnostic(d: Diagnostic, *, spec_line: str | None = None, color: bool = False) -> str:
    """One diagnostic: header, locations, facts, notes, help and fixes (no trailing newline)."""
    st = _Style(color)
    word = st.paint(f"{d.severity.value}[{d.code}]", _SEVERITY_STYLE[d.severity])
    lines = [f"{word}{st.paint(':', _BOLD)} {st.paint(d.message, _BOLD)}"]
    if d.labels:
        for i, label in enumerate(d.labels):
            lines += _label_lines(st, label, primary=i == 0)
    elif d.paths:
        lines.append(f"  {st.paint('-->', _GUTTER_STYLE)} {d.paths[0]}")
    lines += _fact_lines(st, d, spec_line)
    for note in d.notes:
        lines += _field(st, "note", note)
    for hint in d.help:
        lines += _field(st, "help", hint)
    lines += _fix_lines(st, d)
    return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(diagnostics: Sequence[Diagnostic]) -> str:
    """``found 2 errors and 1 warning`` or ``no problems found: the spec is valid``."""
    counts = {s: sum(1 for d in diagnostics if d.severity is s) for s in Severity}
    problems = [
        _plural(counts[s], word)
        for s, word in ((Severity.ERROR, "error"), (Severity.WARNING, "warning"))
        if counts[s]
    ]
    text = f"found {' and '.join(problems)}" if problems else "no problems found: the spec is valid"
    if counts[Severity.INFO]:
        text += f" ({_plural(counts[Severity.INFO], 'informational finding')})"
    return text


_FIX_LABEL = {Applicability.VERIFIED: "fix", Applicability.PROVEN: "fix (proven, not exported)",
              Applicability.UNVERIFIED: "fix (unverified)"}


def _fix_block(st: _Style, diagnostics: Sequence[Diagnostic], fix_code: str) -> list[str]:
    kinds = {f.applicability for d in diagnostics for f in d.fixes}
    verified = kinds <= {Applicability.VERIFIED}
    status = ("verified" if verified else "proven by z3 against the traced guards, not exported"
              if kinds == {Applicability.PROVEN} else "not all verified")
    title = f"Suggested fixes (apply all; {status}):"
    body = [f"  {line}" if line.strip() else "" for line in fix_code.rstrip("\n").split("\n")]
    return [st.paint(title, _FIX_STYLE if verified else _BOLD), *body]


def render_text(
    diagnostics: Sequence[Diagnostic],
    *,
    fix_code: str | None = None,
    spec_line: str | None = None,
    color: bool = False,
) -> str:
    """The whole human report: each diagnostic, the combined fix code, then a summary line.

    ``spec_line`` is a one-line rendering of the user's spec, shown as ``= spec:`` for a
    diagnostic about the spec (one with paths, a guard or a counterexample) that does not carry
    its own ``"spec"`` fact. No ANSI codes unless ``color``.

    >>> print(render_text([]))
    no problems found: the spec is valid
    """
    st = _Style(color)
    blocks = [render_diagnostic(d, spec_line=spec_line, color=color) for d in diagnostics]
    if fix_code:
        blocks.append("\n".join(_fix_block(st, diagnostics, fix_code)))
    severity = _worst(diagnostics)
    summary = summary_line(diagnostics)
    blocks.append(st.paint(summary, _SEVERITY_STYLE[severity]) if severity else summary)
    return "\n\n".join(blocks)


def _worst(diagnostics: Sequence[Diagnostic]) -> Severity | None:
    for severity in (Severity.ERROR, Severity.WARNING):
        if any(d.severity is severity for d in diagnostics):
            return severity
    return None
