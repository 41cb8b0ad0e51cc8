"""Integration: a tiny randomly initialised HuggingFace GPT-2 (built from a config, no download),
exported non-strict through a wrapper ``forward(input_ids, attention_mask) -> logits``.

The wrong spec gives the attention mask its own batch and sequence Dims; GPT-2 needs them equal to
input_ids' (``attention_mask.view(batch_size, -1)`` in modeling_gpt2 and the SDPA mask broadcast).
dimsolve must point into transformers' source, not into torch, and its fix must export in one round.

Note: a sequence Dim with max above ``n_positions`` is *not* a shape guard (the position-embedding
lookup is an index into a table, i.e. data), so torch.export accepts it; dimsolve's own index check
rejects it (DS701, see test_index_bounds_hf.py).
"""

from __future__ import annotations

import linecache
import os

import pytest
import torch
from export_support import (
    Expect,
    TokensAndMask,
    assert_codes,
    assert_counterexamples_admitted,
    assert_one_round_fix,
    find_violation,
    torch_export,
)
from torch.export import Dim

import dimsolve
from dimsolve.diagnostics.model import Relate

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.torch

N_POSITIONS = 64


@pytest.fixture(scope="module")
def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=N_POSITIONS,
                        bos_token_id=0, eos_token_id=0)
    model = TokensAndMask(GPT2LMHeadModel(config).eval(), use_cache=False).eval()
    input_ids = torch.randint(0, 100, (2, 8))  # batch >= 2: a batch of 1 would specialise
    attention_mask = torch.ones(2, 8, dtype=torch.long)
    return model, (input_ids, attention_mask)


def _spec(kind: str):
    batch, seq = Dim("batch"), Dim("seq", max=N_POSITIONS)
    if kind == "mask-unrelated":
        return {"input_ids": (batch, seq), "attention_mask": (Dim("mask_batch"), Dim("mask_seq"))}
    if kind == "shared":
        return {"input_ids": (batch, seq), "attention_mask": (batch, seq)}
    if kind == "seq-beyond-positions":
        seq = Dim("seq", max=2 * N_POSITIONS)
        return {"input_ids": (batch, seq), "attention_mask": (batch, seq)}
    raise ValueError(kind)


WRONG = (
    Expect("DS201", 'dynamic_shapes["attention_mask"][0]'),
    Expect("DS201", 'dynamic_shapes["attention_mask"][1]'),
)


@pytest.fixture(scope="module")
def wrong_report(gpt2):
    model, args = gpt2
    return dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=_spec("mask-unrelated"))


@pytest.mark.parametrize("kind, ok", [
    pytest.param("mask-unrelated", False, id="mask-unrelated"),
    pytest.param("shared", True, id="shared"),
    pytest.param("seq-beyond-positions", False, id="seq-beyond-positions"),
])
def test_verdict_agrees_with_torch_export(gpt2, kind, ok):
    model, args = gpt2
    spec = _spec(kind)
    report = dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec)
    assert report.ok is ok, str(report)
    _, err = torch_export(model, args, {}, spec)
    torch_exports = ok or kind == "seq-beyond-positions"  # torch exports it; the program fails past 64 (DS701)
    assert (err is None) is torch_exports, err


def test_wrong_spec_is_caught_with_user_facing_source_lines(gpt2, wrong_report):
    model, args = gpt2
    report = wrong_report
    assert_codes(report, WRONG)
    relates = {v.fix for v in report.violations}
    assert relates == {(Relate("mask_batch", "batch"),), (Relate("mask_seq", "seq"),)}
    transformers_dir = os.path.dirname(transformers.__file__)
    torch_dir = os.path.dirname(torch.__file__)
    for expect in WRONG:
        v = find_violation(report, expect)
        loc = v.location
        assert loc is not None, v
        assert not loc.file.startswith(torch_dir) and f"{os.sep}torch{os.sep}" not in loc.file, loc
        assert loc.file.startswith(transformers_dir) or loc.file == __file__, loc
        assert loc.code and loc.code in linecache.getline(loc.file, loc.line), loc  # the real line
        assert v.guard and "attention_mask" in v.guard and "input_ids" in v.guard, v.guard
    # the batch relation comes from GPT-2 flattening the mask to (batch_size, -1)
    batch = find_violation(report, WRONG[0])
    assert batch.location.file.endswith(os.path.join("gpt2", "modeling_gpt2.py"))
    assert "attention_mask" in batch.location.code
    assert_counterexamples_admitted(report, model, args, {}, _spec("mask-unrelated"))


def test_fixed_spec_exports_in_one_round(gpt2, wrong_report):
    model, args = gpt2
    fixed = wrong_report.fixed_dynamic_shapes
    assert [d.__name__ for d in fixed["attention_mask"]] == [d.__name__ for d in fixed["input_ids"]]
    assert fixed["input_ids"][1].max == N_POSITIONS  # the user's own range survives the fix
    ep = assert_one_round_fix(wrong_report, model, args, {})
    with torch.no_grad():
        for batch, seq in ((3, 5), (2, N_POSITIONS)):
            ids, mask = torch.randint(0, 100, (batch, seq)), torch.ones(batch, seq, dtype=torch.long)
            torch.testing.assert_close(ep.module()(ids, mask), model(ids, mask))
