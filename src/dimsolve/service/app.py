"""The HTTP layer of ``dimsolve serve`` (FastAPI): routes, body limits, error answers, cache and OpenAPI.

``create_app(limits)`` builds the application; ``serve(host, port, limits)`` runs it with uvicorn.
Request handling never imports torch, sympy or z3: bodies are read and validated here, checks run
in ``service.pool``'s worker processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from dimsolve._version import __version__
from dimsolve.diagnostics.json_models import ReportModel
from dimsolve.service.cache import ReportCache, request_key
from dimsolve.service.errors import ServiceError, limit_exceeded
from dimsolve.service.limits import Limits, check_sizes
from dimsolve.service.models import (
    REQUEST_MODELS,
    CheckRequest,
    ErrorResponse,
    ExplainRequest,
    ExplainResponse,
    HealthResponse,
)
from dimsolve.service.pool import SolverPool
from dimsolve.service.validate import check_guardset

log = logging.getLogger("dimsolve.service")

DRAIN_FACTOR = 16  # an oversize body is read (and dropped) up to this many limits, so the client sees the 413
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "the body is not JSON"},
    408: {"model": ErrorResponse, "description": "the body was not complete within body_timeout_s"},
    413: {"model": ErrorResponse, "description": "the body is larger than max_body_bytes"},
    422: {"model": ErrorResponse, "description": "the request is malformed or over a limit (path and limit say which)"},
}
_SERVER_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "too many checks queued (max_pending), or a worker died: retry"},
    504: {"model": ErrorResponse, "description": "the check took longer than request_timeout_s (a client's "
                                                  "checks beyond its share of the workers queue within it)"},
}


def create_app(limits: Limits | None = None) -> FastAPI:
    """The service as an ASGI app; its worker pool starts with the app's lifespan."""
    limits = limits or Limits()
    state = _State(limits)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.pool = SolverPool(limits.workers, limits.max_pending, limits.request_timeout_s, limits.worker_memory_mb,
                                limits.max_per_client)
        await state.pool.start()
        try:
            yield
        finally:
            state.pool.close()

    app = FastAPI(title="dimsolve", version=__version__, lifespan=lifespan,
                  description="decide torch.export dynamic_shapes specs against a traced GuardSet")
    app.state.dimsolve = state
    _add_error_handlers(app)
    app.add_middleware(_NoCrash)
    _add_routes(app, state)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class _State:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.cache = ReportCache(limits.cache_entries, limits.cache_bytes)
        self.pool: SolverPool | None = None


# --- routes ------------------------------------------------------------------------------------


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def _add_routes(app: FastAPI, state: _State) -> None:
    @app.head("/healthz", include_in_schema=False)  # load balancers that probe with HEAD
    async def healthz_head() -> Response:
        return Response(status_code=200)

    @app.get("/healthz", response_model=HealthResponse)
    async def healthz() -> HealthResponse:
        """The server is up; ``status`` is ``degraded`` while no worker is free (checks queue, and
        may reach request_timeout_s), with the workers free, busy and being started."""
        pool = state.pool.status() if state.pool is not None else None
        free = pool.free if pool is not None else 0
        return HealthResponse(status="ok" if free else "degraded", version=__version__, workers=state.limits.workers,
                              workers_free=free, workers_busy=pool.busy if pool is not None else 0,
                              workers_starting=pool.starting if pool is not None else 0,
                              cache_entries=len(state.cache))

    @app.post("/v1/check", response_model=ReportModel, openapi_extra=_body_schema(CheckRequest),
              responses={**_ERRORS, **_SERVER_ERRORS})
    async def check(request: Request) -> Response:
        """Decide a spec against a GuardSet: the same JSON as ``Report.model_dump_json()``.

        Header ``X-Dimsolve-Cache`` says whether the answer was cached (``hit``), shared with an
        identical check already running (``joined``) or computed (``miss``).
        """
        body = await _read_body(request, state.limits.max_body_bytes, state.limits.body_timeout_s)
        req = _parse(CheckRequest, body)
        check_sizes(state.limits, req.guardset, req.spec)
        check_guardset(req.guardset)
        timeout_ms = state.limits.timeout_ms(req.timeout_ms)
        guardset = req.guardset.model_dump(mode="json", exclude_unset=True)
        spec = req.spec.model_dump(mode="json", exclude_unset=True)
        key = request_key({"guardset": guardset, "spec": spec, "timeout_ms": timeout_ms})
        pool = state.pool
        if pool is None:  # pragma: no cover - the lifespan starts it before any request
            raise ServiceError(503, "overloaded", "the server is starting")
        client = request.client.host if request.client is not None else ""
        text, how = await state.cache.answer(key, lambda: pool.check(guardset, spec, timeout_ms, client))
        return Response(text, media_type="application/json", headers={"X-Dimsolve-Cache": how})

    @app.post("/v1/explain", response_model=ExplainResponse, openapi_extra=_body_schema(ExplainRequest),
              responses={**_ERRORS, 404: {"model": ErrorResponse, "description": "no such diagnostic code"}})
    async def explain(request: Request) -> ExplainResponse:
        """The documentation page of a diagnostic code (``dimsolve explain DS201``)."""
        from dimsolve.diagnostics.codes import CODES
        from dimsolve.diagnostics.explain import UnknownCodeError, explain as explain_code, normalize_code

        req = _parse(ExplainRequest, await _read_body(request, state.limits.max_body_bytes))
        try:
            doc = explain_code(req.code)
        except UnknownCodeError as exc:
            raise ServiceError(404, "unknown_code", str(exc), "code") from None
        code = CODES[normalize_code(req.code)]
        return ExplainResponse(code=code.id, name=code.name, severity=code.severity.value, summary=code.summary,
                               doc=doc)


