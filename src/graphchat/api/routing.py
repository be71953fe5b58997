"""The app's routers, in reading order (the OpenAPI document's) and in routing order.

FastAPI tries the routers in the order they were included, every route of each (a regex match
apiece, twice for the router that answers) until one matches: the turn routes, the hot path,
are included first. Routers whose routes can match the same path keep their reading order
(tests/api/test_routing.py checks), so no answer changes; the document keeps the reading order.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from graphchat.api import archive, branches, chat, health, models, runs, search, threads, tools
from graphchat.api import metrics as metrics_routes
from graphchat.api.langgraph import runs as langgraph_runs
from graphchat.api.langgraph.routes import ROUTERS as LANGGRAPH_ROUTERS
from graphchat.api.openai import router as openai_routes
from graphchat.api.ui import mount_ui
from graphchat.settings import Settings

# LangGraph's before the native ones: `/threads/search` is no thread id.
READING_ORDER: tuple[APIRouter, ...] = (
    *LANGGRAPH_ROUTERS,
    *(module.router for module in (chat, threads, branches, runs, health, models)),
    openai_routes.router,
    *(module.router for module in (tools, search, archive)),
)
TURN_ROUTERS = (chat.router, langgraph_runs.router, openai_routes.router)
ROUTING_ORDER = (*TURN_ROUTERS, *(r for r in READING_ORDER if r not in TURN_ROUTERS))


def include_routers(app: FastAPI, settings: Settings) -> None:
    """Every router the settings ask for, the turn routes first."""
    for router in ROUTING_ORDER:
        app.include_router(router)
    if settings.observability.metrics_enabled:
        app.include_router(metrics_routes.router)
    if settings.ui.enabled:
        mount_ui(app)


def reading_order() -> list[str]:
    """The routers' paths, in the order the OpenAPI document lists them."""
    paths = (
        route.path_format
        for router in READING_ORDER
        for route in router.routes
        if isinstance(route, APIRoute)
    )
    return list(dict.fromkeys(paths))


def build_route_validators(app: FastAPI) -> None:
    """Build every included route's validators now, once: FastAPI builds them on first use, and
    apps started side by side in one process (tests, rejoin on another server) would race in
    pydantic's schema generation. The OpenAPI document is not needed for it: built on first use,
    it would cost start-up ~170 ms (bench/analysis.md, round 38)."""
    for _ in iter_route_contexts(app.routes):
        pass
