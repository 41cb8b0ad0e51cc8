"""Models, inputs and a compact view of a Spec shared by the dims tests."""

from __future__ import annotations

import torch

from dimsolve.dims import Spec


class Two(torch.nn.Module):
    def forward(self, x, y):
        return x.sum() + y.sum()


class WithKwargs(torch.nn.Module):
    def forward(self, x, y=None, z=None):
        out = x.sum()
        if y is not None:
            out = out + y.sum()
        if z is not None:
            out = out + z.sum()
        return out


class ListInput(torch.nn.Module):
    def forward(self, xs):
        return xs[0].sum() + xs[1].sum()


class DictInput(torch.nn.Module):
    def forward(self, inputs):
        return inputs["a"].sum() + inputs["b"].sum()


class Nested(torch.nn.Module):
    def forward(self, inputs, w):
        return inputs[0]["a"].sum() + inputs[1].sum() + w.sum()


class IntInput(torch.nn.Module):
    def forward(self, x, n):
        return x * n


class FloatInput(torch.nn.Module):
    def forward(self, x, f):
        return x * f


def t(*shape):
    return torch.zeros(*shape)


def dims_of(spec: Spec) -> dict[str, str]:
    """``{"x.shape[0]": "dx", "x.shape[1]": "3", ...}``: what each dimension is, as text."""
    out = {}
    for e in spec.entries:
        text = e.dim.expr_text()
        if e.dim.min is not None or e.dim.max is not None:
            text += f"(min={e.dim.min}, max={e.dim.max})"
        out[str(e.path)] = text
    return out


def roots_of(spec: Spec) -> dict[str, tuple]:
    return {name: (r.min, r.max) for name, r in spec.roots.items()}


def normal_form(spec: Spec):
    """What must survive a round trip: every entry (path, spec path, dim, example) and the roots."""
    return (spec.entries, roots_of(spec), spec.params)
