"""Example sizes 0 and 1 on a dim the spec makes dynamic (issue #3).

torch specialises sizes 0/1 while tracing. dimsolve reports it on the dim (named Dim -> error DS403,
Dim.DYNAMIC -> error, Dim.AUTO -> warning, so an AUTO-only report stays ok), says in ``help`` to use an
example >= 2, and tells what it found with a grown copy of the example: "the spec is valid", or further
findings noted "found with the grown example". The suggested example must work: torch.export with it
and the spec (or ``fixed_dynamic_shapes`` when there were further findings) succeeds, and the dim is
dynamic in the exported program.

``Dim(min=0/1)`` specs behave as torch 2.13 does (torch's test_dim_1_2 / test_derived_dim_1_2).
"""

from __future__ import annotations

import pytest
import torch
from hints_models import Head, Pair, Scale, ShiftedAdd, TutorialModel
from hints_support import (
    Case,
    build,
    dim_is_dynamic,
    export,
    findings_for,
    grow,
    grown_sizes,
    locate,
    params,
    ranges,
    report_of,
)
from torch.export import Dim

import dimsolve

pytestmark = pytest.mark.torch

A, D, S = Dim.AUTO, Dim.DYNAMIC, Dim.STATIC

_SHIFT_ALL_BUG = ("the grown example shifts every Dim.AUTO/DYNAMIC dim by the same delta, including dims the model "
                  "pins (Linear in_features 4 -> 5, w.shape[1] 5 -> 6): the suggested example cannot be traced "
                  "(DS903 'found with the grown example') and for an AUTO-only spec report.ok turns False")
_BROADCAST_BUG = ("x of size 1 broadcast against a static y of 4: the grown x = 2 cannot be traced, and the DS903 "
                  "'found with the grown example' error makes report.ok False for a Dim.AUTO spec that torch "
                  "exports (AUTO must never be an error)")


# expect: (the 0/1 dim, its severity, "valid" | "further": what the grown example shows,
#          the further finding's (dim, code) or None)
CASES = [
    Case("tutorial-linear-batch1-auto",
         lambda: (torch.nn.Linear(4, 3), (torch.randn(1, 4),), {"input": (A, S)}),
         ("input.shape[0]", "warning", "valid", None)),
    Case("head-batch1-named",
         lambda: (Head(), (torch.randn(1, 4),), {"x": (Dim("batch"), S)}),
         ("x.shape[0]", "error", "valid", None)),
    Case("head-batch1-dynamic",
         lambda: (Head(), (torch.randn(1, 4),), {"x": (D, S)}),
         ("x.shape[0]", "error", "valid", None)),
    Case("head-batch1-named-feature-named",
         lambda: (Head(), (torch.randn(1, 4),), {"x": (Dim("batch"), Dim("feat"))}),
         ("x.shape[0]", "error", "further", ("x.shape[1]", "DS401"))),
    Case("head-batch1-dynamic-feature-dynamic",
         lambda: (Head(), (torch.randn(1, 4),), {"x": (D, D)}),
         ("x.shape[0]", "error", "further", ("x.shape[1]", "DS404"))),
    Case("empty-named",
         lambda: (Scale(), (torch.randn(0, 3),), {"x": (Dim("n"), S)}),
         ("x.shape[0]", "error", "valid", None)),
    Case("empty-dynamic",
         lambda: (Scale(), (torch.randn(0, 3),), {"x": (D, S)}),
         ("x.shape[0]", "error", "valid", None)),
    Case("empty-auto",
         lambda: (Scale(), (torch.randn(0, 3),), {"x": (A, S)}),
         ("x.shape[0]", "warning", "valid", None)),
    Case("shifted-batch1-derived",
         lambda: (ShiftedAdd(), (torch.randn(1, 2), torch.randn(2, 2)),
                  {"x": (Dim("dx"), S), "y": (Dim("dx") + 1, S)}),
         # grown to 2, dx still admits 1, where the program's slice check y.shape[0] - 1 != 1 fails
         ("x.shape[0]", "error", "further", ("x.shape[0]", "DS302"))),
    Case("shifted-batch1-auto",
         lambda: (ShiftedAdd(), (torch.randn(1, 2), torch.randn(2, 2)), {"x": (A, S), "y": (A, S)}),
         ("x.shape[0]", "warning", "valid", None)),
    Case("tutorial-w-batch1-named",
         lambda: (TutorialModel(), (torch.randn(1, 5), torch.randn(4), torch.randn(8, 4), torch.randn(32)),
                  {"w": (Dim("batch"), 5), "x": (A,), "y": (A, A), "z": (A,)}),
         ("w.shape[0]", "error", "valid", None)),
    Case("tutorial-y-batch1-auto",
         lambda: (TutorialModel(), (torch.randn(6, 5), torch.randn(4), torch.randn(1, 4), torch.randn(4)),
                  {"w": (A, A), "x": (A,), "y": (A, A), "z": (A,)}),
         # growing y.shape[0] from 1 needs z.shape[0] = x.shape[0]*y.shape[0] to grow too: found by
         # a size-oblivious trace and the solver's nearest admitted sizes
         ("y.shape[0]", "warning", "valid", None)),
    Case("broadcast-batch1-auto",
         lambda: (Pair(), (torch.randn(1, 3), torch.randn(4, 3)), {"x": (A, S), "y": (S, S)}),
         ("x.shape[0]", "warning", None, None)),
]


