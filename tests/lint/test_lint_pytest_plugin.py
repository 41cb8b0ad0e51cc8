"""The pytest plugin: ``dimsolve.assert_valid`` in a user's test, and ``pytest --dimsolve`` collecting cases.

The inner pytest runs are subprocesses: pytester's in-process runs restore ``sys.modules`` afterwards,
and torch does not survive being imported twice in one process.
"""

from __future__ import annotations

import textwrap
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.torch

MODEL = '''
import torch
from torch.export import Dim

import dimsolve


class Add(torch.nn.Module):
    def forward(self, x, y):
        return x + y
'''


def plugin_args():
    """The plugin loads through its ``pytest11`` entry point once dimsolve is installed; name it otherwise."""
    installed = any(ep.name == "dimsolve" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "dimsolve.pytest_plugin"]


def test_assert_valid_fails_with_the_report(pytester):
    pytester.makepyfile(test_spec=MODEL + textwrap.dedent('''
        def test_bad_spec():
            dimsolve.assert_valid(Add(), (torch.randn(4), torch.randn(4)),
                                  dynamic_shapes={"x": (Dim("a"),), "y": (Dim("b"),)})

        def test_good_spec():
            d = Dim("d")
            report = dimsolve.assert_valid(Add(), (torch.randn(4), torch.randn(4)),
                                           dynamic_shapes={"x": (d,), "y": (d,)})
            assert report.ok
    '''))
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "AssertionError: error[DS201]: y.shape[0] must equal x.shape[0]" in out
    assert "= fix: b = a" in out and 'dynamic_shapes = {"x": (a,), "y": (a,)}' in out
    assert "dimsolve/export/case.py" not in out  # dimsolve's own frame is hidden


def test_dimsolve_flag_collects_declared_cases_outside_testpaths(pytester, monkeypatch):
    monkeypatch.delenv("DIMSOLVE_CACHE_DIR", raising=False)
    pytester.makepyprojecttoml(textwrap.dedent('''
        [tool.dimsolve]
        cases = ["models/**/shape_cases.py"]

        [tool.pytest.ini_options]
        testpaths = ["tests"]
    '''))
    models = pytester.mkpydir("models")
    (models / "shape_cases.py").write_text(MODEL + textwrap.dedent('''
        @dimsolve.case
        def good():
            d = Dim("d")
            return Add(), (torch.randn(4), torch.randn(4)), {}, {"x": (d,), "y": (d,)}

        @dimsolve.case
        def violating():
            return Add(), (torch.randn(4), torch.randn(4)), {}, {"x": (Dim("a"),), "y": (Dim("b"),)}
    '''))
    tests = pytester.mkpydir("tests")
    (tests / "test_plain.py").write_text("def test_plain():\n    pass\n")
    args = [*plugin_args(), "-p", "no:cacheprovider"]

    without = pytester.runpytest_subprocess(*args)
    without.assert_outcomes(passed=1)

    with_cases = pytester.runpytest_subprocess(*args, "--dimsolve", "-rf", "-k", "not plain")
    with_cases.assert_outcomes(passed=1, failed=1, deselected=1)  # case items are selectable like tests
    out = with_cases.stdout.str()
    assert "dimsolve case models/shape_cases.py::violating" in out
    assert "\nerror[DS201]: y.shape[0] must equal x.shape[0]\n" in out
    assert "FAILED models/shape_cases.py::violating" in out
    assert (pytester.path / ".dimsolve_cache" / "guardsets").is_dir()
