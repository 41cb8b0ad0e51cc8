"""A DS601 suggestion is code that runs, in the user's own variable, or no code (issue #14).

When the data-dependent value has a name in the user's code (``n_img = ....item()``) the fix is a
``torch._check`` on that name. When it has none (a library validating its arguments, a tensor
condition, a boolean-mask selection), the finding says which expression on which line needs deciding,
in the user's words, and offers no check line: never the placeholder "a data-dependent value".
"""

from __future__ import annotations

import inspect

import pytest
import torch
from torch.export import Dim

import dimsolve
from dimsolve.diagnostics.model import AddCheck

pytestmark = pytest.mark.torch

PLACEHOLDER = "a data-dependent value"


class NormalModel(torch.nn.Module):
    def forward(self, loc, scale):
        d = torch.distributions.Normal(loc, scale, validate_args=True)
        return d.log_prob(loc)


class TensorBranch(torch.nn.Module):
    def forward(self, x):
        if (x > 0).sum() > 2:
            return x * 2
        return x


class MaskedSelect(torch.nn.Module):
    def forward(self, ids, emb, feats):
        mask = (ids == 5).unsqueeze(-1).expand_as(emb)
        if emb[mask].numel() != feats.numel():
            raise ValueError("image features and image tokens do not match")
        return emb.masked_scatter(mask, feats)


class ImageTokens(torch.nn.Module):
    def forward(self, ids, feats):
        n_img = (ids == 5).sum().item()
        if n_img < 48:
            raise ValueError("too few image tokens")
        return feats[:n_img]


class ImageTokensChecked(torch.nn.Module):
    def forward(self, ids, feats):
        n_img = (ids == 5).sum().item()
        torch._check(n_img >= 48)
        if n_img < 48:
            raise ValueError("too few image tokens")
        return feats[:n_img]


def _ids():
    ids = torch.zeros(1, 64, dtype=torch.long)
    ids[0, :48] = 5
    return ids


def _line(cls: type, text: str) -> int:
    lines, start = inspect.getsourcelines(cls)
    return start + next(i for i, line in enumerate(lines) if text in line)


def _ds601(report):
    found = [d for d in report.diagnostics if d.code == "DS601"]
    assert found, str(report)
    assert [d.code for d in report.diagnostics if d.code != "DS601"] == [], str(report)
    return found


def _assert_no_placeholder(report):
    text = str(report) + report.model_dump_json()
    assert PLACEHOLDER not in text, text


def test_a_named_value_gets_a_check_line_that_runs():
    report = dimsolve.check_dynamic_shapes(ImageTokens(), (_ids(), torch.randn(64, 8)),
                                           dynamic_shapes={"ids": (1, Dim("s")), "feats": (Dim("f"), 8)})
    (d,) = _ds601(report)
    (change,) = d.fixes[0].changes
    assert isinstance(change, AddCheck) and change.code == "torch._check(n_img >= 48)"
    _assert_no_placeholder(report)
    # pasted before the line, the model exports
    torch.export.export(ImageTokensChecked(), (_ids(), torch.randn(64, 8)))


def test_a_library_check_names_the_library_line_and_offers_no_code():
    report = dimsolve.check_dynamic_shapes(NormalModel(), (torch.zeros(4), torch.ones(4)),
                                           dynamic_shapes={"loc": (Dim("b"),), "scale": (Dim("b"),)})
    found = _ds601(report)
    _assert_no_placeholder(report)
    init = next(d for d in found if d.labels[0].location.line == _line(NormalModel, "Normal("))
    assert "torch/distributions/distribution.py" in init.message and f"line {init.labels[0].location.line}" in init.message
    assert "validate_args=False" in init.help[0]
    assert "torch meets 2 such conditions at this line" in init.notes  # loc's check and scale's, one finding
    assert all(not d.fixes for d in found)


@pytest.mark.parametrize("model, args, spec, words", [
    pytest.param(TensorBranch(), (torch.randn(6),), {"x": (Dim("b"),)}, "(x > 0).sum() > 2", id="tensor-condition"),
    pytest.param(MaskedSelect(), (_ids(), torch.randn(1, 64, 8), torch.randn(48, 8)),
                 {"ids": (1, Dim("s")), "emb": (1, Dim("s"), 8), "feats": (Dim("f"), 8)},
                 "emb[mask].numel() != feats.numel()", id="mask-selection"),
])
def test_an_unnamed_value_is_the_condition_as_written_and_no_code(model, args, spec, words):
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    (d,) = _ds601(report)
    _assert_no_placeholder(report)
    line = _line(type(model), words)
    assert f"`{words}` (line {line})" in d.message
    assert not d.fixes and "no torch._check line can name it" in d.help[0]
