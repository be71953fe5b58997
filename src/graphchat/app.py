"""`create_app(settings)`: the FastAPI application, with everything opened in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from graphchat import __version__
from graphchat.api import archive, branches, chat, health, models, runs, search, threads, tools
from graphchat.api import metrics as metrics_routes
from graphchat.api.access import install_access_control
from graphchat.api.body_limit import BodyLimitMiddleware, BodyLimits
from graphchat.api.errors import install_error_handlers
from graphchat.api.headers import install_cors, security_headers
from graphchat.api.langgraph.routes import ROUTERS as LANGGRAPH_ROUTERS
from graphchat.api.middleware import ObservingMiddleware
from graphchat.api.openai import router as openai_routes
from graphchat.api.openapi import install_openapi
from graphchat.api.ui import mount_ui
from graphchat.logging import configure_logging
from graphchat.observability.metrics import Metrics
from graphchat.security.auth import Authenticator
from graphchat.settings import Settings
from graphchat.wiring import open_services

_ROUTES = (chat, threads, branches, runs, health, models, openai_routes, tools, search, archive)


def _include_routes(app: FastAPI, settings: Settings) -> None:
    for router in LANGGRAPH_ROUTERS:  # before the native ones: `/threads/search` is no thread id
        app.include_router(router)
    for module in _ROUTES:
        app.include_router(module.router)
    if settings.observability.metrics_enabled:
        app.include_router(metrics_routes.router)
    if settings.ui.enabled:
        mount_ui(app)


def create_app(settings: Settings) -> FastAPI:
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
        try:
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="graphchat",
        version=__version__,
        description="A self-hosted chat-agent service around a LangGraph agent.",
        lifespan=lifespan,
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
    _include_routes(app, settings)
    install_openapi(app, settings)
    # FastAPI builds each route's validators on first use; doing it here, once, keeps apps
    # started side by side in one process from racing in pydantic's schema generation.
    app.openapi()
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory graphchat.app:create_app_from_env`."""
    settings = Settings()
    configure_logging(settings.observability)
    return create_app(settings)
