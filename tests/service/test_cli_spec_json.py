"""``dimsolve check FILE:FACTORY --spec-json SPEC``: the service's JSON spec form, offline."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

CASES = textwrap.dedent('''
    import torch

    class M(torch.nn.Module):
        def forward(self, x, y):
            return x + y

    def case():
        return M(), (torch.randn(4, 3), torch.randn(4, 3)), {}, None
''')

SPEC = {"schema_version": 1, "roots": {"a": {}, "b": {}},
        "dims": [{"input": ["x"], "axis": 0, "kind": "root", "root": "a"},
                 {"input": ["y"], "axis": 0, "kind": "root", "root": "b"}]}


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "dimsolve.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.mark.torch
def test_check_with_a_json_spec(tmp_path):
    (tmp_path / "cases.py").write_text(CASES)
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    result = run("check", "cases.py:case", "--spec-json", "spec.json", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [d["code"] for d in report["diagnostics"]] == ["DS201"]
    assert 'dynamic_shapes = {"x": (a, 3), "y": (a, 3)}' in report["fix_code"]


@pytest.mark.torch
@pytest.mark.parametrize("content, message", [
    (json.dumps({**SPEC, "dims": [{**SPEC["dims"][0], "root": "zz"}]}), "bad.json: dims[0].root: unknown root 'zz'"),
    ("{not json", "bad.json: cannot read a JSON spec"),
], ids=["unknown-root", "not-json"])
def test_a_bad_json_spec_names_the_file_and_path(tmp_path, content, message):
    import torch

    from dimsolve.export.api import Case
    from dimsolve.service.cli import SpecFileError, check_spec_json

    class M(torch.nn.Module):
        def forward(self, x, y):
            return x + y

    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(SpecFileError) as info:
        check_spec_json(Case(M(), (torch.randn(4, 3), torch.randn(4, 3))), str(tmp_path / "bad.json"), False)
    assert message in str(info.value)