async def _read_body(request: Request, limit: int, timeout_s: float = 30.0) -> bytes:
    """The body, refused with 413 past ``limit`` bytes whether or not a Content-Length says so, and
    with 408 when it is not complete within ``timeout_s`` (a sender trickling bytes holds a connection)."""
    try:
        return await asyncio.wait_for(_receive_body(request, limit), timeout_s)
    except asyncio.TimeoutError:
        raise limit_exceeded(f"the request body was not complete within {timeout_s:g} s (body_timeout_s)",
                             None, "body_timeout_s", int(timeout_s), status=408) from None


async def _receive_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    over = declared.isdigit() and int(declared) > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            over = True
        if over:
            chunks.clear()
            if size > DRAIN_FACTOR * limit:
                break
            continue
        chunks.append(chunk)
    if over:
        raise limit_exceeded(f"the body is larger than this server's limit of {limit} bytes (max_body_bytes)",
                             None, "max_body_bytes", limit, status=413)
    return b"".join(chunks)


def _parse(model: type[Any], body: bytes) -> Any:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise _validation_error(exc.errors(include_url=False, include_context=False)) from None


def _validation_error(errors: list[Any]) -> ServiceError:
    first = errors[0]
    message = str(first.get("msg", "invalid value"))
    message = message[:1].lower() + message[1:]
    if first.get("type") == "json_invalid":
        return ServiceError(400, "invalid_json", message)
    more = len(errors) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ServiceError(422, "invalid_request", message, loc_path(first.get("loc", ())) or None)


def loc_path(loc: tuple[Any, ...]) -> str:
    """pydantic's ``("guardset", "guards", 3, "expr")`` -> ``guardset.guards[3].expr``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- errors ------------------------------------------------------------------------------------


def _error_response(exc: ServiceError) -> JSONResponse:
    body = ErrorResponse(error=exc.kind, message=exc.message, path=exc.path, limit=exc.limit,
                         limit_value=exc.limit_value)
    return JSONResponse(body.model_dump(mode="json"), status_code=exc.status)


def _add_error_handlers(app: FastAPI) -> None:
    async def service_error(_: Request, exc: Exception) -> JSONResponse:
        error = exc if isinstance(exc, ServiceError) else ServiceError(500, "internal_error", str(exc))
        if error.status >= 500:
            log.warning("refused a check: %s", error)
        return _error_response(error)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 500)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(status, f"http_{status}")
        response = _error_response(ServiceError(status, kind, str(getattr(exc, "detail", exc)).lower()))
        response.headers.update(getattr(exc, "headers", None) or {})
        return response

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        errors = list(exc.errors()) if isinstance(exc, RequestValidationError) else []
        return _error_response(_validation_error(errors or [{"msg": "invalid request"}]))

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


class _NoCrash:
    """Answer an unexpected exception with the 500 error body, and keep the connection open.

    Not ``add_exception_handler(Exception, ...)``: starlette answers with that handler and then
    re-raises, and uvicorn closes the keep-alive connection, so the client's next request on it
    is reset.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except ClientDisconnect:  # the client left before sending its whole body: nobody to answer
            log.info("a client disconnected before its request body was complete")
        except Exception as exc:
            log.exception("internal error while answering a request", exc_info=exc)
            if started:  # part of an answer is out: nothing valid can follow it
                raise
            message = f"internal error: {type(exc).__name__}; this is a bug in dimsolve, please report it"
            await _error_response(ServiceError(500, "internal_error", message))(scope, receive, send)


# --- OpenAPI -----------------------------------------------------------------------------------


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the request models, which routes reading their own body do not declare."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in REQUEST_MODELS:
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(js.pop("$defs", {}))
        components[model.__name__] = js
    app.openapi_schema = schema
    return schema


# --- running -----------------------------------------------------------------------------------


def serve(host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None, *, log_level: str = "info") -> None:
    """Run the service until SIGINT/SIGTERM (uvicorn, one server process, ``limits.workers`` solver processes)."""
    import uvicorn

    from dimsolve.service.pool import preflight_worker

    limits = limits or Limits()
    if limits.workers > 0:  # a worker that cannot start (a memory cap too small) is an error now, not a hang
        preflight_worker(limits.worker_memory_mb)
    config = uvicorn.Config(create_app(limits), host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=5, server_header=False, limit_concurrency=limits.max_connections)
    uvicorn.Server(config).run()

