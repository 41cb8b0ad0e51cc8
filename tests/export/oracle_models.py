"""Models and specs for ``test_export_oracle.py``: torch.export as the oracle of every check and fix (issue #8).

Each scenario's torch behaviour was observed on torch 2.13.0 (CPU) and is re-asserted by the tests
before they look at dimsolve (the "premise" checks), so a torch upgrade that changes it fails loudly
instead of making a test vacuous.

Scenarios (name -> model, example inputs, the user's spec):

- ``w2v_plain``  a wav2vec2-style feature extractor from plain torch modules: Conv1d(k=10, s=5) ->
  Conv1d(k=3, s=2) on ``x: (batch, samples)``, then a dot-product self-attention over the frames, with
  ``samples = Dim("samples", min=400, max=16000)``. torch raises "Not all values of samples ... satisfy
  the generated guard 2*(s//10)**2 - 4*(s//10) + 2 >= 2" (and ``... != 0``) and suggests the narrowing
  ``samples = 10*_samples``; the guards hold for every size in [400, 16000] (s//10 >= 40) and
  ``Dim.DYNAMIC(min=400, max=16000)`` exports. (Without the attention the conv stack alone exports; with
  ``batch`` a named Dim too, torch exports: the batch stays static here.)
- ``w2v_hf``     the same with ``transformers.Wav2Vec2Model`` from a tiny config (conv_kernel=(10, 3),
  conv_stride=(5, 2)): torch raises on ``((s//10) - 1)**2 > 1``, ``(2 % (2*(s//10) - 2)) != 0`` and
  ``2*(s//10)**2 - 4*(s//10) + 2 >= 2``, all true on [400, 16000], and suggests ``samples = 10*_samples``.
  (With wav2vec2's real 7-layer stack and min=400 the last frame count is 1 at 400 samples and torch's
  ``720 <= samples`` is a real bound, so that config is *not* this case.)
- ``static_view`` ``Linear(4, 3)`` pins ``x.shape[1] == 4``; ``if isinstance(x.shape[1], int): y =
  y.view(-1, 2)`` runs only when that dim is static. Spec ``x: (batch, feat)``: torch says "feat = 4";
  with ``(batch, 4)`` torch takes the view branch and raises on ``(3*batch) % 2 == 0`` (suggests
  ``batch = 2*_batch``); ``(2*_batch, 4)`` exports.
- ``static_add`` as above, but the static-only branch is ``y = y + z``: with ``x: (batch, 4)`` torch
  raises "The values of n = z.shape[0] and batch = x.shape[0] must always be equal"; ``z: (batch, 3)``
  exports. The all-dynamic trace never sees ``y + z``.
- ``pool_check_b1`` conv -> max_pool2d(2) -> ``if h.shape[2] > 16 or h.shape[3] > 16: raise``, batch-1
  example ``(1, 3, 8, 8)`` with ``batch = Dim("batch")`` and H, W in [4, 64]: torch reports batch
  specialised to 1 *and* H, W must be <= 33 (suggests ``batch = 1``, i.e. dynamism lost).
- ``pool_flat_b1``  conv -> max_pool2d(2) -> flatten -> ``Linear(64, 10)``, same spec: torch reports only
  ``batch = 1``; with a batch-2 example it *exports* [4, 64] for H and W although the program needs
  ``(H//2)*(W//2) == 16`` (silent narrowing: H = 16 is admitted and rejected at run time).
- valid specs for ``dimsolve.export``: ``pool_check_valid`` (batch-2 example, H, W in [4, 33]),
  ``static_view_valid`` (``x: (2*_batch, 4)``), ``w2v_plain_dynamic`` (``Dim.DYNAMIC(min=400, max=16000)``)
  and ``gpt2``: torch exports each.
- ``gpt2``  ``GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=32, vocab_size=100, n_positions=64))``
  behind a ``forward(input_ids) -> logits`` wrapper, ``{"input_ids": {0: Dim("batch", max=8), 1:
  Dim("seq", max=64)}}``: torch exports it (range_constraints [0, 8] and [0, 64]).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.export import Dim

# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------


class ConvAttention(torch.nn.Module):
    """A wav2vec2-style feature extractor (strided Conv1d stack on raw samples) and one self-attention."""

    def __init__(self, layers: tuple[tuple[int, int], ...] = ((10, 5), (3, 2)), channels: int = 8) -> None:
        super().__init__()
        convs, cin = [], 1
        for kernel, stride in layers:
            convs.append(torch.nn.Conv1d(cin, channels, kernel, stride=stride, bias=False))
            cin = channels
        self.convs = torch.nn.ModuleList(convs)

    def forward(self, x):  # x: (batch, samples)
        h = x[:, None]
        for conv in self.convs:
            h = F.gelu(conv(h))
        h = h.transpose(1, 2)  # (batch, frames, channels)
        scores = (h @ h.transpose(1, 2)).softmax(-1)  # (batch, frames, frames)
        return scores @ h


class HiddenStates(torch.nn.Module):
    """What a user exports from a HuggingFace speech model: raw samples in, the last hidden state out."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x, return_dict=False)[0]


