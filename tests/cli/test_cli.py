"""The command line, run as a user runs it: a subprocess, exit codes, and what it prints."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dimsolve.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.mark.torch
def test_demo_reports_the_tutorial_violations_with_a_fix():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "W1" not in result.stderr, "torch's own log lines must not leak into dimsolve's output"
    out = result.stdout
    assert "error[DS201]: y.shape[0] must equal x.shape[0]" in out
    assert "error[DS401]" in out and "fix: d1 = 4" in out
    assert "error[DS301]" in out and 'Dim("dx", max=512)' in out
    assert 'dynamic_shapes = {"x": (dx, 4), "y": (dx, 4)}' in out
    assert "found 3 errors" in out


CASE_FILE = textwrap.dedent('''
    import torch
    from torch.export import Dim

    class M(torch.nn.Module):
        def forward(self, x, y):
            return x + y

    def good():
        d = Dim("d")
        return M(), (torch.randn(4), torch.randn(4)), {}, {"x": (d,), "y": (d,)}

    def bad():
        return M(), (torch.randn(4), torch.randn(4)), {}, {"x": (Dim("a"),), "y": (Dim("b"),)}

    def wrong_shape():
        return 42
''')


@pytest.fixture
def case_file(tmp_path):
    path = tmp_path / "cases.py"
    path.write_text(CASE_FILE)
    return path


@pytest.mark.torch
@pytest.mark.parametrize(
    "factory, fmt, code",
    [
        pytest.param("good", "text", 0, id="valid-text"),
        pytest.param("bad", "text", 1, id="violated-text"),
        pytest.param("bad", "json", 1, id="violated-json"),
        pytest.param("bad", "sarif", 1, id="violated-sarif"),
    ],
)
def test_check_exit_codes_and_formats(case_file, factory, fmt, code):
    result = run("check", f"{case_file}:{factory}", "--format", fmt)
    assert result.returncode == code, result.stderr
    if fmt == "json":
        data = json.loads(result.stdout)
        assert data["ok"] is False and data["diagnostics"][0]["code"] == "DS201"
    if fmt == "sarif":
        assert json.loads(result.stdout)["version"] == "2.1.0"


@pytest.mark.torch
def test_check_without_fix_export_says_the_fix_is_only_proven(case_file):
    result = run("check", f"{case_file}:bad", "--no-verify-fix", "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["fix_status"] == "proven"


@pytest.mark.parametrize(
    "target, message",
    [
        pytest.param("nope.py:f", "no such file", id="missing-file"),
        pytest.param("{file}", "expected path/to/file.py:factory", id="no-factory"),
        pytest.param("{file}:missing", "no callable 'missing'", id="unknown-factory"),
        pytest.param("{file}:wrong_shape", "must return (model, args, kwargs, dynamic_shapes)", id="bad-return"),
    ],
)
def test_check_usage_errors_exit_2_with_a_clear_message(case_file, target, message):
    result = run("check", target.format(file=case_file))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_explain_prints_the_code_page_and_rejects_unknown_codes():
    ok = run("explain", "DS201")
    assert ok.returncode == 0 and "DS201" in ok.stdout
    bad = run("explain", "DS999")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
