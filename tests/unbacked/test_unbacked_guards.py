"""Data-dependent failures: one dimsolve run lists all of them, each at its line, in the user's terms,
with ``torch._check`` lines that make the model export when inserted right above that line.

The models are in ``unbacked_cases.py``; each is written to a file and imported, so the line numbers
the report gives are checked against source text we generated.
"""

from __future__ import annotations

import ast

import pytest
import torch
from unbacked_cases import FAILING, HEADER
from unbacked_support import (
    SPECIALIZED_KIND,
    TORCH_SYMBOL,
    Case,
    add_checks,
    ds601,
    insert_checks,
    line_of,
    load_model,
    params,
    same_output,
    squash,
    torch_export,
)

import dimsolve

pytestmark = pytest.mark.torch

CHECKABLE = lambda case: not any(f.specialized_int for f in case.failures)  # noqa: E731


@pytest.mark.parametrize("key", params(FAILING, "torch-fails"))
def test_torch_export_itself_fails_on_the_original(key, unbacked_runner):
    """Ground truth: each case really is a data-dependent error for torch 2.13."""
    case = FAILING[key]
    model = unbacked_runner.original(key).model
    with pytest.raises(Exception) as info:
        torch_export(model, case)
    text = "".join(str(e) for e in _chain(info.value))
    wanted = "specialized integer" if any(f.specialized_int for f in case.failures[:1]) else "data-dependent"
    assert wanted in text


def _chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


@pytest.mark.parametrize("key", params(FAILING, "listed"))
def test_one_run_lists_every_failure_at_its_line(key, unbacked_runner):
    case = FAILING[key]
    run = unbacked_runner.original(key)
    found = ds601(run.report)
    assert not run.report.ok
    expected = {line_of(case.text, f.statement): f.statement for f in case.failures}
    got = {}
    for d in found:
        assert d.labels, d
        loc = d.labels[0].location
        assert loc.file == str(run.path)
        got[loc.line] = loc.code
    assert got == expected
    assert len(found) == len(case.failures)  # one diagnostic per failure, no duplicates
    # nothing else went wrong while tracing (a range the checks give a value at size 1 is the
    # program's own finding: ``k == x.shape[0]`` makes ``k >= 2`` a check that rejects dx = 1)
    assert [d.code for d in run.report.diagnostics if d.code != "DS601" and not d.facts.get("at_size_one")] == []


@pytest.mark.parametrize("key", params(FAILING, "guard"))
def test_guards_are_in_the_users_terms(key, unbacked_runner):
    case = FAILING[key]
    report = unbacked_runner.original(key).report
    text = str(report)
    assert TORCH_SYMBOL.search(text) is None, text
    by_line = {d.labels[0].location.line: d for d in ds601(report)}
    for failure in case.failures:
        d = by_line[line_of(case.text, failure.statement)]
        guard = d.facts["guard"]
        for part in (d.message, guard, *d.notes, *d.help, *map(str, d.facts.get("checks", []))):
            assert TORCH_SYMBOL.search(part) is None, part
        for name in failure.names:
            assert name in guard, (name, guard)
        if failure.guard is not None:
            assert squash(guard) == squash(failure.guard), guard
        assert f"`{guard}`" in d.message


@pytest.mark.parametrize("key", params(FAILING, "checks"))
def test_checks_or_rewrite_help(key, unbacked_runner):
    """A guard gets verified torch._check lines; a value torch needs as an int gets none, and the rewrite."""
    case = FAILING[key]
    report = unbacked_runner.original(key).report
    by_line = {d.labels[0].location.line: d for d in ds601(report)}
    for failure in case.failures:
        d = by_line[line_of(case.text, failure.statement)]
        changes = add_checks(d)
        if failure.specialized_int:
            assert d.facts["kind"] == SPECIALIZED_KIND
            assert not d.facts.get("checks")
            assert changes == []
            help_text = " ".join(d.help)
            assert "rewrite" in help_text and "repeat" in help_text
            continue
        checks = d.facts["checks"]
        assert checks and all(c.startswith("torch._check(") and c.endswith(")") for c in checks)
        assert [c.code for c in changes] == checks
        assert all(c.location == d.labels[0].location for c in changes)
        assert all(f.applicability.value == "verified" for f in d.fixes)
        if failure.checks is not None:
            assert [squash(c) for c in checks] == [squash(c) for c in failure.checks]
        for check in checks:
            assert check in str(report)


@pytest.mark.parametrize("key", params(FAILING, "patched", CHECKABLE))
def test_inserting_the_suggested_checks_makes_the_model_export(key, unbacked_runner):
    """THE KEY TEST: the report's own checks, inserted above the reported lines, make torch.export pass."""
    case = FAILING[key]
    original = unbacked_runner.original(key)
    patched = unbacked_runner.patched(key)
    assert patched.path.read_text().count("torch._check(") == sum(len(add_checks(d)) for d in ds601(original.report))
    eager = original.model(*case.args)
    # the checks hold on the example inputs (torch._check raises eagerly otherwise) and change nothing
    assert same_output(patched.model(*case.args), eager)
    ep = torch_export(patched.model, case)
    assert same_output(ep.module()(*case.args), eager)
    # and dimsolve agrees: nothing data-dependent is left
    assert ds601(patched.report) == []
    # only a size-1 finding may remain: ``torch._check(k == x.shape[0])`` gives ``k`` the range
    # [2, inf) of a traced size, and the program then rejects dx = 1 (k = 1), which eager accepts
    assert all(d.facts.get("at_size_one") for d in patched.report.diagnostics if d.is_error), str(patched.report)


MULTILINE = Case(
    HEADER + """
class Model(torch.nn.Module):
    def forward(self, x, n, y):
        a = x.item()
        b = n.item()
        if (a > 3 and
                b < y.shape[0]):
            y = y + 1
        return y
""",
    (torch.tensor(5), torch.tensor(2), torch.randn(6)),
)


def _statement_start(source: str, line: int) -> int:
    """The first line of the innermost statement that spans ``line``."""
    best = None
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if best is None or node.lineno >= best.lineno:
                best = node
    assert best is not None
    return best.lineno


def test_checks_for_a_multiline_statement_go_above_the_statement(tmp_path):
    path = tmp_path / "multiline.py"
    model = load_model(MULTILINE.text, path)
    report = dimsolve.check_dynamic_shapes(model, MULTILINE.args, dynamic_shapes=None)
    found = ds601(report)
    assert sorted(d.facts["guard"] for d in found) == ["a > 3", "b < y.shape[0]"]
    for d in found:
        loc = d.labels[0].location
        assert loc.line == _statement_start(MULTILINE.text, loc.line), (loc.line, loc.code)
    patched = load_model(insert_checks(MULTILINE.text, path, found), tmp_path / "multiline_patched.py")
    torch_export(patched, MULTILINE)
