"""One ``torch.export.export`` of a spec as the user wrote it, with the guard capture on.

This is torch's own verdict on a spec, and the guards and runtime asserts of exactly the program
torch builds for it: the oracle every answer of dimsolve is checked against. Whatever torch
raises becomes data (a constraint violation, a data-dependent failure, any other error); the
caller decides what it means.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dimsolve.guards import capture as cap
from dimsolve.guards.isolation import isolated
from dimsolve.guards.model import GuardSet, TraceFailure
from dimsolve.guards.objections import Objection, read_objections, recording_objections


@dataclass(frozen=True)
class Attempt:
    """What torch.export did with one spec, and the GuardSet of that trace.

    ``guardset`` holds the spec's own symbols (static dims are constants there, so they have none):
    a solver proof against it speaks for this program and nothing wider.
    """

    program: Any | None  # the ExportedProgram, when torch exported
    guardset: GuardSet
    constraint_violation: bool  # torch refused the spec (its ConstraintViolation / UserError)
    objections: tuple[Objection, ...]  # what torch objected to, read from its objects
    failure: TraceFailure | None  # what torch raised, when it did not export
    rejected: bool = False  # ``decide`` stopped the export after torch solved the constraints

    @property
    def exported(self) -> bool:
        return self.program is not None


def _is_constraint_violation(exc: BaseException) -> bool:
    from torch._dynamo.exc import UserError, UserErrorType
    from torch.fx.experimental.symbolic_shapes import ConstraintViolationError

    if isinstance(exc, ConstraintViolationError):
        return True
    return isinstance(exc, UserError) and exc.error_type is UserErrorType.CONSTRAINT_VIOLATION


def attempt_export(model: Any, args: tuple, kwargs: Mapping[str, Any] | None, dynamic_shapes: Any,
                   strict: bool = False, decide: Callable[[GuardSet], bool] | None = None,
                   options: Mapping[str, Any] | None = None) -> Attempt:
    """Export ``model`` with ``dynamic_shapes`` exactly as given; never raises for the model's sake.

    ``decide``, when given, sees the GuardSet as soon as torch has solved the constraints (non-strict)
    and stops the export there when it returns False (``Attempt.rejected``): an invalid spec costs
    no finalised graph. ``options`` are further ``torch.export.export`` keyword arguments.

    >>> a = attempt_export(model, (x,), None, {"x": (Dim("b"),)})    # doctest: +SKIP
    >>> a.exported, [str(g.expr) for g in a.guardset.guards]        # doctest: +SKIP
    """
    import torch

    from dimsolve.guards.trace import (bind_inputs, failure_of, guardset_from_capture, input_leaves, keep_program,
                                       resolve_dim, without_torch_graph_dump)

    bound = bind_inputs(model, args, kwargs)
    params, leaves = list(bound), input_leaves(bound)
    program, failure, violation, rejected = None, None, False, False
    out, err = io.StringIO(), io.StringIO()
    with (isolated(), cap.capturing() as captured, recording_objections() as log, cap.quiet_torch_logs(),
          contextlib.redirect_stdout(out), contextlib.redirect_stderr(err)):
        deciding = (cap.deciding_at_constraints(lambda: decide(guardset_from_capture(captured, bound, [], strict)))
                    if decide is not None else contextlib.nullcontext())
        try:
            with deciding:
                program = torch.export.export(model, tuple(args), dict(kwargs or {}), dynamic_shapes=dynamic_shapes,
                                              strict=strict, **dict(options or {}))
            keep_program(captured, program, args, kwargs)
        except cap.SpecRejected:
            rejected = True
        except Exception as exc:  # noqa: BLE001 - torch's answer, whatever it is, is data
            violation = _is_constraint_violation(exc)
            failure = failure_of(exc)
    sys.stdout.write(without_torch_graph_dump(out.getvalue()))
    sys.stderr.write(without_torch_graph_dump(err.getvalue()))
    failures = [failure] if failure is not None and not violation else []
    guardset = guardset_from_capture(captured, bound, failures, strict)

    def resolve(source: Any) -> Any:
        chain = cap.source_chain(source)
        return resolve_dim(chain, params, leaves) if chain else None

    return Attempt(program, guardset, violation, read_objections(log, resolve), failure, rejected)
