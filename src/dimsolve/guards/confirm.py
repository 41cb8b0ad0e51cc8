"""Ask torch.export itself about one spec, for the cases dimsolve's all-dynamic trace cannot see.

dimsolve traces with every dimension dynamic. With some dimensions static, torch may take other code
paths and emit guards the all-dynamic trace never showed, and it raises a constraint violation for
any guard on a named ``Dim`` that it cannot prove from the ranges, even one that always holds
(``(3*n + 3*((n+1)//2)) % (n + (n+1)//2) == 0``). Only an export with the spec itself tells.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dimsolve.guards import capture as cap

# torch 2.13: "Not all values of dx = L['x'].size()[0] in the specified range 3 <= dx satisfy the
# generated guard (...) == 0."
_UNPROVEN = re.compile(r"Not all values of (?P<dim>.+?) = (?P<source>\S+) in the specified range "
                       r"(?P<range>.+?) satisfy the generated guard (?P<guard>.+?)\.?$")


_SIZE = re.compile(r"L\['(?P<name>\w+)'\]\.size\(\)\[(?P<axis>\d+)\]")


def user_terms(text: str) -> str:
    """torch's guard text in the user's terms: ``L['x'].size()[0]`` becomes ``x.shape[0]``."""
    return _SIZE.sub(lambda m: f"{m['name']}.shape[{m['axis']}]", text)


@dataclass(frozen=True)
class UnprovenGuard:
    """One guard torch emitted on a named Dim and could not prove for the Dim's whole range."""

    dim: str  # the Dim's name as torch prints it (``dx``, ``2*dx + 1``)
    guard: str  # torch's rendering, with sizes spelled ``x.shape[0]``


# "The values of L['x1'].size()[0] = L['x1'].size()[0] must always be related to the values of
# d0 = L['x0'].size()[0] by L['x1'].size()[0] = 15 - 2*d0."
_RELATED = re.compile(r"must always be related to the values of (?P<dim>\S+) = ")


@dataclass(frozen=True)
class TorchVerdict:
    """What ``torch.export.export`` did with one spec."""

    exported: bool
    constraint_violation: bool
    unproven: tuple[UnprovenGuard, ...]
    message: str
    # named Dims torch says another size "must always be related to" (a relation the spec omits)
    related: tuple[str, ...] = ()


def _constraint_errors() -> tuple[type[BaseException], ...]:
    import torch
    from torch.fx.experimental.symbolic_shapes import ConstraintViolationError

    return torch._dynamo.exc.UserError, ConstraintViolationError


def torch_verdict(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any,
                  strict: bool = False) -> TorchVerdict:
    """Export ``model`` with ``dynamic_shapes`` as given, quietly; never raises for the model's sake."""
    import torch

    out, err = io.StringIO(), io.StringIO()
    with cap.quiet_torch_logs(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            torch.export.export(model, tuple(args), dict(kwargs or {}), dynamic_shapes=dynamic_shapes, strict=strict)
        except _constraint_errors() as exc:
            text = str(exc)
            found = (_UNPROVEN.search(line.strip().lstrip("- ")) for line in text.splitlines())
            unproven = tuple(UnprovenGuard(m["dim"], user_terms(m["guard"])) for m in found if m)
            related = tuple(dict.fromkeys(m["dim"] for m in _RELATED.finditer(text)))
            return TorchVerdict(False, True, unproven, text, related)
        except Exception as exc:  # noqa: BLE001 - any other failure is reported as such, not raised
            return TorchVerdict(False, False, (), f"{type(exc).__name__}: {exc}")
    return TorchVerdict(True, False, (), "")
