"""Dim.AUTO is explained, never an error (issue #3).

For every ``Dim.AUTO`` dimension the report has one info finding (DS405) saying what torch.export
resolves it to -- static with its value, dynamic with its range, equal to / derived from another
dimension, or a non-linear function left to AUTO -- and, when a guard decided it, the line of the
model that did (first label, and quoted in the message). ``report.ok`` stays True, and the pinned
named-``Dim`` spec (``pinned_dynamic_shapes`` and ``pin_code``) exports with exactly the range
constraints of the AUTO export.
"""

from __future__ import annotations

import re

import pytest
import torch
from hints_models import (
    Branch64,
    Doubled,
    Scale,
    ShiftedAdd,
    TutorialGuarded,
    TutorialModel,
)
from hints_support import (
    Case,
    assert_names_line,
    build,
    exec_spec_code,
    export,
    findings_for,
    params,
    ranges,
    report_of,
)
from torch.export import Dim

pytestmark = pytest.mark.torch

A, S = Dim.AUTO, Dim.STATIC


def _tutorial_args() -> tuple:
    return torch.randn(6, 5), torch.randn(4), torch.randn(8, 4), torch.randn(32)


# expect: dim -> (what it resolves to, the statement that decides it or None when no guard does)
#   ("static", value) | ("dynamic", (lo, hi) or None) | ("equals", "expression of another dim") | ("nonlinear", None)

_PIN_MIN_BUG = ("pinned spec keeps the hint's min below 2 (Dim('x_dim0', min=0/1)), but torch gives a Dim.AUTO/"
                "Dim.DYNAMIC hint the range [2, inf): the pinned export has range_constraints [(0|1, int_oo)], "
                "the hinted export [(2, int_oo)]")
_LINEAR_Z_BUG = ("with x static (4) the tutorial's z is 4*y.shape[0], a linear relation: dimsolve calls it non-linear "
                 "and pins z as Dim.AUTO next to the named y_dim0, which torch.export rejects "
                 "(`L['z'].size()[0] = 4*y_dim0` suggested fix)")

CASES = [
    Case(
        "tutorial-all-auto",
        lambda: (TutorialModel(), _tutorial_args(), {"w": (A, A), "x": (A,), "y": (A, A), "z": (A,)}),
        {
            "w.shape[0]": (("dynamic", None), None),
            "w.shape[1]": (("static", 5), "x1 = self.l(w)"),
            "x.shape[0]": (("dynamic", None), None),
            "y.shape[0]": (("dynamic", None), None),
            "y.shape[1]": (("equals", "x.shape[0]"), "x0 = x + y"),
            "z.shape[0]": (("nonlinear", None), "x3 = x2 + z"),
        },
    ),
    Case(
        "tutorial-assert-check-branch",
        lambda: (TutorialGuarded(), _tutorial_args(), {"w": (A, A), "x": (A,), "y": (A, A), "z": (A,)}),
        {
            # x is the root (w = x + 2 keeps offsets non-negative, which torch 2.13 needs)
            "w.shape[0]": (("dynamic", (6, 512)), "if w.shape[0] == x.shape[0] + 2:"),
            "w.shape[1]": (("static", 5), "out = self.l(w)"),
            "x.shape[0]": (("dynamic", (4, 510)), "torch._check(x.shape[0] >= 4)"),
            "y.shape[0]": (("dynamic", None), None),
            "y.shape[1]": (("equals", "x.shape[0]"), "total = (x + y).flatten() + z"),
            "z.shape[0]": (("nonlinear", None), "total = (x + y).flatten() + z"),
        },
    ),
    Case(
        "tutorial-x-static",
        lambda: (TutorialModel(), _tutorial_args(), {"w": (A, A), "x": (S,), "y": (A, A), "z": (A,)}),
        {
            "w.shape[0]": (("dynamic", None), None),
            "w.shape[1]": (("static", 5), "x1 = self.l(w)"),
            "y.shape[0]": (("dynamic", None), None),
            "y.shape[1]": (("static", 4), "x0 = x + y"),
            "z.shape[0]": (("equals", "4*y.shape[0]"), "x3 = x2 + z"),
        },
    ),
    Case(
        "slice-shifted",
        lambda: (ShiftedAdd(), (torch.randn(4, 2), torch.randn(5, 2)), {"x": (A, S), "y": (A, S)}),
        {"x.shape[0]": (("dynamic", None), None), "y.shape[0]": (("equals", "x.shape[0] + 1"), "return x + y[1:]")},
    ),
    Case(
        "cat-doubled",
        lambda: (Doubled(), (torch.randn(3, 2), torch.randn(6, 2)), {"x": (A, S), "y": (A, S)}),
        {"x.shape[0]": (("dynamic", None), None),
         "y.shape[0]": (("equals", "2*x.shape[0]"), "return torch.cat([x, x], 0) + y")},
    ),
    Case(
        "branch",
        lambda: (Branch64(), (torch.randn(8),), {"x": (A,)}),
        {"x.shape[0]": (("dynamic", (2, 64)), "if x.shape[0] <= 64:")},
    ),
    Case(
        "branch-auto-max-above",
        lambda: (Branch64(), (torch.randn(8),), {"x": (Dim.AUTO(max=128),)}),
        {"x.shape[0]": (("dynamic", (2, 64)), "if x.shape[0] <= 64:")},
    ),
    Case(
        "branch-auto-max-below",
        lambda: (Branch64(), (torch.randn(8),), {"x": (Dim.AUTO(max=32),)}),
        {"x.shape[0]": (("dynamic", None), None)},
    ),
    Case(
        "no-guard-auto-min-max",
        lambda: (Scale(), (torch.randn(8),), {"x": (Dim.AUTO(min=4, max=32),)}),
        {"x.shape[0]": (("dynamic", (4, 32)), None)},
    ),
    Case(
        "no-guard-auto-min0",
        lambda: (Scale(), (torch.randn(8),), {"x": (Dim.AUTO(min=0),)}),
        {"x.shape[0]": (("dynamic", None), None)},
    ),
    Case(
        "no-guard-dynamic-min1",
        lambda: (Scale(), (torch.randn(8),), {"x": (Dim.DYNAMIC(min=1),)}),
        {"x.shape[0]": (("dynamic", None), None)},
    ),
]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _assert_resolution(message: str, what: tuple) -> None:
    kind, detail = what
    if kind == "static":
        assert re.search(rf"\bstatic\b\D*\b{detail}\b", message), message
    elif kind == "dynamic":
        assert "dynamic" in message and "static" not in message, message
        if detail is not None:
            lo, hi = detail
            assert f"[{lo}, {hi}]" in message, message
    elif kind == "equals":
        assert "equal" in message and _squash(detail) in _squash(message), message
    elif kind == "nonlinear":
        assert "non-linear" in message, message
    else:  # pragma: no cover - table typo
        raise AssertionError(kind)


