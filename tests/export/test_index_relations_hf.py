"""Index bounds between two inputs, and index bounds on Dim.DYNAMIC / Dim.AUTO sizes, on real
HuggingFace models (tiny, randomly initialised from configs, nothing downloaded).

Llama's ``create_causal_mask`` indexes ``attention_mask`` by the batch index of ``input_ids``: the
exported program needs ``input_ids.shape[0] <= attention_mask.shape[0]`` and torch does not check
it (its program keeps the two batch sizes apart and raises IndexError when the mask's is smaller).
The weakest fix relates the two sizes (``mbatch = batch``) and keeps the batch dynamic; pinning
the batch to the example's 2 would also pass, and would lose the dynamic batch the user asked for.

On a hint torch does not check the bound either: ``Dim.DYNAMIC`` on GPT-2's sequence exports, and the
program raises IndexError past the position table. That is an error for DYNAMIC (a warning for AUTO,
which never violates), with a fix in the hint's own terms that torch exports.

An example past the table (GPT-2 with 80 tokens) makes the model raise on its own example, and torch
still exports: whatever the spec, that is one DS701 on the example, with no spec fix (none that
admits the example runs it), never a "verified" pin of the example's sizes.
"""

from __future__ import annotations

import pytest
import torch
from export_support import TokensAndMask, torch_export
from torch.export import Dim

import dimsolve

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.torch

POSITIONS = 64


_BUILT: dict[str, torch.nn.Module] = {}


def _model(name: str) -> torch.nn.Module:
    if name not in _BUILT:
        torch.manual_seed(0)
        if name == "llama":
            config = transformers.LlamaConfig(vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                              num_attention_heads=2, num_key_value_heads=1,
                                              max_position_embeddings=POSITIONS)
            _BUILT[name] = TokensAndMask(transformers.LlamaModel(config).eval(), use_cache=False)
        else:
            config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=100, n_positions=POSITIONS,
                                             bos_token_id=0, eos_token_id=0)
            _BUILT[name] = TokensAndMask(transformers.GPT2Model(config).eval(), use_cache=False)
    return _BUILT[name]


def _inputs(batch: int, seq: int, mask_batch: int | None = None) -> dict[str, torch.Tensor]:
    return {"input_ids": torch.randint(3, 100, (batch, seq)),
            "attention_mask": torch.ones(mask_batch or batch, seq, dtype=torch.long)}


def _run(ep, inputs):
    with torch.no_grad():
        return ep.module()(**inputs)


def _hints(hint):
    return {"input_ids": (hint, hint), "attention_mask": (hint, hint)}


def test_batch_index_bound_is_fixed_by_a_relation_not_a_pin():
    model = _model("llama")
    seq = Dim("seq", max=POSITIONS)
    spec = {"input_ids": (Dim("batch"), seq), "attention_mask": (Dim("mbatch"), seq)}
    ep, err = torch_export(model, (), _inputs(2, 8), spec)  # torch exports the spec as written ...
    assert err is None, err
    with pytest.raises(IndexError):  # ... and its program fails on a size pair the spec admits
        _run(ep, _inputs(3, 8, mask_batch=2))

    report = dimsolve.check_dynamic_shapes(model, (), _inputs(2, 8), dynamic_shapes=spec)
    assert not report.ok
    (d,) = [d for d in report.diagnostics if d.is_error]
    assert d.code == "DS701" and d.message.startswith("input_ids.shape[0] > attention_mask.shape[0] indexes"), d
    assert "modeling_llama.py" in d.labels[0].location.file
    fixed = report.fixed_dynamic_shapes
    assert fixed["input_ids"][0] is fixed["attention_mask"][0] and fixed["input_ids"][0].__name__ == "batch"
    assert "attention_mask" in report.fix_code and "mbatch" not in report.fix_code
    assert report.fix_verified and report.rounds[-1].exported
    ep, err = torch_export(model, (), _inputs(2, 8), fixed)
    assert err is None, err
    for batch, size in ((3, 8), (2, 2), (5, POSITIONS)):  # the batch stays dynamic
        inputs = _inputs(batch, size)
        torch.testing.assert_close(_run(ep, inputs), model(**inputs))


