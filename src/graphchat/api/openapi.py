"""The OpenAPI document, made to match the behaviour: every error status a route can answer,
with the error object's schema, and the limits that come from settings.

The common statuses are added to every operation here, in one place, so a new router gets them
without declaring anything; a route declares only what is its own (409, a 400's meaning) and the
schema-valid rejections that depend on state, as `openapi_extra={STATE_DEPENDENT: [codes]}`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from graphchat.api.auth import public_routes
from graphchat.api.openai.errors import is_openai_path
from graphchat.api.schemas import ErrorOut
from graphchat.service.tool_use import enabled_tool_names
from graphchat.settings import Settings

STATE_DEPENDENT = "x-state-dependent-errors"
PAGE_SIZE = "x-page-size"  # marks a parameter bounded by `max_page_size` (removed once applied)
# Apps in one process (tests, a second server) may ask for their documents at once, from their
# own threads: pydantic's schema generation for the same models must not run twice at a time.
_BUILDING = threading.Lock()
_ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
_OPENAI_ERROR_REF = {"$ref": "#/components/schemas/OpenAIErrorOut"}
# `/v1/*` answers errors in OpenAI's shape (api/openai/errors.py), which its SDKs unwrap.
_OPENAI_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_BODY_METHODS = frozenset({"post", "put", "patch"})
_REQUEST_ID_PARAMETER = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Echoed back and logged; an unusable value is replaced by a generated one.",
    "schema": {"type": "string"},
}


def state_dependent(*codes: str) -> dict[str, Any]:
    """`openapi_extra` naming error codes a schema-valid request may get, depending on state."""
    return {STATE_DEPENDENT: list(codes)}


def _common_errors(
    path: str, method: str, operation: dict[str, Any], settings: Settings
) -> dict[int, str]:
    """The statuses the middleware and shared dependencies may answer on this operation."""
    statuses = {
        408: "The request body did not arrive in time (`request_timeout`)",
        413: "The request body is too large (`payload_too_large`)",
        500: "An unexpected failure (`internal_error`); the server log has the request id",
        503: "The database is unavailable (`database_unavailable`) or the server is not ready",
    }
    if settings.security.rate_limit and (
        settings.security.rate_limit_scope == "all" or method == "post"
    ):
        statuses[429] = "Rate limit exceeded (`rate_limited`); see `Retry-After`"
    if operation.get("parameters") or "requestBody" in operation:
        statuses[400] = "A request the server cannot serve as sent (see `error.code`)"
        statuses[422] = "A field is missing, of the wrong type or out of range (`validation_error`)"
    if method in _BODY_METHODS and "requestBody" in operation:
        statuses[415] = "The body is not JSON (`unsupported_media_type`)"
    if "{" in path:
        statuses[404] = "No such resource, or it belongs to another owner (`*_not_found`)"
    return statuses


def _declare_errors(path: str, method: str, operation: dict[str, Any], settings: Settings) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, description in _common_errors(path, method, operation, settings).items():
        responses.setdefault(str(status), {"description": description})
    shape = _OPENAI_ERROR_REF if is_openai_path(path) else _ERROR_REF
    for key, response in responses.items():
        if key.isdigit() and int(key) >= 400:
            response["content"] = {"application/json": {"schema": shape}}
    codes = operation.get(STATE_DEPENDENT)
    if codes:
        operation["description"] = (
            operation.get("description", "")
            + "\n\nDepending on server state, a valid request may also get: "
            + ", ".join(f"`{code}`" for code in codes)
            + "."
        ).strip()


def _declare_headers(operation: dict[str, Any]) -> None:
    """Headers are absent or strings, never null; every route takes an `X-Request-ID`."""
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    for parameter in parameters:
        branches = parameter["schema"].get("anyOf", [])
        if parameter["in"] == "header" and {"type": "null"} in branches:
            (value,) = [branch for branch in branches if branch != {"type": "null"}]
            parameter["schema"] = {**parameter["schema"], **value}
            parameter["schema"].pop("anyOf")
    parameters.append(dict(_REQUEST_ID_PARAMETER))


def _declare_security(document: dict[str, Any], settings: Settings) -> None:
    """With auth on, every route but the public ones takes a key (Bearer or `X-API-Key`)."""
    if settings.security.auth != "on":
        return
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    public = public_routes(settings)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not public.admit({"method": method.upper(), "path": path}):
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
                operation["responses"]["401"] = {
                    "description": "Missing, unknown or revoked API key (`unauthorized`)"
                }


def _integers(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The integer branches of a (possibly nullable) schema, to bound in place."""
    return [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") == "integer"]


def _declare_limits(document: dict[str, Any], settings: Settings, tool_names: list[str]) -> None:
    """Limits set by settings, which static models cannot know."""
    schemas = document["components"]["schemas"]
    schemas["ChatIn"]["properties"]["message"]["maxLength"] = settings.limits.max_message_chars
    schemas["MessageEditIn"]["properties"]["content"]["maxLength"] = (
        settings.limits.max_message_chars
    )
    for name in ("ChatIn", "Configurable", "RegenerateIn", "MessageEditIn"):
        for branch in _integers(schemas[name]["properties"]["max_tokens"]):
            branch["maximum"] = settings.limits.max_tokens_limit
    for name in ("ChatIn", "Configurable"):
        tools = schemas[name]["properties"]["tools"]["anyOf"][0]  # the list branch
        tools["items"] = {"type": "string", "enum": tool_names}
    for branch in schemas["InputMessage"]["properties"]["content"]["anyOf"]:
        if branch.get("type") == "string":
            branch["maxLength"] = settings.limits.max_message_chars
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", ()):
                if parameter["schema"].pop(PAGE_SIZE, False):
                    for branch in _integers(parameter["schema"]):
                        branch["maximum"] = settings.limits.max_page_size


def _in_order(paths: dict[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """`paths` in `order` (the app tries routes in another); others after, as they came."""
    rank = {path: index for index, path in enumerate(order)}
    return dict(sorted(paths.items(), key=lambda item: rank.get(item[0], len(rank))))


def build_openapi(
    app: FastAPI, settings: Settings, tool_names: list[str], order: Sequence[str] = ()
) -> dict[str, Any]:
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    document["paths"] = _in_order(document["paths"], order)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs"))
    schemas["ErrorOut"] = error
    schemas["OpenAIErrorOut"] = _OPENAI_ERROR
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _declare_security(document, settings)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            _declare_errors(path, method, operation, settings)
            _declare_headers(operation)
    _declare_limits(document, settings, tool_names)
    return document


def install_openapi(app: FastAPI, settings: Settings, order: Sequence[str] = ()) -> None:
    """Serve the honest document at `/openapi.json` (built once, on first use), its paths in
    `order`."""

    def openapi() -> dict[str, Any]:
        with _BUILDING:
            if app.openapi_schema is None:
                tool_names = enabled_tool_names(settings.tools.enabled)
                app.openapi_schema = build_openapi(app, settings, tool_names, order)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