@pytest.mark.parametrize("case", params(CASES, "test_zero_one_finding"))
def test_zero_one_finding(case: Case) -> None:
    dim, severity, _, _ = case.expect
    report = report_of(case.id, case.make)
    model, args, _ = build(case.make)
    arg_index, axis = locate(model, dim)
    size = args[arg_index].shape[axis]
    found = findings_for(report, dim, "DS403")
    assert len(found) == 1, str(report)
    d = found[0]
    assert d.severity.value == severity
    assert d.message.startswith(dim) and str(size) in d.message, d.message
    assert any(">= 2" in h and dim in h for h in d.help), d.help
    # AUTO asked torch to decide: a warning, and the report stays ok; named/DYNAMIC dims are errors
    assert report.ok is (severity != "error"), str(report)


# a model that needs the 1 to broadcast has no grown example to suggest: only its finding is tested
GROWABLE = [c for c in CASES if c.expect[2] is not None]


@pytest.mark.parametrize("case", params(GROWABLE, "test_help_reports_the_grown_example"))
def test_help_reports_the_grown_example(case: Case) -> None:
    dim, _, verdict, further = case.expect
    report = report_of(case.id, case.make)
    (d,) = findings_for(report, dim, "DS403")
    sizes = grown_sizes(d.help)
    name, axis = dim.split(".shape[")[0], int(dim.split(".shape[")[1].rstrip("]"))
    assert sizes.get((name, axis), 0) >= 2, sizes  # the 0/1 dim itself is grown to 2 or more
    others = [x for x in report.diagnostics if x.code != "DS403"]
    assert all(any("found with the grown example" in n for n in x.notes) for x in others), [x.notes for x in others]
    if verdict == "valid":
        assert any("the spec is valid" in h for h in d.help), d.help
        assert not [x for x in others if x.is_error], str(report)
    else:
        assert not any("the spec is valid" in h for h in d.help), d.help
        other_dim, code = further
        assert [x.code for x in findings_for(report, other_dim) if x.is_error and x.code != "DS403"] == [code], \
            str(report)


@pytest.mark.parametrize("case", params(GROWABLE, "test_suggested_example_exports_with_dim_dynamic"))
def test_suggested_example_exports_with_dim_dynamic(case: Case) -> None:
    dim, _, verdict, _ = case.expect
    report = report_of(case.id, case.make)
    model, args, spec = build(case.make)
    (d,) = findings_for(report, dim, "DS403")
    grown = grow(model, args, grown_sizes(d.help))
    if verdict == "further":
        assert report.fixed_dynamic_shapes is not None, str(report)
        spec = report.fixed_dynamic_shapes
    ep = export(model, grown, spec)
    assert dim_is_dynamic(ep, *locate(model, dim))


