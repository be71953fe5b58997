"""Request bodies of the LangGraph routes: JSON whatever the declared content type.

agent-chat-ui's proxy forwards every JSON body as `text/plain`. Routes of a router with
`route_class=JsonBodyRoute` read such a body as the JSON it is; their bodies are declared as
usual, so the OpenAPI document shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

_PLAIN = "text/plain"


def _as_json(request: Request) -> Request:
    """The request with a `text/plain` body declared as JSON (others unchanged)."""
    declared = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if declared != _PLAIN:
        return request
    headers = [(name, value) for name, value in request.scope["headers"] if name != b"content-type"]
    headers.append((b"content-type", b"application/json"))
    return Request({**request.scope, "headers": headers}, request.receive)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class JsonBodyRoute(APIRoute):
    """A route that reads a `text/plain` body as JSON."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await self.serve(handler, _as_json(request))

        return handle

    async def serve(self, handler: Handler, request: Request) -> Response:
        """Answer `request` (its body read as JSON) with FastAPI's `handler`."""
        return await handler(request)
