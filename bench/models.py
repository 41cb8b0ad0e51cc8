"""The benchmark's model suite: small models with one dynamic-shape behaviour each, and tiny
randomly initialised HuggingFace models built from configs (nothing is downloaded).

Every case has a spec that is valid (torch exports it, dimsolve agrees) and, for most, a
violating spec: the mistake a user makes with that model (an unrelated Dim where the model needs a
relation, a missing ``max``, a dynamic size the model pins). Example sizes are >= 2 so that nothing
specialises on 0/1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.export import Dim

Spec = Any


@dataclass(frozen=True)
class Built:
    model: torch.nn.Module
    args: tuple
    good: Spec
    bad: Spec | None


@dataclass(frozen=True)
class ModelCase:
    name: str
    kind: str  # "small" or "hf"
    what: str  # the dynamic-shape behaviour, for the table
    make: Callable[[], Built]
    quick: bool = False  # part of the --quick suite

    def build(self) -> Built:
        torch.manual_seed(0)
        built = self.make()
        built.model.eval()
        return built


def _r(*shape: int) -> torch.Tensor:
    return torch.randn(*shape)


# --- small models --------------------------------------------------------------------------------


class Add(torch.nn.Module):
    def forward(self, x, y):
        return x + y


class AddThenLinear(torch.nn.Module):
    """The torch.export tutorial's model: broadcast add, a branch on the size, a Linear(4, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)

    def forward(self, x, y):
        w = x + y
        if w.shape[0] <= 512:
            w = self.proj(w)
        return w


class Mlp(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8))

    def forward(self, x):
        return x + self.net(x)


class Branch(torch.nn.Module):
    def forward(self, x):
        if x.shape[0] > 16:
            return x.sum(0)
        return x * 2


class AreaBranch(torch.nn.Module):
    def forward(self, x):
        if x.shape[0] * x.shape[1] > 32:
            return x.sum(0)
        return x.sum(1)


class Groups(torch.nn.Module):
    def forward(self, x):
        return x.reshape(-1, 4, x.shape[1]).mean(1)


class Flatten(torch.nn.Module):
    def forward(self, x, z):
        return x.reshape(-1) + z


class DropFirst(torch.nn.Module):
    def forward(self, x, y):
        return x + y[1:]


class EveryOther(torch.nn.Module):
    def forward(self, x, y):
        return x + y[::2]


class Pad(torch.nn.Module):
    def forward(self, x, y):
        return F.pad(x, (1, 1)) + y


