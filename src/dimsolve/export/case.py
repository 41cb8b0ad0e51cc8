"""Declared shape cases (``@dimsolve.case``) and ``dimsolve.assert_valid`` for test suites.

A case is a function that returns what to check: ``(model, args, kwargs, dynamic_shapes)`` or a
``dimsolve.Case``. ``dimsolve lint`` and ``pytest --dimsolve`` find the decorated functions in the
case files a project declares (``[tool.dimsolve] cases`` in ``pyproject.toml``) and run them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from dimsolve.export.api import Case, check_dynamic_shapes
from dimsolve.export.report import Report

F = TypeVar("F", bound=Callable[..., Any])

CASE_MARKER = "__dimsolve_case__"


@dataclass(frozen=True, slots=True)
class CaseOptions:
    """What the decorator recorded: ``strict`` traces with strict (dynamo) export."""

    strict: bool = False


class CaseReturnError(TypeError):
    """A case function returned something that is not a case; the message says what it must return."""


@overload
def case(fn: F) -> F: ...


@overload
def case(fn: None = None, *, strict: bool = False) -> Callable[[F], F]: ...


def case(fn: Callable[..., Any] | None = None, *, strict: bool = False) -> Any:
    """Declare a shape case for ``dimsolve lint`` and ``pytest --dimsolve``; the function is unchanged.

    >>> @dimsolve.case                                   # doctest: +SKIP
    ... def attention_varlen():
    ...     batch, seq = Dim("batch"), Dim("seq")
    ...     x = torch.randn(2, 16, 64)
    ...     return Attention(), (x,), {}, {"x": (batch, seq, 64)}
    """

    def mark(f: F) -> F:
        setattr(f, CASE_MARKER, CaseOptions(strict=strict))
        return f

    return mark if fn is None else mark(fn)


def case_options(obj: Any) -> CaseOptions | None:
    """The options of a ``@dimsolve.case`` function, None for anything else."""
    options = getattr(obj, CASE_MARKER, None)
    return options if isinstance(options, CaseOptions) and callable(obj) else None


def as_case(result: Any, name: str, options: CaseOptions | None = None) -> Case:
    """Normalise what case function ``name`` returned; anything else is a ``CaseReturnError``."""
    strict = options.strict if options is not None else False
    if isinstance(result, Case):
        return Case(result.model, tuple(result.args), dict(result.kwargs or {}), result.dynamic_shapes,
                    result.strict or strict)
    if isinstance(result, tuple) and len(result) == 4:
        model, args, kwargs, dynamic_shapes = result
        if isinstance(args, (tuple, list)) and (kwargs is None or isinstance(kwargs, Mapping)):
            return Case(model, tuple(args), dict(kwargs or {}), dynamic_shapes, strict)
    got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
    raise CaseReturnError(f"{name}() must return (model, args, kwargs, dynamic_shapes) or a dimsolve.Case, got {got}")


def assert_valid(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None = None, *, dynamic_shapes: Any,
                 strict: bool = False) -> Report:
    """``check_dynamic_shapes``, raising ``AssertionError`` with the text report when the spec is not valid.

    >>> def test_export_spec():                                                    # doctest: +SKIP
    ...     dimsolve.assert_valid(Model(), (x, y), dynamic_shapes={"x": (dx,), "y": (dx,)})
    """
    __tracebackhide__ = True  # pytest: show the report, not dimsolve's frames
    report = check_dynamic_shapes(model, args, kwargs, dynamic_shapes=dynamic_shapes, strict=strict)
    if not report.ok:
        raise AssertionError(str(report))
    return report
