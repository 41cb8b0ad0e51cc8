"""One fact decides "verified": Report.fix_verified (with torch_confirmed) stamps every spec fix, and
the text title, the per-fix label, the JSON and the SARIF all read that stamp."""

from __future__ import annotations

import pytest

from dimsolve.diagnostics.model import AddCheck, Applicability, Diagnostic, Fix, SetRange, Severity
from dimsolve.export.report import Report

SPEC_FIX = Diagnostic("DS301", Severity.ERROR, "the model only supports dx <= 512",
                      fixes=(Fix("narrow dx", (SetRange("dx", 0, 512),), Applicability.VERIFIED),))
CODE_FIX = Diagnostic("DS601", Severity.ERROR, "`k > 2` depends on data",
                      fixes=(Fix("check k", (AddCheck("torch._check(k >= 3)"),), Applicability.VERIFIED),))


@pytest.mark.parametrize(("verified", "confirmed", "stamp", "title"), [
    pytest.param(True, True, Applicability.VERIFIED, "apply all; verified)", id="torch-exported"),
    pytest.param(True, False, Applicability.PROVEN, "proven by z3 against the traced guards, not exported", id="solver-only"),
    pytest.param(False, True, Applicability.UNVERIFIED, "not all verified", id="torch-rejected"),
])
def test_the_report_verdict_is_the_only_source(verified: bool, confirmed: bool, stamp: Applicability,
                                               title: str) -> None:
    report = Report((SPEC_FIX,), fix_verified=verified, torch_confirmed=confirmed)
    (fix,) = report.diagnostics[0].fixes
    assert fix.applicability is stamp
    assert report.to_sarif()["runs"][0]["results"][0]["properties"]["fixes"][0]["applicability"] == stamp.value
    assert report.to_dict()["diagnostics"][0]["fixes"][0]["applicability"] == stamp.value
    assert ("fix (" in str(report)) is (stamp is not Applicability.VERIFIED)


def test_the_title_follows_the_stamp_when_there_is_fix_code() -> None:
    # fix_code needs a fixed spec; the title logic reads the stamped fixes
    from dimsolve.diagnostics.text import render_text

    for verified, confirmed, expected in [(True, True, "(apply all; verified)"), (False, True, "not all verified"),
                                          (True, False, "proven by z3 against the traced guards")]:
        report = Report((SPEC_FIX,), fix_verified=verified, torch_confirmed=confirmed)
        assert expected in render_text(report.diagnostics, fix_code="dx = Dim('dx', max=512)")


def test_code_fixes_keep_their_own_verification() -> None:
    report = Report((CODE_FIX, SPEC_FIX), fix_verified=False, torch_confirmed=True)
    assert report.diagnostics[0].fixes[0].applicability is Applicability.VERIFIED
    assert report.diagnostics[1].fixes[0].applicability is Applicability.UNVERIFIED


def test_a_replaced_verdict_restamps() -> None:
    from dataclasses import replace

    report = Report((SPEC_FIX,), fix_verified=True, torch_confirmed=False)
    assert report.diagnostics[0].fixes[0].applicability is Applicability.PROVEN
    confirmed = replace(report, torch_confirmed=True)
    assert confirmed.diagnostics[0].fixes[0].applicability is Applicability.VERIFIED
    assert confirmed.to_dict()["fix_status"] is None  # no fixed spec: nothing to call verified