class StaticView(torch.nn.Module):
    """The view is taken only when x.shape[1] is a plain int, i.e. when the spec makes it static."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)

    def forward(self, x):
        y = self.lin(x)  # pins x.shape[1] == 4
        if isinstance(x.shape[1], int):
            y = y.view(-1, 2)  # (batch, 3) -> (3*batch/2, 2): needs an even batch
        return y


class StaticAdd(torch.nn.Module):
    """The add (and with it z.shape[0] == x.shape[0]) happens only when x.shape[1] is static."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)

    def forward(self, x, z):
        y = self.lin(x)  # pins x.shape[1] == 4
        if isinstance(x.shape[1], int):
            y = y + z  # ties z.shape[0] to x.shape[0]
        return y


class PoolCheck(torch.nn.Module):
    """A small conv net that refuses feature maps larger than 16 after pooling: H, W <= 33."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.conv(x)), 2)
        if h.shape[2] > 16 or h.shape[3] > 16:
            raise ValueError("image too large")
        return self.fc(h.mean((2, 3)))


class PoolFlatten(torch.nn.Module):
    """conv -> pool -> flatten -> Linear(4*4*4): pins (H//2)*(W//2) == 16."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(h.flatten(1))


class GPT2Logits(torch.nn.Module):
    """Token ids in, logits out (no cache, tuple outputs): the spec keys on ``input_ids``."""

    def __init__(self, lm: torch.nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, input_ids):
        return self.lm(input_ids, use_cache=False, return_dict=False)[0]


def hf_wav2vec2() -> torch.nn.Module:
    """A tiny randomly initialised Wav2Vec2Model from a config (no download): two conv layers, one block."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    config = Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8), conv_kernel=(10, 3), conv_stride=(5, 2),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, mask_time_prob=0.0,
    )
    return HiddenStates(Wav2Vec2Model(config).eval()).eval()


def tiny_gpt2() -> torch.nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=1, n_head=2, n_embd=32, vocab_size=100, n_positions=64,
                        bos_token_id=0, eos_token_id=0)
    return GPT2Logits(GPT2LMHeadModel(config).eval()).eval()


# ----------------------------------------------------------------------------------------------
# Scenarios: model + example inputs + the user's spec
# ----------------------------------------------------------------------------------------------

SAMPLES_MIN, SAMPLES_MAX = 400, 16000


@dataclass(frozen=True)
class Scenario:
    model: torch.nn.Module
    args: tuple
    kwargs: dict
    make_spec: Callable[[], Any]  # fresh Dim objects on every call

    @property
    def spec(self) -> Any:
        return self.make_spec()


def _samples_spec() -> Any:
    return {"x": {1: Dim("samples", min=SAMPLES_MIN, max=SAMPLES_MAX)}}


def _image_spec() -> Any:
    return {"x": (Dim("batch"), 3, Dim("H", min=4, max=64), Dim("W", min=4, max=64))}


_BUILDERS: dict[str, Callable[[], Scenario]] = {
    "w2v_plain": lambda: Scenario(ConvAttention().eval(), (torch.randn(2, 1600),), {}, _samples_spec),
    "w2v_hf": lambda: Scenario(hf_wav2vec2(), (torch.randn(2, 1600),), {}, _samples_spec),
    "static_view": lambda: Scenario(StaticView(), (torch.randn(6, 4),), {},
                                    lambda: {"x": (Dim("batch"), Dim("feat"))}),
    "static_add": lambda: Scenario(StaticAdd(), (torch.randn(6, 4), torch.randn(6, 3)), {},
                                   lambda: {"x": (Dim("batch"), Dim("feat")), "z": (Dim("n"), 3)}),
    "pool_check_b1": lambda: Scenario(PoolCheck(), (torch.randn(1, 3, 8, 8),), {}, _image_spec),
    "pool_flat_b1": lambda: Scenario(PoolFlatten(), (torch.randn(1, 3, 8, 8),), {}, _image_spec),
    # valid specs (torch exports them; dimsolve.export must hand back torch's own program)
    "pool_check_valid": lambda: Scenario(PoolCheck(), (torch.randn(2, 3, 8, 8),), {},
                                         lambda: {"x": (Dim("batch"), 3, Dim("H", min=4, max=33),
                                                        Dim("W", min=4, max=33))}),
    "static_view_valid": lambda: Scenario(StaticView(), (torch.randn(6, 4),), {},
                                          lambda: {"x": (2 * Dim("_batch"), 4)}),
    "w2v_plain_dynamic": lambda: Scenario(ConvAttention().eval(), (torch.randn(2, 1600),), {},
                                          lambda: {"x": {1: Dim.DYNAMIC(min=SAMPLES_MIN, max=SAMPLES_MAX)}}),
    "gpt2": lambda: Scenario(tiny_gpt2(), (torch.randint(0, 100, (2, 8)),), {},
                             lambda: {"input_ids": {0: Dim("batch", max=8), 1: Dim("seq", max=64)}}),
}

SCENARIOS = tuple(_BUILDERS)


@functools.cache
def scenario(name: str) -> Scenario:
    """Built once per process (the HF models take a while), with a fixed seed."""
    torch.manual_seed(0)
    return _BUILDERS[name]()
