"""The service's request and response bodies (pydantic v2), published at ``/openapi.json``.

Requests mirror the two wire forms the library already reads: the GuardSet of
``guards.serialize`` (what ``GuardSet.model_dump_json()`` writes) and the spec of
``dims.spec_json``. These models check the shape of a request (types, required and unknown keys,
number ranges) up front, with the JSON path of any error; the library readers then check the
meaning (guard expressions, roots, ranks). The check answer is ``ReportModel``, the JSON report's
own model, and every body carries ``schema_version``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, StrictBool, StrictInt, StrictStr, WithJsonSchema

SCHEMA_VERSION: Literal[1] = 1
I64_MAX = 2**63 - 1
MAX_PATH_KEYS = 64  # an input path: the parameter name and up to 63 container keys

Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=I64_MAX)]
Size = Annotated[StrictInt, Field(ge=0, le=I64_MAX)]


def _key(value: Any) -> str | int:
    # one validator instead of a Union, so an error's path has no union-member names in it
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= I64_MAX):
        return value
    raise ValueError("a path key is a string (argument name, dict key) or a non-negative integer (index)")


Key = Annotated[
    Union[str, int],
    PlainValidator(_key),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0, "maximum": I64_MAX}]}),
]
def _exactly_an_int(value: Any) -> Any:
    """``true`` and ``1.0`` equal 1 in Python; a version is the JSON integer itself."""
    if type(value) is not int:
        raise ValueError("schema_version must be the integer 1")
    return value


Version = Annotated[Literal[1], BeforeValidator(_exactly_an_int)]


class _Wire(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# --- the GuardSet wire form (guards.serialize, schema version 1) -------------------------------


class DimPathWire(_Wire):
    """One dimension of one input: ``{"input": ["x"], "axis": 0}``; axis -1 is an int input's value."""

    input: Annotated[list[Key], Field(min_length=1, max_length=MAX_PATH_KEYS)]
    axis: Annotated[StrictInt, Field(ge=-1, le=63)]  # -1: dims.model.SCALAR_AXIS (a test keeps them equal)


class OriginWire(_Wire):
    """The model source line a guard came from."""

    file: StrictStr
    line: Int64
    function: StrictStr = ""
    code: StrictStr = ""
    op: StrictStr = ""


class SymbolWire(_Wire):
    """A symbol and the input dimensions it is the size of (none for an unbacked symbol)."""

    name: StrictStr
    paths: list[DimPathWire]
    example: Int64 | None
    backed: StrictBool
    # unbacked symbols only (guards.serialize writes them): the user's name, where it was made, its range
    label: StrictStr = ""
    origin: OriginWire | None = None
    lower: Int64 | None = None
    upper: Int64 | None = None


class ValueRangeWire(_Wire):
    input: StrictStr
    lower: Int64
    upper: Int64
    stated: StrictBool


class IndexWire(_Wire):
    """What an index_bound guard checks: index values at ``op`` stay inside ``table`` (size ``size``)."""

    op: StrictStr
    table: StrictStr
    size: StrictStr
    lower: StrictStr | None = None
    upper: StrictStr | None = None
    builder: OriginWire | None = None
    values: list[ValueRangeWire] = []


class GuardWire(_Wire):
    expr: StrictStr = Field(description="a guard in dimsolve's expression grammar (guards.codec), e.g. Eq(s0, s1)")
    kind: Literal["guard", "runtime_assert", "data_dependent", "index_bound"]  # GuardKind (a test keeps them equal)
    origin: OriginWire | None
    index: IndexWire | None = None  # index_bound guards: dimsolve's own index check (guards.serialize)


class SpecializationWire(_Wire):
    path: DimPathWire
    value: Size
    reason: StrictStr = ""


class FailureWire(_Wire):
    message: StrictStr
    expr: StrictStr | None
    origin: OriginWire | None
    kind: StrictStr
    value: StrictStr | None = None  # how the example inputs decide ``expr``


