"""A route for the turn endpoints that answers a plain JSON request without FastAPI's solving.

FastAPI's handler parses the content type, solves the dependency tree and looks up every header
parameter on each request: about 380 Python calls and 0.06 ms of CPU per turn on the test machine
(`bench/analysis.md`, round 26). A turn route takes the request clients send (a JSON body, no
optional header) itself, with the route's own validators, and hands every other request to
FastAPI's handler untouched: an invalid body, another content type or a header parameter get
FastAPI's answer and error object, because FastAPI is what answers them. It serves the route as
declared: graphchat includes the turn routers without dependencies of their own
(`api/routing.py`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from graphchat.api.media import media_type

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# Parameters FastAPI fills from the connection itself; a turn route's endpoint takes none.
_CONNECTION_PARAMS = (
    "request_param_name",
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)


class TurnRoute(APIRoute):
    """An `APIRoute` whose endpoint takes one JSON body, optional headers and dependencies that
    read only the request; any other endpoint is refused when the route is declared."""

    def get_route_handler(self) -> Handler:
        fastapi_handler = super().get_route_handler()
        _check_servable(self)
        plain = _PlainRequest(self)

        async def handle(request: Request) -> Response:
            values = await plain.arguments(request)
            if values is None:
                return await fastapi_handler(request)
            for dependency in self.dependant.dependencies:
                value = await dependency.call(request)  # type: ignore[misc]
                if dependency.name is not None:
                    values[dependency.name] = value
            return await plain.respond(await self.endpoint(**values))

        return handle


class _PlainRequest:
    """What a route needs to take a plain request itself: its body field, its headers' names
    and defaults, and how FastAPI would serialize a result that is not a response."""

    def __init__(self, route: APIRoute) -> None:
        self._body = route.body_field
        self._header_defaults = {
            param.name: param.field_info.default for param in route.dependant.header_params
        }
        # FastAPI looks a header up by its alias, or by its name with `_` read as `-`: both.
        self._header_names = frozenset(
            name.encode("latin-1")
            for param in route.dependant.header_params
            for name in (param.alias.lower(), param.alias.lower().replace("_", "-"))
        )
        self._route = route
        self._dump_json = route.response_field is not None and isinstance(
            route.response_class, DefaultPlaceholder
        )

    async def arguments(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's body and header arguments, or None for a request FastAPI answers."""
        assert self._body is not None
        if not self._plain_headers(request.scope["headers"]):
            return None
        try:
            raw = await request.body()
        except HTTPException:
            raise  # the body limit's 408 and 413: FastAPI's handler passes them on as they are
        except Exception as exc:
            # What FastAPI's handler raises then; it could not read the body a second time.
            raise HTTPException(400, "There was an error parsing the body") from exc
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except Exception:
            return None
        body, errors = self._body.validate(data, {}, loc=("body",))
        if errors:
            return None
        return {**self._header_defaults, self._body.name: body}

    def _plain_headers(self, headers: list[tuple[bytes, bytes]]) -> bool:
        media = None
        for name, value in headers:
            if name in self._header_names:
                return False
            if name == b"content-type" and media is None:
                media = value
        return media_type(media) == "application/json"

    async def respond(self, result: Any) -> Response:
        """The result as FastAPI's handler would send it."""
        if isinstance(result, Response):
            return result
        route = self._route
        content = await serialize_response(
            field=route.response_field,
            response_content=result,
            include=route.response_model_include,
            exclude=route.response_model_exclude,
            by_alias=route.response_model_by_alias,
            exclude_unset=route.response_model_exclude_unset,
            exclude_defaults=route.response_model_exclude_defaults,
            exclude_none=route.response_model_exclude_none,
            dump_json=self._dump_json,
        )
        status = route.status_code or 200
        if self._dump_json:
            return Response(content, status_code=status, media_type="application/json")
        response_class = route.response_class
        if isinstance(response_class, DefaultPlaceholder):
            response_class = response_class.value
        return response_class(content, status_code=status)


def _check_servable(route: APIRoute) -> None:
    """Refuse, when the route is declared, an endpoint a plain request cannot be given."""
    dependant = route.dependant
    problems = [
        f"a {kind} parameter" for kind in ("path", "query", "cookie") if _params(dependant, kind)
    ]
    if len(dependant.body_params) != 1 or getattr(
        dependant.body_params[0].field_info, "embed", False
    ):
        problems.append("other than one body parameter, not embedded")
    problems += [
        f"the parameter {name!r}" for name in _CONNECTION_PARAMS if getattr(dependant, name)
    ]
    problems += [
        f"the header {param.alias!r} without a default"
        for param in dependant.header_params
        if param.field_info.is_required()
    ]
    problems += [
        f"the dependency {dependency.call!r}"
        for dependency in dependant.dependencies
        if not _reads_request_only(dependency)
    ]
    if not is_body_allowed_for_status_code(route.status_code):
        problems.append(f"the status code {route.status_code}, which has no body")
    if problems:
        raise TypeError(f"TurnRoute cannot serve {route.path}: it takes {'; '.join(problems)}")


def _params(dependant: Dependant, kind: str) -> list[Any]:
    return getattr(dependant, f"{kind}_params")  # type: ignore[no-any-return]


def _reads_request_only(dependant: Dependant) -> bool:
    """An async dependency whose only parameter is the request."""
    kinds = ("path", "query", "header", "cookie", "body")
    return (
        inspect.iscoroutinefunction(dependant.call)
        and dependant.request_param_name is not None
        and not dependant.dependencies
        and not any(_params(dependant, kind) for kind in kinds)
    )
