"""What torch does with a violated relation, on a real HuggingFace model (tiny Bloom from a config).

Bloom's alibi ``baddbmm`` emits ``2*batch == 2*mbatch`` and ``(mseq == 1) or (seq == mseq)``: torch
reads them as the equalities ``batch == mbatch`` and ``seq == mseq`` (sizes are >= 2 while it traces)
and raises on a spec that gives the mask its own Dims. dimsolve says DS201 ("torch.export raises"),
not DS302 ("torch would export, then reject inputs at run time").
"""

from __future__ import annotations

import pytest
import torch
from export_support import TokensAndMask, torch_export
from torch.export import Dim

import dimsolve

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.torch


def _inputs(batch: int, seq: int) -> dict[str, torch.Tensor]:
    return {"input_ids": torch.randint(3, 100, (batch, seq)), "attention_mask": torch.ones(batch, seq, dtype=torch.long)}


def test_scaled_and_broadcast_equalities_are_relations_torch_raises_on():
    torch.manual_seed(0)
    config = transformers.BloomConfig(vocab_size=100, hidden_size=16, n_layer=1, n_head=2)
    model = TokensAndMask(transformers.BloomModel(config).eval(), use_cache=False)
    spec = {"input_ids": (Dim("batch"), Dim("seq")), "attention_mask": (Dim("mbatch"), Dim("mseq"))}
    _, err = torch_export(model, (), _inputs(2, 8), spec)
    assert err is not None and "mbatch" in str(err) and "mseq" in str(err)

    report = dimsolve.check_dynamic_shapes(model, (), _inputs(2, 8), dynamic_shapes=spec)
    assert sorted((d.code, d.paths[0]) for d in report.diagnostics) == [
        ("DS201", 'dynamic_shapes["attention_mask"][0]'), ("DS201", 'dynamic_shapes["attention_mask"][1]')]
    assert "torch would export" not in str(report)
    assert report.fix_verified and 'dynamic_shapes = {"input_ids": (batch, seq), "attention_mask": (batch, seq)}' \
        in report.fix_code
    ep, err = torch_export(model, (), _inputs(2, 8), report.fixed_dynamic_shapes)
    assert err is None, err
    inputs = _inputs(3, 5)
    torch.testing.assert_close(ep.module()(**inputs), model(**inputs))
