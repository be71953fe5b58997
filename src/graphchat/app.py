"""`create_app(settings)`: the FastAPI application, with everything opened in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from graphchat import __version__
from graphchat.api import branches, chat, health, models, runs, threads, tools
from graphchat.api import metrics as metrics_routes
from graphchat.api.access import install_access_control
from graphchat.api.body_limit import BodyLimitMiddleware, BodyLimits
from graphchat.api.errors import install_error_handlers
from graphchat.api.headers import install_headers
from graphchat.api.langgraph.routes import ROUTERS as LANGGRAPH_ROUTERS
from graphchat.api.metrics import MetricsMiddleware
from graphchat.api.middleware import RequestContextMiddleware
from graphchat.api.openai import router as openai_routes
from graphchat.api.openapi import install_openapi
from graphchat.api.ui import mount_ui
from graphchat.logging import configure_logging
from graphchat.observability.metrics import Metrics
from graphchat.services import Services
from graphchat.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    metrics = Metrics()  # per app, so several apps (tests, workers) never share counters

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.open(settings, metrics)
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
    app.state.metrics = metrics
    install_error_handlers(app)
    install_access_control(app, settings, metrics)  # innermost: rate limit, then auth
    limits = BodyLimits(
        max_bytes=settings.max_body_bytes,
        read_timeout=settings.body_read_timeout_seconds,
        discard_max_bytes=settings.body_discard_max_bytes,
    )
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    install_headers(app, settings)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware)
    for router in LANGGRAPH_ROUTERS:  # before the native ones: `/threads/search` is no thread id
        app.include_router(router)
    for module in (chat, threads, branches, runs, health, models, openai_routes, tools):
        app.include_router(module.router)
    if settings.metrics_enabled:
        app.include_router(metrics_routes.router)
    if settings.ui_enabled:
        mount_ui(app)
    install_openapi(app, settings)
    # FastAPI builds each route's validators on first use; doing it here, once, keeps apps
    # started side by side in one process from racing in pydantic's schema generation.
    app.openapi()
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory graphchat.app:create_app_from_env`."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings)
