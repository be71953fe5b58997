"""`create_app(settings)`: the FastAPI application, with everything opened in its lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from graphchat import __version__
from graphchat.api.access import install_access_control
from graphchat.api.body_limit import BodyLimitMiddleware, BodyLimits
from graphchat.api.errors import install_error_handlers
from graphchat.api.headers import install_cors, security_headers
from graphchat.api.middleware import ObservingMiddleware
from graphchat.api.openapi import install_openapi
from graphchat.api.routing import build_route_validators, include_routers, reading_order
from graphchat.observability.metrics import Metrics
from graphchat.security.auth import Authenticator
from graphchat.settings import Settings
from graphchat.wiring import open_services

if TYPE_CHECKING:
    from graphchat.service.chat import ChatService

# FastAPI's native OpenTelemetry, which graphchat does not use (its metrics are Prometheus'): on,
# each request asks OpenTelemetry whether a global provider is configured (≈ 8 µs in-process).
_NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


def create_app(settings: Settings, *, once_loaded: Callable[[], None] | None = None) -> FastAPI:
    """The app; `once_loaded` is called once everything a turn runs is loaded (the server
    process freezes its heap then, `serving.freeze_loaded_heap`)."""
    metrics = Metrics()  # per app, so several apps (tests, workers) never share counters
    authenticator = None
    if settings.security.auth == "on":
        authenticator = Authenticator(settings.security.static_keys())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await open_services(settings, metrics)
        if authenticator is not None:
            authenticator.use_keys(services.store.api_keys)
        app.state.services = services
        if once_loaded is not None:
            services.background.append(_call_once_loaded(services.chat, once_loaded))
        try:
            yield
        finally:
            await services.close()
            metrics.close()

    app = FastAPI(
        title="graphchat",
        version=__version__,
        description="A self-hosted chat-agent service around a LangGraph agent.",
        lifespan=lifespan,
        telemetry=_NO_TELEMETRY,
    )
    install_error_handlers(app)
    # Innermost: rate limit, then auth.
    install_access_control(app, settings, metrics, authenticator)
    limits = BodyLimits(
        max_bytes=settings.limits.max_body_bytes,
        read_timeout=settings.limits.body_read_timeout_seconds,
        discard_max_bytes=settings.limits.body_discard_max_bytes,
    )
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    install_cors(app, settings.security.cors_origins)
    # Outermost: it sees every response, CORS preflights and last-resort 500s included.
    app.add_middleware(
        ObservingMiddleware, metrics=metrics, headers=security_headers(app, settings)
    )
    include_routers(app, settings)
    install_openapi(app, settings, reading_order())
    build_route_validators(app)
    return app


def _call_once_loaded(chat: ChatService, call: Callable[[], None]) -> asyncio.Task[None]:
    async def when_loaded() -> None:
        await chat.loaded()
        call()

    return asyncio.create_task(when_loaded(), name="once-loaded")
