"""The package layering of DESIGN.md, checked mechanically.

``lint-imports`` (import-linter) runs the contracts in ``pyproject.toml``'s ``[tool.importlinter]``.
The "forbidden" contract names an external package (torch), which import-linter only accepts with
``include_external_packages = true``; if the project config lacks that line, the test runs the same
contracts from a temporary copy that has it (the contracts themselves are not changed).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"


def _config_with_external_packages(tmp_path: Path) -> Path:
    text = PYPROJECT.read_text(encoding="utf-8")
    header = "[tool.importlinter]\n"
    assert header in text, "pyproject.toml has no [tool.importlinter] section"
    if "include_external_packages" not in text:
        text = text.replace(header, header + "include_external_packages = true\n", 1)
    config = tmp_path / "importlinter.toml"
    config.write_text(text, encoding="utf-8")
    return config


def test_import_contracts_hold(tmp_path):
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports not found: pip install import-linter (it is in the [test] extra)")
    config = _config_with_external_packages(tmp_path)
    proc = subprocess.run(
        [exe, "--config", str(config), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_import_dimsolve_loads_neither_torch_nor_z3():
    code = "import dimsolve, sys; assert 'torch' not in sys.modules and 'z3' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_diagnostics_package_is_a_light_leaf():
    code = (
        "import dimsolve.diagnostics, sys; "
        "heavy = {'torch', 'z3', 'sympy', 'pydantic'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
