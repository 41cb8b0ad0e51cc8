"""The CLI behaves like ruff/mypy: ``--version``, a clean ``--help``, quiet exit on a closed pipe,
usage errors (exit 2) for bad options, a warning before serving beyond loopback, and SARIF from
``check`` with physical locations."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from dimsolve.cli.main import EXIT_CLOSED_PIPE

CLI = [sys.executable, "-m", "dimsolve.cli.main"]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_version_is_the_package_version():
    import dimsolve
    from dimsolve._version import __version__

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"dimsolve {__version__}"
    assert dimsolve.__version__ == __version__


@pytest.mark.parametrize("command", [[], ["lint"], ["serve"], ["check"], ["cache"], ["explain"]])
def test_help_has_no_literal_double_backticks(command):
    result = run(*command, "--help")
    assert result.returncode == 0 and "usage: dimsolve" in result.stdout
    assert "``" not in result.stdout


def _closed_pipe(args, lines):
    """``dimsolve ARGS | head -LINES``: what dimsolve wrote to stderr and its exit code."""
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(lines):
        proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `head` does
    err = proc.stderr.read().decode()
    return proc.wait(timeout=300), err


@pytest.mark.parametrize("args, lines", [
    pytest.param(["explain", "ds201"], 3, id="explain-head-3"),
    pytest.param(["lint", "--help"], 1, id="help-head-1"),
    pytest.param(["demo"], 1, id="demo-head-1", marks=pytest.mark.torch),
])
def test_a_closed_pipe_exits_quietly(args, lines):
    code, err = _closed_pipe(args, lines)
    assert "BrokenPipeError" not in err and "internal error" not in err and "Traceback" not in err, err
    assert code in (0, EXIT_CLOSED_PIPE)  # 0 when everything fit in the pipe before it closed


def test_a_closed_pipe_before_any_output_is_exit_141():
    proc = subprocess.Popen([*CLI, "explain", "ds201"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_CLOSED_PIPE and err == ""


@pytest.mark.parametrize("args, message", [
    pytest.param(["--port", "99999"], "a port is 0 to 65535, got 99999", id="port-too-big"),
    pytest.param(["--port", "-1"], "a port is 0 to 65535", id="port-negative"),
    pytest.param(["--port", "http"], "expected a port number", id="port-not-a-number"),
    pytest.param(["--request-timeout", "nan"], "positive number of seconds", id="timeout-nan"),
    pytest.param(["--request-timeout", "-3"], "positive number of seconds", id="timeout-negative"),
    pytest.param(["--workers", "-1"], "must be 0 or more", id="workers-negative"),
    pytest.param(["--cache-entries", "-5"], "must be 0 or more", id="cache-entries-negative"),
])
def test_bad_serve_options_are_usage_errors(args, message):
    result = run("serve", *args, timeout=120)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_serving_beyond_loopback_warns_and_a_failed_bind_is_exit_2():
    # 192.0.2.1 (TEST-NET-1) is assigned to no local interface: the bind fails, nothing is exposed
    result = run("serve", "--host", "192.0.2.1", "--port", "0", "--workers", "0", "--log-level", "critical",
                 timeout=120)
    assert "warning: listening on 192.0.2.1, beyond loopback" in result.stderr
    assert result.returncode == 2 and "error: cannot listen on 192.0.2.1" in result.stderr, result.stderr


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
                                            ("127.0.0.2", True), ("0.0.0.0", False), ("::", False),
                                            ("10.1.2.3", False), ("example.com", False)])
def test_is_loopback(host, loopback):
    from dimsolve.service.cli import is_loopback

    assert is_loopback(host) is loopback


@pytest.mark.torch
def test_check_sarif_results_have_physical_locations(tmp_path):
    case = tmp_path / "cases.py"
    case.write_text(textwrap.dedent('''
        import torch
        from torch.export import Dim

        class M(torch.nn.Module):
            def forward(self, x, y):
                return x + y


        def bad():
            return M(), (torch.randn(4), torch.randn(4)), {}, {"x": (Dim("a"),), "y": (Dim("b"),)}
    '''))
    result = run("check", f"{case}:bad", "--format", "sarif")
    assert result.returncode == 1, result.stderr
    [res] = json.loads(result.stdout)["runs"][0]["results"]
    physical = res["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"].endswith("cases.py") and physical["region"]["startLine"] == 10
    assert res["locations"][0]["logicalLocations"]  # the spec path is kept beside it


@pytest.mark.torch
def test_the_readme_shows_what_the_demo_prints():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    shown = readme.split("and prints:\n\n```\n", 1)[1].split("```", 1)[0]
    result = subprocess.run([*CLI, "demo"], capture_output=True, text=True, timeout=300, cwd=repo)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.split("\n\n", 1)[1]  # after the two header lines
    assert printed == shown


@pytest.mark.parametrize("option", [["--report", "sarif={missing}/x.sarif"], ["--output", "{missing}/out.txt"],
                                    ["--output", "{dir}"]])
def test_lint_refuses_an_unwritable_report_path_before_running(tmp_path, option):
    (tmp_path / "pyproject.toml").write_text('[tool.dimsolve]\ncases = ["*_cases.py"]\n')
    (tmp_path / "never_cases.py").write_text(
        "import dimsolve\n\n\n@dimsolve.case\ndef never():\n    raise AssertionError('must not run')\n")
    args = [a.format(missing=tmp_path / "no-such-dir", dir=tmp_path) for a in option]
    result = subprocess.run([*CLI, "lint", *args], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 2 and "error: cannot write" in result.stderr, result.stderr
    assert "internal error" not in result.stderr and "must not run" not in result.stdout + result.stderr


@pytest.mark.torch
def test_a_factory_returning_args_that_are_not_a_tuple_is_a_usage_error(tmp_path):
    case = tmp_path / "cases.py"
    case.write_text(textwrap.dedent('''
        import torch
        import dimsolve

        class M(torch.nn.Module):
            def forward(self, x):
                return x

        def tensor_args():
            return dimsolve.Case(M(), torch.randn(4), dynamic_shapes=None)
    '''))
    result = run("check", f"{case}:tensor_args")
    assert result.returncode == 2 and "args must be a tuple" in result.stderr, result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("source, target, message", [
    ("import sys\nsys.exit(3)\n", "case.py:f", "importing case.py failed: SystemExit: 3"),
    ("import sys\ndef f():\n    sys.exit(7)\n", "case.py:f", "f() raised SystemExit: 7"),
    ("", ".:f", ". is a directory: expected a Python file"),
    ("", "/dev/null:f", "/dev/null is not a regular file: expected a Python file"),
])
def test_check_reports_a_case_that_exits_or_is_not_a_file_as_a_usage_error(tmp_path, source, target, message):
    (tmp_path / "case.py").write_text(source)
    result = subprocess.run([sys.executable, "-m", "dimsolve.cli.main", "check", target], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300)
    assert (result.returncode, result.stderr.strip()) == (2, f"error: {message}")


def test_a_case_raising_keyboard_interrupt_stops_with_130_and_no_traceback(tmp_path):
    (tmp_path / "case.py").write_text("raise KeyboardInterrupt\n")
    result = subprocess.run([sys.executable, "-m", "dimsolve.cli.main", "check", "case.py:f"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300)
    assert (result.returncode, result.stderr.strip()) == (130, "interrupted")