class CatSelf(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([x, x], dim=0).sum(1) + y.sum(1)


class CatPair(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([x, y], dim=0)


class Stack(torch.nn.Module):
    def forward(self, x, y):
        return torch.stack([x, y]).sum(0)


class MatmulChain(torch.nn.Module):
    def forward(self, x, a, b):
        return x @ a @ b


class Bmm(torch.nn.Module):
    def forward(self, x, y):
        return torch.bmm(x, y)


class Attention(torch.nn.Module):
    def forward(self, q, k, v):
        scores = q @ k.transpose(-1, -2) / 4.0
        return scores.softmax(-1) @ v


class Conv(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(x).relu()


class ConvPoolHead(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.head = torch.nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        h = F.max_pool2d(self.conv(x), 2)
        return self.head(h.flatten(1))


class StridedConv(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(2, 2, 3, stride=2, padding=1)

    def forward(self, x, y):
        return self.conv(x) + y


class PixelUnshuffle(torch.nn.Module):
    def forward(self, x):
        b, c, h, w = x.shape
        return x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, c * 4, h // 2, w // 2)


class Halves(torch.nn.Module):
    def forward(self, x):
        n = x.shape[1] // 2
        return x[:, :n] * x[:, n:]


class Norm(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = torch.nn.LayerNorm(16)

    def forward(self, x):
        return self.norm(x)


class Masked(torch.nn.Module):
    def forward(self, x, mask):
        return (x * mask).sum(1)


class Embed(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(50, 8)
        self.pos = torch.nn.Parameter(torch.randn(32, 8))

    def forward(self, ids):
        return self.emb(ids) + self.pos[: ids.shape[1]]


class ViewRows(torch.nn.Module):
    def forward(self, x):
        return x.view(x.shape[0] - 1, -1)


def _case(name: str, what: str, quick: bool = False):
    def register(make: Callable[[], Built]) -> Callable[[], Built]:
        SMALL.append(ModelCase(name, "small", what, make, quick))
        return make

    return register


SMALL: list[ModelCase] = []


@_case("broadcast_add", "x + y: equal dims", quick=True)
def _broadcast_add() -> Built:
    dx, d1 = Dim("dx"), Dim("d1")
    return Built(Add(), (_r(6, 4), _r(6, 4)), {"x": (dx, d1), "y": (dx, d1)}, {"x": (dx, d1), "y": (Dim("dy"), d1)})


@_case("tutorial", "add, branch <= 512, Linear(4, 4)", quick=True)
def _tutorial() -> Built:
    dx, d1 = Dim("dx", max=512), Dim("d1")
    return Built(AddThenLinear(), (_r(6, 4), _r(6, 4)), {"x": (dx, 4), "y": (dx, 4)},
                 {"x": (Dim("dx"), d1), "y": (Dim("dy"), d1)})


@_case("linear_pin", "Linear pins the feature dim")
def _linear_pin() -> Built:
    b = Dim("batch")
    return Built(Mlp(), (_r(4, 8),), {"x": (b, 8)}, {"x": (b, Dim("feat"))})


@_case("branch_on_size", "if x.shape[0] > 16")
def _branch() -> Built:
    return Built(Branch(), (_r(8, 3),), {"x": (Dim("n", max=16), 3)}, {"x": (Dim("n"), 3)})


@_case("area_branch", "if x.shape[0]*x.shape[1] > 32 (silent narrowing)")
def _area() -> Built:
    return Built(AreaBranch(), (_r(8, 8),), {"x": (Dim("h", min=6, max=64), Dim("w", min=6, max=64))},
                 {"x": (Dim("h", max=64), Dim("w", max=64))})


@_case("reshape_groups", "reshape(-1, 4, c): divisible by 4", quick=True)
def _groups() -> Built:
    b = Dim("_b", min=2)  # 4 would make x.shape[0] // 4 == 1, a size reshape specialises
    return Built(Groups(), (_r(8, 3),), {"x": (4 * b, 3)}, {"x": (Dim("b"), 3)})


@_case("flatten_product", "reshape(-1) + z: z = x0*x1")
def _flatten() -> Built:
    n = Dim("n")
    return Built(Flatten(), (_r(5, 4), _r(20)), {"x": (n, 4), "z": (4 * n,)}, {"x": (n, 4), "z": (Dim("m"),)})


@_case("slice_drop_first", "x + y[1:]: y = x + 1")
def _drop_first() -> Built:
    dx = Dim("dx")
    return Built(DropFirst(), (_r(5), _r(6)), {"x": (dx,), "y": (dx + 1,)}, {"x": (dx,), "y": (Dim("dy"),)})


@_case("slice_step", "x + y[::2]: y = 2x (or 2x - 1)")
def _every_other() -> Built:
    dx = Dim("dx")
    return Built(EveryOther(), (_r(5), _r(10)), {"x": (dx,), "y": (2 * dx,)}, {"x": (dx,), "y": (Dim("dy"),)})


@_case("pad", "F.pad(x, (1, 1)) + y: y = x + 2")
def _pad() -> Built:
    dx = Dim("dx")
    return Built(Pad(), (_r(3, 5), _r(3, 7)), {"x": (3, dx), "y": (3, dx + 2)}, {"x": (3, dx), "y": (3, Dim("dy"))})


@_case("cat_self", "cat([x, x]) + y: y = 2x")
def _cat_self() -> Built:
    dx = Dim("dx")
    return Built(CatSelf(), (_r(4, 3), _r(8, 5)), {"x": (dx, 3), "y": (2 * dx, 5)},
                 {"x": (dx, 3), "y": (Dim("dy"), 5)})


@_case("cat_pair", "cat([x, y], 0): equal dim 1")
def _cat_pair() -> Built:
    d = Dim("d")
    return Built(CatPair(), (_r(3, 5), _r(4, 5)), {"x": (Dim("a"), d), "y": (Dim("b"), d)},
                 {"x": (Dim("a"), d), "y": (Dim("b"), Dim("e"))})


@_case("stack", "stack([x, y]): equal shapes")
def _stack() -> Built:
    n, m = Dim("n"), Dim("m")
    return Built(Stack(), (_r(4, 5), _r(4, 5)), {"x": (n, m), "y": (n, m)}, {"x": (n, m), "y": (Dim("n2"), m)})


@_case("matmul_chain", "x @ a @ b: inner dims equal", quick=True)
def _matmul() -> Built:
    b, k, m, n = Dim("b"), Dim("k"), Dim("m"), Dim("n")
    return Built(MatmulChain(), (_r(3, 4), _r(4, 5), _r(5, 6)), {"x": (b, k), "a": (k, m), "b": (m, n)},
                 {"x": (b, k), "a": (Dim("k2"), m), "b": (Dim("m2"), n)})


@_case("bmm", "bmm: batch and inner dims equal")
def _bmm() -> Built:
    b, n, k, m = Dim("b"), Dim("n"), Dim("k"), Dim("m")
    return Built(Bmm(), (_r(2, 3, 4), _r(2, 4, 5)), {"x": (b, n, k), "y": (b, k, m)},
                 {"x": (b, n, k), "y": (Dim("b2"), k, m)})


@_case("attention", "q k^T v: seq and head dims")
def _attention() -> Built:
    b, s, t, d = Dim("b"), Dim("s"), Dim("t"), Dim("d")
    return Built(Attention(), (_r(2, 5, 8), _r(2, 6, 8), _r(2, 6, 8)),
                 {"q": (b, s, d), "k": (b, t, d), "v": (b, t, d)},
                 {"q": (b, s, d), "k": (b, t, d), "v": (b, Dim("t2"), d)})


@_case("conv2d", "Conv2d(3, 8, 3): channels pinned", quick=True)
def _conv() -> Built:
    b, h, w = Dim("b"), Dim("h"), Dim("w")
    return Built(Conv(), (_r(2, 3, 16, 16),), {"x": (b, 3, h, w)}, {"x": (b, Dim("c"), h, w)})


@_case("conv_pool_linear", "conv, pool, flatten, Linear: spatial dims pinned")
def _conv_pool() -> Built:
    b = Dim("b")
    return Built(ConvPoolHead(), (_r(2, 1, 8, 8),), {"x": (b, 1, 8, 8)}, {"x": (b, 1, Dim("h"), Dim("w"))})


@_case("strided_conv", "Conv1d stride 2 + y: FloorDiv relation")
def _strided() -> Built:
    b, n = Dim("b"), Dim("n")
    return Built(StridedConv(), (_r(2, 2, 10), _r(2, 2, 5)), {"x": (b, 2, 2 * n), "y": (b, 2, n)},
                 {"x": (b, 2, Dim("l")), "y": (b, 2, n)})


@_case("pixel_unshuffle", "reshape h//2, w//2: even sizes (Mod)")
def _unshuffle() -> Built:
    b, h, w = Dim("b"), Dim("_h", min=2), Dim("_w", min=2)
    return Built(PixelUnshuffle(), (_r(2, 3, 8, 6),), {"x": (b, 3, 2 * h, 2 * w)},
                 {"x": (b, 3, Dim("h"), Dim("w"))})


@_case("halves", "x[:, :n//2] * x[:, n//2:]: even size")
def _halves() -> Built:
    h = Dim("_h", min=2)
    return Built(Halves(), (_r(3, 8),), {"x": (Dim("b"), 2 * h)}, {"x": (Dim("b"), Dim("n"))})


@_case("layernorm", "LayerNorm(16): last dim pinned")
def _norm() -> Built:
    b, s = Dim("b"), Dim("s")
    return Built(Norm(), (_r(2, 5, 16),), {"x": (b, s, 16)}, {"x": (b, s, Dim("d"))})


@_case("mask_broadcast", "x * mask: batch and seq shared")
def _masked() -> Built:
    b, s = Dim("b"), Dim("s")
    return Built(Masked(), (_r(2, 5, 4), _r(2, 5, 1)), {"x": (b, s, 4), "mask": (b, s, 1)},
                 {"x": (b, s, 4), "mask": (Dim("mb"), s, 1)})


@_case("embedding_positions", "pos[:seq]: seq <= 32 (silent narrowing)")
def _embed() -> Built:
    b = Dim("b")
    return Built(Embed(), (torch.randint(0, 50, (2, 6)),), {"ids": (b, Dim("s", max=32))},
                 {"ids": (b, Dim("s", max=64))})


@_case("view_rows_minus_one", "view(rows - 1, -1)")
def _view_rows() -> Built:
    c = Dim("_c", min=1)
    return Built(ViewRows(), (_r(5, 8),), {"x": (5, 4 * c)}, {"x": (5, Dim("c"))})


@_case("mixed_auto", "Dim.AUTO next to named Dims")
def _mixed_auto() -> Built:
    auto = Dim.AUTO
    dx = Dim("dx")
    return Built(Add(), (_r(6, 4), _r(6, 4)), {"x": (dx, auto), "y": (dx, auto)},
                 {"x": (dx, auto), "y": (Dim("dy"), auto)})


@_case("all_auto", "every dim Dim.AUTO (never a violation)")
def _all_auto() -> Built:
    a = Dim.AUTO
    return Built(AddThenLinear(), (_r(6, 4), _r(6, 4)), {"x": (a, a), "y": (a, a)}, None)


# --- HuggingFace models, randomly initialised from small configs -------------------------------------

VOCAB = 100
POSITIONS = 64


class LogitsOnly(torch.nn.Module):
    """What users export: token ids and mask in, logits (or hidden states) out, no cache."""

    def __init__(self, lm: torch.nn.Module, has_cache: bool) -> None:
        super().__init__()
        self.lm = lm
        self.has_cache = has_cache

    def forward(self, input_ids, attention_mask):
        extra = {"use_cache": False} if self.has_cache else {}
        return self.lm(input_ids, attention_mask=attention_mask, return_dict=False, **extra)[0]


def _hf(lm: Callable[[], torch.nn.Module], has_cache: bool = True) -> Built:
    model = LogitsOnly(lm(), has_cache)
    ids = torch.randint(0, VOCAB, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.long)
    batch, seq = Dim("batch"), Dim("seq", max=POSITIONS)
    good = {"input_ids": (batch, seq), "attention_mask": (batch, seq)}
    bad = {"input_ids": (batch, seq), "attention_mask": (Dim("mask_batch"), Dim("mask_seq"))}
    return Built(model, (ids, mask), good, bad)


def _gpt2() -> Built:
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=VOCAB, n_positions=POSITIONS, bos_token_id=0,
                     eos_token_id=0)
    return _hf(lambda: GPT2LMHeadModel(cfg))


def _bert() -> Built:
    from transformers import BertConfig, BertForMaskedLM

    cfg = BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64,
                     vocab_size=VOCAB, max_position_embeddings=POSITIONS)
    return _hf(lambda: BertForMaskedLM(cfg), has_cache=False)


def _llama() -> Built:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, num_key_value_heads=2,
                      intermediate_size=64, vocab_size=VOCAB, max_position_embeddings=POSITIONS)
    return _hf(lambda: LlamaForCausalLM(cfg))


def _distilbert() -> Built:
    from transformers import DistilBertConfig, DistilBertForMaskedLM

    cfg = DistilBertConfig(n_layers=2, dim=32, n_heads=2, hidden_dim=64, vocab_size=VOCAB,
                           max_position_embeddings=POSITIONS)
    return _hf(lambda: DistilBertForMaskedLM(cfg), has_cache=False)


def _t5_encoder() -> Built:
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(num_layers=2, d_model=32, d_kv=16, num_heads=2, d_ff=64, vocab_size=VOCAB)
    return _hf(lambda: T5EncoderModel(cfg), has_cache=False)


HF: list[ModelCase] = [
    ModelCase("hf_gpt2", "hf", "GPT2LMHeadModel, 2 layers, hidden 32", _gpt2, quick=True),
    ModelCase("hf_bert", "hf", "BertForMaskedLM, 2 layers, hidden 32", _bert),
    ModelCase("hf_llama", "hf", "LlamaForCausalLM, 2 layers, hidden 32", _llama),
    ModelCase("hf_distilbert", "hf", "DistilBertForMaskedLM, 2 layers, dim 32", _distilbert),
    ModelCase("hf_t5_encoder", "hf", "T5EncoderModel, 2 layers, d_model 32", _t5_encoder),
]


def suite(quick: bool, names: list[str] | None = None) -> list[ModelCase]:
    """The cases to run: all of them, the ``--quick`` subset, or the ones named."""
    cases = SMALL + HF
    if names:
        return [c for c in cases if c.name in names]
    return [c for c in cases if c.quick] if quick else cases
