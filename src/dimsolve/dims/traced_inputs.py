"""What the traced example inputs looked like, for reading a JSON spec without the model at hand.

A JSON spec may list only its dynamic dims; the shapes of the traced inputs fill in the rest
(static at their example sizes). The service has no model, only a GuardSet, so the shapes come
from the record ``dimsolve.trace_guards`` keeps in ``GuardSet.meta["inputs"]`` or, failing that,
from the GuardSet's symbols.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dimsolve.dims.model import DimPath, InputPath
from dimsolve.dims.spec_json_fields import (
    JsonObject,
    SpecJsonError,
    expect_list,
    expect_size,
    expect_str,
    read_input_path,
)
from dimsolve.json_fields import load_json


@dataclass(frozen=True, slots=True)
class TracedInputs:
    """What the traced example inputs looked like: forward's passed inputs and every pytree leaf.

    ``leaves`` maps each leaf's path to its shape, or None for a leaf that is not a tensor.
    """

    params: tuple[str, ...]
    leaves: tuple[tuple[InputPath, tuple[int, ...] | None], ...]

    def shape(self, path: InputPath) -> tuple[int, ...] | None:
        return dict(self.leaves).get(path)

    @classmethod
    def from_dims(cls, dims: Iterable[tuple[DimPath, int]]) -> TracedInputs | None:
        """From (dimension, example size) pairs, e.g. a GuardSet's symbols; None when an input has a gap."""
        sizes: dict[InputPath, dict[int, int]] = {}
        for path, example in dims:
            if not path.is_scalar:  # an int input's value (Dim.AUTO in the trace) is not a tensor's shape
                sizes.setdefault(path.input, {})[path.axis] = example
        leaves = []
        for ipath, axes in sizes.items():
            if sorted(axes) != list(range(len(axes))):
                return None
            leaves.append((ipath, tuple(axes[a] for a in range(len(axes)))))
        params = tuple(dict.fromkeys(str(p.keys[0]) for p, _ in leaves))
        return cls(params, tuple(leaves))


def traced_inputs_from_meta(text: str) -> TracedInputs:
    """Read ``{"params": [...], "leaves": [{"path": [...], "shape": [...] | null}]}``; errors name the path."""
    data = load_json(text, SpecJsonError)
    top = JsonObject(data, "$")
    params = tuple(expect_str(v, f"params[{i}]") for i, v in enumerate(expect_list(top.raw("params"), "params")))
    leaves = []
    for i, item in enumerate(expect_list(top.raw("leaves"), "leaves")):
        leaf = JsonObject(item, f"leaves[{i}]")
        ipath = read_input_path(leaf, "path")
        shape = leaf.raw("shape")
        if shape is not None:
            sizes = expect_list(shape, leaf.at("shape"))
            shape = tuple(expect_size(v, f"{leaf.at('shape')}[{j}]") for j, v in enumerate(sizes))
        leaf.finish(allowed=("value",))  # an int input's example value (export.api records it)
        leaves.append((ipath, shape))
    top.finish()
    passed = {str(p.keys[0]) for p, _ in leaves}
    return TracedInputs(tuple(p for p in params if p in passed), tuple(leaves))