class GuardSetWire(_Wire):
    """A traced GuardSet: ``dimsolve.trace_guards(...).model_dump_json()``."""

    schema_version: Version
    torch_version: StrictStr
    strict: StrictBool
    symbols: list[SymbolWire]
    guards: list[GuardWire]
    specializations: list[SpecializationWire]
    failures: list[FailureWire]
    assumptions: dict[StrictStr, dict[StrictStr, StrictBool]] = {}
    meta: dict[StrictStr, StrictStr] = {}


# --- the spec wire form (dims.spec_json, schema version 1) -------------------------------------


class RootWire(_Wire):
    """A named Dim: ``Dim("dx", min=2, max=64)`` is ``{"min": 2, "max": 64}``; null max is unbounded."""

    min: Size | None = None
    max: Size | None = None


class DimWire(_Wire):
    """What the spec says about one dimension (fields that do not belong to ``kind`` are absent or null)."""

    input: Annotated[list[Key], Field(min_length=1, max_length=MAX_PATH_KEYS,
                                      description='["x"], or ["inputs", 0, "a"] inside containers')]
    axis: Annotated[StrictInt, Field(ge=0, le=63)]
    kind: Literal["static", "root", "derived", "auto", "dynamic"]
    example: Size | None = None
    value: Size | None = None
    root: StrictStr | None = None
    coeff: Annotated[StrictInt, Field(ge=1, le=I64_MAX)] | None = None
    offset: Annotated[StrictInt, Field(ge=-I64_MAX, le=I64_MAX)] | None = None
    min: Size | None = None
    max: Size | None = None


class SpecWire(_Wire):
    """A ``dynamic_shapes`` spec by input path (see docs/service.md)."""

    schema_version: Version
    params: list[StrictStr] | None = None
    roots: dict[StrictStr, RootWire] = {}
    dims: list[DimWire]


# --- requests ------------------------------------------------------------------------------------


class CheckRequest(_Wire):
    """``POST /v1/check``: decide ``spec`` against ``guardset``."""

    schema_version: Version = SCHEMA_VERSION
    guardset: GuardSetWire
    spec: SpecWire
    timeout_ms: Annotated[StrictInt, Field(ge=1, le=3_600_000)] | None = Field(
        default=None, description="solver budget per query in ms (capped by the server); a timeout is DS901"
    )


class ExplainRequest(_Wire):
    """``POST /v1/explain``: the documentation page of a diagnostic code."""

    schema_version: Version = SCHEMA_VERSION
    code: Annotated[StrictStr, Field(max_length=32, description="e.g. DS201")]


# --- responses -------------------------------------------------------------------------------


class ExplainResponse(BaseModel):
    schema_version: int = SCHEMA_VERSION
    code: str
    name: str
    severity: str
    summary: str
    doc: str = Field(description="the code's documentation page (markdown)")


class HealthResponse(BaseModel):
    schema_version: int = SCHEMA_VERSION
    status: Literal["ok", "degraded"] = Field("ok", description="degraded: no worker is free, checks queue")
    version: str
    workers: int
    workers_free: int = 0
    workers_busy: int = 0
    workers_starting: int = Field(0, description="replacing workers killed at request_timeout_s or crashed")
    cache_entries: int


class ErrorResponse(BaseModel):
    """Any refused request. ``error`` is a stable word; ``limit`` names the server limit that was hit."""

    schema_version: int = SCHEMA_VERSION
    error: str = Field(description="invalid_json, invalid_request, limit_exceeded, unknown_code, not_found, "
                                   "method_not_allowed, overloaded, worker_crashed, internal_error")
    message: str
    path: str | None = Field(default=None, description="JSON path of the offending value: guardset.guards[3].expr")
    limit: str | None = Field(default=None, description="the limit that was hit, e.g. max_guards")
    limit_value: int | None = None


REQUEST_MODELS: tuple[type[BaseModel], ...] = (CheckRequest, ExplainRequest)