@pytest.mark.parametrize("case", params(CASES, "test_auto_never_fails"))
def test_auto_never_fails(case: Case) -> None:
    report = report_of(case.id, case.make)
    assert report.ok, str(report)
    assert not report.violations
    assert {d.severity.value for d in report.diagnostics} <= {"info"}, str(report)


@pytest.mark.parametrize("case", params(CASES, "test_every_auto_dim_is_explained"))
def test_every_auto_dim_is_explained(case: Case) -> None:
    report = report_of(case.id, case.make)
    model_cls = type(build(case.make)[0])
    explained = {d.paths[0] for d in report.diagnostics if d.code == "DS405"}
    assert len(explained) == len([d for d in report.diagnostics if d.code == "DS405"]), "one DS405 per dim"
    for dim, (what, statement) in case.expect.items():
        found = findings_for(report, dim, "DS405")
        assert len(found) == 1, f"{dim}: {[d.message for d in report.diagnostics]}"
        d = found[0]
        assert d.severity.value == "info"
        assert d.message.startswith(dim), d.message
        _assert_resolution(d.message, what)
        if statement is not None:
            assert_names_line(d, model_cls, statement)
    assert len(explained) == len(case.expect), sorted(explained)


@pytest.mark.parametrize("case", params(CASES, "test_pinned_spec_exports_like_auto"))
def test_pinned_spec_exports_like_auto(case: Case) -> None:
    report = report_of(case.id, case.make)
    model, args, spec = build(case.make)
    pinned = report.pinned_dynamic_shapes
    assert pinned is not None, str(report)
    assert ranges(export(model, args, pinned)) == ranges(export(model, args, spec))


@pytest.mark.parametrize("case", params(CASES, "test_pin_code_exports_like_auto"))
def test_pin_code_exports_like_auto(case: Case) -> None:
    report = report_of(case.id, case.make)
    model, args, spec = build(case.make)
    assert report.pin_code is not None
    assert "Dim(" in report.pin_code  # named Dims, not the hints again
    pinned = exec_spec_code(report.pin_code)
    assert ranges(export(model, args, pinned)) == ranges(export(model, args, spec))


def test_auto_report_text_mentions_the_line() -> None:
    """The human report carries the explanation too, with the model's line under it."""
    case = CASES[0]
    text = str(report_of(case.id, case.make))
    assert "info[DS405]: w.shape[1] (Dim.AUTO) is static (5) because of `x1 = self.l(w)` at hints_models.py:" in text
    assert "no problems found" in text
