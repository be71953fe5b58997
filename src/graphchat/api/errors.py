"""The one error shape, and the handlers that map every failure onto it.

{"error": {"code": "thread_not_found", "message": "…", "request_id": "…", "details": [...]}}

Under `/v1/` (the OpenAI API) the same errors, with the same statuses, take OpenAI's shape.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from graphchat.api.allow import allowed_methods
from graphchat.api.media import UnsupportedMediaType
from graphchat.api.openai.errors import is_openai_path, openai_error, openai_headers
from graphchat.errors import (
    Conflict,
    GraphchatError,
    InvalidRequest,
    ModelNotFound,
    NotFound,
    NotReady,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
    ValidationFailed,
)
from graphchat.logging import current_request_id

log = structlog.get_logger(__name__)

# Most specific first: the first class an error is an instance of decides its status.
STATUS_BY_ERROR: tuple[tuple[type[GraphchatError], int], ...] = (
    (ValidationFailed, 422),
    (UnsupportedMediaType, 415),
    (ModelNotFound, 400),
    (InvalidRequest, 400),
    (Unauthorized, 401),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
    (StoreUnavailable, 503),
    (NotReady, 503),
    (ProviderUnavailable, 503),
    (ProviderTimeout, 504),
    (ProviderError, 502),
    (GraphchatError, 500),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def status_for(error: GraphchatError) -> int:
    return next(status for cls, status in STATUS_BY_ERROR if isinstance(error, cls))


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "request_id": current_request_id()}
    if details:
        body["details"] = details
    return {"error": body}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    path: str = "",
) -> JSONResponse:
    """The error response for a request to `path` (which decides the shape)."""
    if is_openai_path(path):
        body = openai_error(status, code, message, details)
        return JSONResponse(body, status_code=status, headers=openai_headers(status, headers))
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _headers_for(error: GraphchatError) -> dict[str, str]:
    retry_after = getattr(error, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return headers


def graphchat_error_response(
    exc: GraphchatError, extra_headers: dict[str, str] | None = None, *, path: str = ""
) -> JSONResponse:
    """The response for a domain error (also used by middleware, outside the handlers)."""
    status = status_for(exc)
    if status >= 500:
        log.warning("request_failed", code=exc.code, error=exc.message, status=status)
    headers = {**_headers_for(exc), **(extra_headers or {})}
    return error_response(
        status, exc.code, exc.message, details=exc.details, headers=headers, path=path
    )


async def _graphchat_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GraphchatError)
    return graphchat_error_response(exc, path=request.url.path)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _field_errors(exc)
    where = ", ".join(".".join(d["loc"]) for d in details[:3]) or "request"
    message = f"invalid request: {where}"
    return error_response(422, "validation_error", message, details=details, path=request.url.path)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = {
        404: "no such route",
        405: "method not allowed on this route",
    }.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        # The router names only the first matching route's methods; the document has them all.
        headers["Allow"] = ", ".join(allowed_methods(request.app.openapi(), request.url.path))
    return error_response(
        exc.status_code, code, message, headers=headers or None, path=request.url.path
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GraphchatError, _graphchat_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
