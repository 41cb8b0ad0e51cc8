"""``pytest --dimsolve PATH`` runs the cases under PATH only; a failing item shows the report, not
torch's debug log; an unusable cache is one header line, and the cases still run."""

from __future__ import annotations

import textwrap

import pytest
from test_lint_pytest_plugin import MODEL, plugin_args

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.torch

VIOLATING = MODEL + textwrap.dedent('''
    @dimsolve.case
    def violating():
        return Add(), (torch.randn(4), torch.randn(4)), {}, {"x": (Dim("a"),), "y": (Dim("b"),)}
''')


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("DIMSOLVE_CACHE_DIR", raising=False)
    pytester.makepyprojecttoml('[tool.dimsolve]\ncases = ["models/**/shape_cases.py"]\n')
    for name in ("a", "b"):
        (pytester.path / "models" / name).mkdir(parents=True)
        (pytester.path / "models" / name / "shape_cases.py").write_text(VIOLATING)
    return pytester


def test_named_paths_select_their_cases_only(project):
    args = [*plugin_args(), "-p", "no:cacheprovider", "--dimsolve"]
    one = project.runpytest_subprocess(*args, "models/a/shape_cases.py")
    one.assert_outcomes(failed=1)
    assert "models/a/shape_cases.py::violating" in one.stdout.str()
    assert "models/b/shape_cases.py" not in one.stdout.str()
    directory = project.runpytest_subprocess(*args, "models/b")
    directory.assert_outcomes(failed=1)
    assert "models/a/shape_cases.py" not in directory.stdout.str()
    every = project.runpytest_subprocess(*args)  # no path: every declared case
    every.assert_outcomes(failed=2)
    out = every.stdout.str()
    assert "error[DS201]" in out
    assert "DEBUG" not in out and "Captured log" not in out  # torch's debug logging stays out of the report


def test_an_unusable_cache_is_one_header_line_and_the_cases_still_run(project, monkeypatch):
    (project.path / "a-file").write_text("")
    monkeypatch.setenv("DIMSOLVE_CACHE_DIR", str(project.path / "a-file" / "cache"))
    result = project.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "--dimsolve", "models/a")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert out.count("running without the cache") == 1 and "error[DS201]" in out
