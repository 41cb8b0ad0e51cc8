"""Same input, same report (issue #14): identical diagnostics, order and text in fresh interpreters,
whatever the process's random seed, hash seed, or what it exported before.

The model draws random numbers in ``forward`` and branches on them (a sample of a Normal with
validated arguments): before every export ran on a fixed random stream, its DS601 findings changed
from one run to the next.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.export import Dim

import dimsolve

pytestmark = pytest.mark.torch

MODEL = textwrap.dedent('''
    import torch
    from torch.export import Dim


    class Sampled(torch.nn.Module):
        def forward(self, loc, scale):
            d = torch.distributions.Normal(loc, scale, validate_args=True)
            z = d.sample()
            out = z
            if z[0] > 0:  # each random branch adds a validated call (one more finding) or not
                out = out + d.log_prob(z)
            if z[1] > 0:
                out = out + d.cdf(z)
            return out


    def case():
        return Sampled(), (torch.zeros(6), torch.ones(6)), {"loc": (Dim("b"),), "scale": (Dim("b"),)}
''')

RUN = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import dimsolve
    from sampled_model import case

    model, args, spec = case()
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    sys.stdout.write(str(report) + "\\n----\\n" + report.model_dump_json())
''')


def _fresh_run(directory: Path, hash_seed: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.Popen([sys.executable, str(directory / "run.py"), str(directory)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)


def test_one_model_in_three_fresh_interpreters_gives_one_report(tmp_path: Path):
    (tmp_path / "sampled_model.py").write_text(MODEL)
    (tmp_path / "run.py").write_text(RUN)
    runs = [_fresh_run(tmp_path, seed) for seed in ("1", "2", "3")]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert "DS601" in outputs[0]
    assert outputs[0] == outputs[1] == outputs[2]


class Sampled(torch.nn.Module):
    def forward(self, loc, scale):
        d = torch.distributions.Normal(loc, scale)  # validate_args left to the process default
        z = d.sample()
        if z[0] > 0:
            return d.log_prob(z)
        return z


class Cond(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda x: x + 1, lambda x: x - 1, (x,))


def _sampled_report() -> str:
    report = dimsolve.check_dynamic_shapes(Sampled(), (torch.zeros(6), torch.ones(6)),
                                           dynamic_shapes={"loc": (Dim("b"),), "scale": (Dim("b"),)})
    return str(report)


def test_what_the_process_exported_before_does_not_change_the_report():
    from torch.distributions import Distribution

    before = _sampled_report()
    validate = Distribution._validate_args
    # exporting a torch.cond model turns Distribution's default validation off for the whole process
    # in torch itself; dimsolve's exports leave it as they found it
    dimsolve.check_dynamic_shapes(Cond(), (torch.randn(4),), dynamic_shapes={"x": (Dim.AUTO,)})
    assert Distribution._validate_args == validate
    assert _sampled_report() == before


def test_a_check_leaves_the_callers_random_stream_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _sampled_report()
    assert torch.equal(torch.rand(3), expected)
