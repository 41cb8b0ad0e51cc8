"""strict=True (TorchDynamo tracing) gives the same findings as non-strict for an AUTO, a DYNAMIC and a
0/1 case (issue #3)."""

from __future__ import annotations

import pytest
from hints_support import Case, codes, report_of
from test_hints_auto import CASES as AUTO_CASES
from test_hints_dynamic import CONFLICTS, SPECIALISED
from test_hints_zero_one import CASES as ZERO_ONE_CASES

pytestmark = pytest.mark.torch


def _case(cases: list[Case], case_id: str) -> Case:
    return next(c for c in cases if c.id == case_id)


STRICT = [
    pytest.param(_case(AUTO_CASES, "tutorial-all-auto"), "DS405", id="auto-tutorial"),
    pytest.param(_case(SPECIALISED, "tutorial-w1-dynamic"), "DS404", id="dynamic-specialised"),
    pytest.param(_case(CONFLICTS, "tutorial-x-static-y-dynamic"), "DS404", id="dynamic-conflicting-markers"),
    pytest.param(_case(ZERO_ONE_CASES, "head-batch1-named"), "DS403", id="zero-one-named"),
]


@pytest.mark.parametrize(("case", "code"), STRICT)
def test_strict_gives_the_same_codes(case: Case, code: str) -> None:
    loose = report_of(case.id, case.make, strict=False)
    strict = report_of(case.id, case.make, strict=True)
    assert code in {d.code for d in strict.diagnostics}
    assert codes(strict) == codes(loose)
    assert strict.ok is loose.ok
    # the same source lines, too
    lines = [[(d.labels[0].location.line if d.labels else None) for d in r.diagnostics] for r in (loose, strict)]
    assert lines[0] == lines[1]
