"""`GET /metrics` (Prometheus text format), and the route templates requests are counted by."""

from __future__ import annotations

import re

from fastapi import APIRouter, FastAPI, Response
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, compile_path
from starlette.types import Scope

from graphchat.api.deps import ServicesDep
from graphchat.observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"])
UNMATCHED = "<unmatched>"


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics of this process."""
    registry, router = services.metrics, services.router
    for circuit in router.circuits():
        registry.set_breaker_state(circuit.name, circuit.state)  # read at scrape time
    for backend, state in router.model_processes():
        registry.set_model_process(backend, state.status, state.restarts)
    return Response(registry.render(), media_type=CONTENT_TYPE)


class RouteTemplates:
    """Maps a request path to its route template, so metric labels stay few and stable.

    Built on first use from every route the app serves, included routers' too (FastAPI's
    `iter_route_contexts` gives their paths as included), and mounts (UI assets); the UI page is
    `/`.
    """

    def __init__(self) -> None:
        self._exact: dict[str, str] | None = None
        self._patterns: list[tuple[re.Pattern[str], str]] = []

    def _build(self, app: FastAPI) -> dict[str, str]:
        templates = {"/"}
        for route in iter_route_contexts(app.routes):
            if isinstance(route.original_route, Mount):
                templates.add(f"{route.path}/{{path}}")
            elif route.path_format is not None:
                templates.add(route.path_format)
        exact = {t: t for t in templates if "{" not in t}
        dynamic = sorted(templates - set(exact), key=lambda t: (t.count("{"), t))
        self._patterns = [(compile_path(t)[0], t) for t in dynamic]
        return exact

    def match(self, scope: Scope) -> str:
        if self._exact is None:
            self._exact = self._build(scope["app"])
        path: str = scope["path"]
        if path in self._exact:
            return path
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template
        return UNMATCHED
