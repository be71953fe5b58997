"""The one pure ASGI middleware for what every request only observes.

Per request, with a single wrapper of `send`: an id bound to every log line and returned as
`X-Request-ID`, the security headers, Prometheus counts and timings by route template, open
event streams, one access-log line, and a last-resort 500 in the error shape; a 503 for a
request the server's shutdown cut, and one line for a start-up it refused.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphchat.api.errors import error_response
from graphchat.api.headers import SecurityHeaders
from graphchat.api.metrics import RouteTemplates
from graphchat.errors import GraphchatError
from graphchat.observability.metrics import Metrics

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = structlog.get_logger("graphchat.access")
# When the configured level is above `info` (`warning` in production setups and the benchmarks),
# asking the standard library first skips structlog's chain, which drops the line only after
# building the event.
_access_level = logging.getLogger("graphchat.access")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.match(candidate) else None
    return None


def _is_event_stream(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/event-stream")
        for name, value in headers
    )


def _one_line_startup_failure(send: Send) -> Send:
    """Start-up refused for a reason we name (a database that does not answer): the server's
    log gets our one-line message where Starlette sends the traceback of its whole chain."""

    async def sending(message: Message) -> None:
        # Starlette sends the failure from the `except` block handling it.
        failure = sys.exc_info()[1]
        if message["type"] == "lifespan.startup.failed" and isinstance(failure, GraphchatError):
            message = {**message, "message": f"start-up failed: {failure.message}"}
        await send(message)

    return sending


class _Response:
    """What the middleware saw of the response."""

    __slots__ = ("started", "status", "streaming")

    def __init__(self) -> None:
        self.status = 500  # if the app raises before answering
        self.started = False
        self.streaming = False


class ObservingMiddleware:
    """Request id, security headers, metrics and access log, around everything else."""

    def __init__(self, app: ASGIApp, metrics: Metrics, headers: SecurityHeaders) -> None:
        self.app = app
        self._metrics = metrics
        self._headers = headers
        self._templates = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                send = _one_line_startup_failure(send)
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        response = _Response()
        id_header = (b"x-request-id", request_id.encode())

        async def observing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent = list(message.get("headers", ()))
                # The app's own headers tell a stream: ours, added below, never do.
                streaming = _is_event_stream(sent)
                headers = self._headers.complete(scope["path"], sent)
                headers.append(id_header)
                message["headers"] = headers
                response.status, response.started = message["status"], True
                if streaming:
                    response.streaming = True
                    self._metrics.active_streams.inc()
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        except asyncio.CancelledError:
            # Only the server cancels a request's own task: its shutdown grace ran out. An answer
            # in our shape ends the request, where uvicorn would log a traceback and a bare 500.
            log.warning("request_cut_at_shutdown", method=scope["method"], path=scope["path"])
            if not response.started:
                await self._shutting_down(scope)(scope, receive, observing_send)
        except Exception:
            log.exception("unhandled_error")
            if not response.started:
                await self._internal_error(scope)(scope, receive, observing_send)
        finally:
            self._record(scope, response, time.perf_counter() - started)

    @staticmethod
    def _internal_error(scope: Scope) -> ASGIApp:
        return error_response(
            500, "internal_error", "internal server error; see the server log", path=scope["path"]
        )

    @staticmethod
    def _shutting_down(scope: Scope) -> ASGIApp:
        return error_response(
            503,
            "shutting_down",
            "the server is shutting down and could not finish this request; retry it",
            headers={"Retry-After": "1", "Connection": "close"},
            path=scope["path"],
        )

    def _record(self, scope: Scope, response: _Response, seconds: float) -> None:
        if response.streaming:
            self._metrics.active_streams.dec()
        template = self._templates.match(scope)
        self._metrics.observe_request(template, scope["method"], response.status, seconds)
        if _access_level.isEnabledFor(logging.INFO):
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=response.status,
                latency_ms=round(seconds * 1000, 3),
            )