@pytest.mark.parametrize("case", params(CASES, "test_torch_specialises_the_original_example"))
def test_torch_specialises_the_original_example(case: Case) -> None:
    """Why the severities: torch rejects a named/DYNAMIC dim traced at 0/1, and quietly makes an AUTO one static."""
    dim, severity, _, _ = case.expect
    model, args, spec = build(case.make)
    if severity == "error":
        with pytest.raises(Exception, match="specialized"):
            export(model, args, spec)
    else:
        assert not dim_is_dynamic(export(model, args, spec), *locate(model, dim))


# ----------------------------------------------------------------------------------------------
# Dim(min=0/1): what torch 2.13 does
# ----------------------------------------------------------------------------------------------

def _dx12() -> Dim:
    return Dim("dx", min=1, max=2)


# (make, torch exports?, codes dimsolve reports, torch's range_constraints when it exports)
MIN_01 = [
    pytest.param(lambda: (Scale(), (torch.randn(2, 2),), ({0: _dx12(), 1: None},)), True, [], [(1, "2")],
                 id="dim-1-2-example-2"),
    pytest.param(lambda: (ShiftedAdd(), (torch.randn(2, 2), torch.randn(3, 2)),
                          ({0: _dx12(), 1: None}, {0: _dx12() + 1, 1: None})), True, ["DS302"], [(1, "2"), (2, "3")],
                 id="derived-dim-1-2"),
    pytest.param(lambda: (Scale(), (torch.randn(4),), {"x": (Dim("d", min=0),)}), True, [], [(0, "int_oo")],
                 id="min0-example-4"),
    pytest.param(lambda: (Scale(), (torch.randn(1, 2),), ({0: _dx12(), 1: None},)), False, ["DS403"], None,
                 id="dim-1-2-example-1"),
    pytest.param(lambda: (Scale(), (torch.randn(0),), {"x": (Dim("d", min=0),)}), False, ["DS403"], None,
                 id="min0-example-0"),
    pytest.param(lambda: (Scale(), (torch.randn(1),), {"x": (Dim("d", min=1),)}), False, ["DS403"], None,
                 id="min1-example-1"),
]


def _at(args: tuple, sizes: dict) -> tuple:
    """The example's inputs (positional ``x``, ``y``) resized to a counterexample's first-axis sizes."""
    names = ("x", "y")
    return tuple(torch.randn(sizes.get(f"{n}.shape[0]", a.shape[0]), *a.shape[1:]) for n, a in zip(names, args))


@pytest.mark.parametrize(("make", "torch_ok", "expected_codes", "torch_ranges"), MIN_01)
def test_min_0_1_dims_behave_as_torch(make, torch_ok: bool, expected_codes: list[str], torch_ranges) -> None:
    model, args, spec = make()
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert report.ok is not expected_codes, str(report)
    assert [d.code for d in report.diagnostics if d.is_error] == expected_codes, str(report)
    if torch_ok:
        assert ranges(export(model, args, spec)) == torch_ranges
    if torch_ok and not expected_codes:
        assert ranges(dimsolve.export(model, args, dynamic_shapes=spec)) == torch_ranges
    elif torch_ok:  # torch exports, but its program rejects a size the spec admits (DS302): dimsolve says so
        (finding,) = [d for d in report.diagnostics if d.is_error]
        with pytest.raises(AssertionError, match="Guard failed"):
            export(model, args, spec).module()(*_at(args, finding.facts["counterexample"]))
    else:
        with pytest.raises(Exception, match="specialized"):
            export(model, args, spec)


def test_dim_1_2_program_accepts_size_1() -> None:
    """As in torch's test_dim_1_2: traced with 2, Dim(min=1, max=2) admits 1, and dimsolve agrees."""
    model, args, spec = Scale(), (torch.randn(2, 2),), ({0: _dx12(), 1: None},)
    ep = dimsolve.export(model, args, dynamic_shapes=spec)
    ep.module()(torch.randn(1, 2))
    ep.module()(torch.randn(2, 2))
    with pytest.raises(Exception, match="<= 2"):
        ep.module()(torch.randn(3, 2))
    assert dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec).diagnostics == ()
