import re

import pytest

from dimsolve.diagnostics.model import Applicability, Diagnostic, Fix, Relate, Severity
from dimsolve.diagnostics.text import display_path, render_diagnostic, render_text, summary_line

from .cases import ALL, CASES, DS201, DS301, SPEC_LINE, TUTORIAL, TUTORIAL_FIX_CODE
from .snapshot import assert_snapshot

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_matches_snapshot(name):
    assert_snapshot(f"text/{name}.txt", render_text([CASES[name]]) + "\n")


def test_tutorial_report_matches_snapshot():
    out = render_text(TUTORIAL, fix_code=TUTORIAL_FIX_CODE)
    assert_snapshot("text/tutorial_report.txt", out + "\n")


def test_full_report_with_spec_line_matches_snapshot():
    out = render_text(ALL, fix_code=TUTORIAL_FIX_CODE, spec_line=SPEC_LINE)
    assert_snapshot("text/full_report.txt", out + "\n")


def test_color_report_matches_snapshot():
    out = render_text(TUTORIAL, fix_code=TUTORIAL_FIX_CODE, color=True)
    assert_snapshot("text/tutorial_report_color.txt", out + "\n")


def test_design_doc_example_layout():
    lines = render_text([DS201]).splitlines()
    assert lines[:6] == [
        "error[DS201]: y.shape[0] must equal x.shape[0]",
        "  --> model.py:12 in forward",
        "   |     w = x + y",
        f"   = spec:   {SPEC_LINE}      guard: x.shape[0] == y.shape[0]",
        "   = counterexample: x.shape[0]=2, y.shape[0]=3 is admitted by the spec but fails this guard",
        "   = fix: dy = dx",
    ]


def test_no_ansi_codes_unless_color():
    plain = render_text(ALL, fix_code=TUTORIAL_FIX_CODE, spec_line=SPEC_LINE)
    colored = render_text(ALL, fix_code=TUTORIAL_FIX_CODE, spec_line=SPEC_LINE, color=True)
    assert "\x1b" not in plain
    assert "\x1b[" in colored
    assert ANSI.sub("", colored) == plain


def test_output_is_deterministic_and_counterexample_order_free():
    shuffled = Diagnostic(
        DS201.code, DS201.severity, DS201.message, DS201.paths, DS201.labels, fixes=DS201.fixes,
        facts={**DS201.facts, "counterexample": {"x.shape[0]": 2, "y.shape[0]": 3}},
    )
    assert render_text([DS201]) == render_text([DS201])
    assert render_text([shuffled]) == render_text([DS201])


def test_counterexample_paths_sort_naturally():
    d = Diagnostic("DS301", Severity.ERROR, "m", facts={"counterexample": {"x.shape[10]": 1, "x.shape[2]": 2}})
    assert "x.shape[2]=2, x.shape[10]=1 is admitted" in render_text([d])


def test_spec_line_is_a_fallback_for_the_spec_fact():
    own = render_diagnostic(DS201, spec_line="other spec")
    assert "other spec" not in own
    fallback = render_diagnostic(DS301, spec_line="x: (batch, seq, 16)")
    assert "   = spec:   x: (batch, seq, 16)      guard: x.shape[1] <= 512" in fallback


def test_guard_without_spec_gets_its_own_line():
    assert "   = guard: x.shape[1] <= 512" in render_diagnostic(DS301)


def test_multi_line_notes_are_indented_under_their_text():
    lines = render_diagnostic(DS301).splitlines()
    i = lines.index("   = note: a second note")
    assert lines[i + 1] == "           that spans two lines"


def test_secondary_labels_and_ops():
    out = render_diagnostic(DS301)
    assert "  --> models/pos.py:27 in forward" in out
    assert "  ::: models/pos.py:31 in forward" in out
    assert "^ emitted by torch/nn/functional.py:2910" in out


def test_paths_are_the_location_when_there_are_no_labels():
    out = render_diagnostic(CASES["ds403"])
    assert out.splitlines()[1] == '  --> dynamic_shapes["x"][0]'


def test_unverified_fixes_are_marked():
    out = render_text([CASES["ds601"]], fix_code="torch._check(k <= x.shape[0])")
    assert "= fix (unverified): torch._check(k <= x.shape[0])  # insert before model.py:9 in forward" in out
    assert "Suggested fixes (apply all; not all verified):" in out


def test_fix_without_changes_shows_its_title():
    d = Diagnostic("DS902", Severity.ERROR, "m", fixes=(Fix("rewrite the condition in integers", ()),))
    assert "   = fix: rewrite the condition in integers" in render_text([d])


def test_empty_report():
    assert render_text([]) == "no problems found: the spec is valid"


def _d(severity):
    return Diagnostic("DS201", severity, "m")


@pytest.mark.parametrize(
    "severities, expected",
    [
        pytest.param([], "no problems found: the spec is valid", id="empty"),
        pytest.param([Severity.ERROR], "found 1 error", id="one-error"),
        pytest.param([Severity.ERROR] * 2, "found 2 errors", id="two-errors"),
        pytest.param([Severity.ERROR, Severity.WARNING], "found 1 error and 1 warning", id="mixed"),
        pytest.param([Severity.WARNING] * 3, "found 3 warnings", id="warnings"),
        pytest.param([Severity.INFO], "no problems found: the spec is valid (1 informational finding)", id="info"),
        pytest.param(
            [Severity.ERROR, Severity.INFO, Severity.INFO], "found 1 error (2 informational findings)", id="error-info"
        ),
    ],
)
def test_summary_line(severities, expected):
    assert summary_line([_d(s) for s in severities]) == expected


@pytest.mark.parametrize(
    "file, cwd, expected",
    [
        pytest.param("/home/me/proj/model.py", "/home/me/proj", "model.py", id="below-cwd"),
        pytest.param("/home/me/proj/pkg/m.py", "/home/me/proj", "pkg/m.py", id="nested"),
        pytest.param("/usr/lib/torch/x.py", "/home/me/proj", "/usr/lib/torch/x.py", id="outside"),
        pytest.param("model.py", "/anywhere", "model.py", id="relative"),
    ],
)
def test_display_path(file, cwd, expected):
    assert display_path(file, cwd) == expected


def test_verified_fix_block_header():
    d = Diagnostic("DS201", Severity.ERROR, "m", fixes=(Fix("t", (Relate("dy", "dx"),), Applicability.VERIFIED),))
    assert "Suggested fixes (apply all; verified):\n  dy = dx" in render_text([d], fix_code="dy = dx")


def test_spec_line_is_not_repeated_on_findings_without_spec_paths():
    out = render_text([CASES["ds601"], CASES["ds602"]], spec_line=SPEC_LINE)
    assert SPEC_LINE not in out
    assert SPEC_LINE in render_text([CASES["ds403"]], spec_line=SPEC_LINE)
