"""DS7xx on real HuggingFace models (tiny, randomly initialised from configs, nothing downloaded).

Learned position tables fail by index value, not by a shape guard: torch.export accepts a sequence
Dim longer than the table and the exported program raises IndexError past it. dimsolve reports it
at the line that indexes and the line that builds the positions, with a fix in the user's Dims that
torch exports and that runs at its largest size:

- GPT-2: positions from ``arange`` (certain: DS701 error);
- OPT: positions from ``attention_mask.cumsum`` (an assumption about the mask's values: DS702
  warning, an error once the user states the range);
- RoBERTa: positions from ``input_ids != pad`` after the padding offset (certain: DS701).
A range the table supports gets no finding (BERT's too).
"""

from __future__ import annotations

import os

import pytest
import torch
from export_support import TokensAndMask, torch_export
from torch.export import Dim

import dimsolve

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.torch

POSITIONS = 64  # every model's table admits sequences up to 64


def _gpt2():
    config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=100, n_positions=POSITIONS,
                                     bos_token_id=0, eos_token_id=0)
    return TokensAndMask(transformers.GPT2LMHeadModel(config).eval(), use_cache=False)


def _opt():
    config = transformers.OPTConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, ffn_dim=32,
                                    num_attention_heads=2, max_position_embeddings=POSITIONS, word_embed_proj_dim=16,
                                    pad_token_id=1)
    return TokensAndMask(transformers.OPTModel(config).eval(), use_cache=False)


def _roberta():  # 66 rows: positions start after the padding index 1
    config = transformers.RobertaConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, intermediate_size=32,
                                        num_attention_heads=2, max_position_embeddings=POSITIONS + 2, pad_token_id=1,
                                        type_vocab_size=1)
    return TokensAndMask(transformers.RobertaModel(config, add_pooling_layer=False).eval())


def _bert():
    config = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, intermediate_size=32,
                                     num_attention_heads=2, max_position_embeddings=POSITIONS)
    return TokensAndMask(transformers.BertModel(config, add_pooling_layer=False).eval())


MODELS = {"gpt2": _gpt2, "opt": _opt, "roberta": _roberta, "bert": _bert}
_BUILT: dict[str, torch.nn.Module] = {}


def _model(name: str) -> torch.nn.Module:
    if name not in _BUILT:
        torch.manual_seed(0)
        _BUILT[name] = MODELS[name]()
    return _BUILT[name]


def _inputs(seq: int, batch: int = 2):
    return torch.randint(3, 100, (batch, seq)), torch.ones(batch, seq, dtype=torch.long)


def _spec(seq_max: int | None):
    batch, seq = Dim("batch"), Dim("seq", max=seq_max) if seq_max else Dim("seq")
    return {"input_ids": (batch, seq), "attention_mask": (batch, seq)}


# (model, the spec's seq max, code, severity, the op and table the finding names, the line building positions)
WRONG = [
    pytest.param("gpt2", None, "DS701", "error", "wpe", "torch.arange", id="gpt2-unbounded"),
    pytest.param("opt", 2 * POSITIONS, "DS702", "warning", "embed_positions", "cumsum", id="opt-128"),
    pytest.param("roberta", POSITIONS + 2, "DS701", "error", "position_embeddings", "create_position_ids",
                 id="roberta-66"),
]
_REPORTS: dict[tuple, dimsolve.Report] = {}


def _report(name: str, seq_max: int | None, **options):
    key = (name, seq_max, repr(sorted(options.items())))
    if key not in _REPORTS:
        _REPORTS[key] = dimsolve.check_dynamic_shapes(_model(name), _inputs(8), dynamic_shapes=_spec(seq_max),
                                                      **options)
    return _REPORTS[key]


@pytest.mark.parametrize("name, seq_max, code, severity, table, builder", WRONG)
def test_position_table_overflow_is_found_at_the_users_lines(name, seq_max, code, severity, table, builder):
    report = _report(name, seq_max)
    found = [d for d in report.diagnostics if d.code == code]
    assert len(found) == 1, str(report)
    d = found[0]
    assert d.severity.value == severity
    assert report.ok is (severity == "warning"), str(report)
    assert not [x for x in report.diagnostics if x.is_error and x.code != code], str(report)
    # the line that indexes, then the line that builds the positions, both in transformers' source
    files = [lb.location.file for lb in d.labels]
    assert all(f.startswith(os.path.dirname(transformers.__file__)) for f in files), files
    assert "indexes past the end of `lm." in d.message and any(table in lb.message for lb in d.labels), d
    assert builder in d.labels[-1].location.code, d.labels[-1]
    assert d.facts["check"] == "index_bound"
    # the counterexample is admitted and is past the table
    (size,) = d.facts["counterexample"].values()
    assert size > POSITIONS and (seq_max is None or size <= seq_max)
    with pytest.raises(IndexError if name != "roberta" else RuntimeError):  # gather says RuntimeError
        with torch.no_grad():
            _model(name)(*_inputs(size))


@pytest.mark.parametrize("name, seq_max, code, severity, table, builder", WRONG)
def test_fix_is_the_tables_range_exported_and_run_at_its_max(name, seq_max, code, severity, table, builder):
    report = _report(name, seq_max)
    fixed = report.fixed_dynamic_shapes
    assert fixed["input_ids"][1].max == POSITIONS and fixed["attention_mask"][1].max == POSITIONS
    assert report.fix_verified and report.torch_confirmed and report.rounds[-1].exported, report.rounds
    assert 'seq = Dim("seq", max=64)' in report.fix_code
    model = _model(name)
    ep, err = torch_export(model, _inputs(8), {}, fixed)
    assert err is None, err
    with torch.no_grad():
        for seq in (2, POSITIONS):
            inputs = _inputs(seq)
            torch.testing.assert_close(ep.module()(*inputs), model(*inputs))
    again = dimsolve.check_dynamic_shapes(model, _inputs(8), dynamic_shapes=fixed)
    assert not [d for d in again.diagnostics if d.code.startswith("DS7")], str(again)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_range_the_table_supports_has_no_finding(name):
    report = _report(name, POSITIONS)
    assert report.ok and not report.diagnostics, str(report)


def test_stated_mask_values_make_the_opt_finding_certain():
    report = _report("opt", 2 * POSITIONS, value_ranges={"attention_mask": (0, 1)})
    (d,) = [d for d in report.diagnostics if d.code.startswith("DS7")]
    assert d.code == "DS701" and d.is_error and "as in the example" not in d.message
    assert not report.ok and report.fixed_dynamic_shapes["input_ids"][1].max == POSITIONS


def test_json_says_whose_check_each_finding_is():
    data = _report("gpt2", None).to_dict()
    (d,) = [d for d in data["diagnostics"] if d["code"] == "DS701"]
    assert d["facts"]["check"] == "index_bound"
    assert d["facts"]["index"]["op"] == "embedding" and d["facts"]["index"]["size"] == str(POSITIONS)