def test_dynamic_hint_with_an_unchecked_batch_relation_is_an_error():
    model = _model("llama")
    ep, err = torch_export(model, (), _inputs(2, 8), _hints(Dim.DYNAMIC))
    assert err is None, err
    with pytest.raises(IndexError):
        _run(ep, _inputs(3, 8, mask_batch=2))

    report = dimsolve.check_dynamic_shapes(model, (), _inputs(2, 8), dynamic_shapes=_hints(Dim.DYNAMIC))
    assert not report.ok
    (d,) = [d for d in report.diagnostics if d.is_error]
    assert d.code == "DS701" and "attention_mask.shape[0] (Dim.DYNAMIC) must satisfy `input_ids.shape[0] <= attention_mask.shape[0]`" in d.message
    assert "torch does not check this" in d.message and "is static" not in str(report)
    fixed = report.fixed_dynamic_shapes
    assert fixed["input_ids"][0] is fixed["attention_mask"][0]  # one named Dim, still dynamic
    assert report.fix_verified
    ep, err = torch_export(model, (), _inputs(2, 8), fixed)
    assert err is None, err
    inputs = _inputs(3, 8)
    torch.testing.assert_close(_run(ep, inputs), model(**inputs))


@pytest.mark.parametrize("hint, severity, ok", [(Dim.DYNAMIC, "error", False), (Dim.AUTO, "warning", True)],
                         ids=["dynamic", "auto"])
def test_hinted_sequence_past_the_position_table(hint, severity, ok):
    model = _model("gpt2")
    ep, err = torch_export(model, (), _inputs(2, 8), _hints(hint))
    assert err is None, err
    with pytest.raises(IndexError):
        _run(ep, _inputs(2, POSITIONS + 1))

    report = dimsolve.check_dynamic_shapes(model, (), _inputs(2, 8), dynamic_shapes=_hints(hint))
    assert report.ok is ok, str(report)
    (d,) = [d for d in report.diagnostics if d.code == "DS701"]
    assert d.severity.value == severity and d.facts["check"] == "index_bound"
    assert f"input_ids.shape[1] ({hint_text(hint)}) must stay in [2, {POSITIONS}]" in d.message, d.message
    assert "modeling_gpt2.py" in d.labels[0].location.file
    fixed = report.fixed_dynamic_shapes
    assert fixed["input_ids"][1].max == POSITIONS and report.fix_verified
    ep, err = torch_export(model, (), _inputs(2, 8), fixed)
    assert err is None, err
    for size in (2, POSITIONS):
        inputs = _inputs(3, size)
        torch.testing.assert_close(_run(ep, inputs), model(**inputs))


def hint_text(hint) -> str:
    return "Dim.DYNAMIC" if hint is Dim.DYNAMIC else "Dim.AUTO"


def _the_examples_finding(spec, example: int):
    """torch exports ``spec`` on GPT-2 and the program raises on the very example; dimsolve's report
    is one DS701 error without a fix. Returns it and the report."""
    model = _model("gpt2")
    ep, err = torch_export(model, (), _inputs(2, example), spec)
    assert err is None, err
    with pytest.raises(IndexError):
        _run(ep, _inputs(2, example))
    report = dimsolve.check_dynamic_shapes(model, (), _inputs(2, example), dynamic_shapes=spec)
    assert not report.ok
    (d,) = report.diagnostics
    assert d.code == "DS701" and d.is_error and not d.fixes
    return d, report


@pytest.mark.parametrize("seq, example", [(Dim("seq", min=POSITIONS + 1, max=2 * POSITIONS), 80),
                                          (Dim.AUTO, POSITIONS + 1), (Dim.DYNAMIC, POSITIONS + 1)],
                         ids=["named-range-past-the-table", "auto", "dynamic"])
def test_an_example_past_the_table_is_one_finding_without_a_spec_fix(seq, example):
    batch = Dim.AUTO if isinstance(seq, type(Dim.AUTO)) else Dim("batch")
    d, report = _the_examples_finding({"input_ids": (batch, seq), "attention_mask": (batch, seq)}, example)
    assert d.message.startswith(f"the example inputs (attention_mask.shape[1] = {example}) index past the end of "
                                "`lm.wpe.weight`"), d.message
    assert "modeling_gpt2.py" in d.labels[0].location.file and d.facts["check"] == "index_bound"
    assert report.fixed_dynamic_shapes is None and not report.fix_verified


def test_a_static_sequence_past_the_table_is_the_examples_finding():
    """No size symbol at all: the bound ``arange(65)`` into 64 rows fails whatever the spec says."""
    example = POSITIONS + 1
    d, _ = _the_examples_finding({"input_ids": (Dim("batch"), example), "attention_mask": (Dim("batch"), example)},
                                 example)
    assert "index past the end of `lm.wpe.weight` (64 rows)" in d.message and "[0, 64]" in d.message, d.message
    # at the table's size the same spec is valid: no false alarm from a constant bound that holds
    assert dimsolve.check_dynamic_shapes(_model("gpt2"), (), _inputs(2, POSITIONS),
                                         dynamic_shapes={"input_ids": (Dim("batch"), POSITIONS),
                                                         "attention_mask": (Dim("batch"), POSITIONS)}).ok
