"""The turn routers are tried first; that changes neither which route answers nor the document."""

from __future__ import annotations

import itertools

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from graphchat.api import metrics
from graphchat.api.routing import READING_ORDER, ROUTING_ORDER, TURN_ROUTERS
from graphchat.app import create_app
from graphchat.settings import Settings


def _segments_overlap(one: str, other: str) -> bool:
    """Whether two path segments can be the same text (a `{parameter}` is any segment)."""
    return one == other or one.startswith("{") or other.startswith("{")


def _templates_overlap(one: str, other: str) -> bool:
    """Whether some request path matches both templates (`{name:path}` spans segments)."""
    first, second = one.strip("/").split("/"), other.strip("/").split("/")
    for a, b in itertools.zip_longest(first, second):
        if (a or "").endswith(":path}") or (b or "").endswith(":path}"):
            return True  # the segments before it overlap
        if a is None or b is None or not _segments_overlap(a, b):
            return False
    return True


def _paths(router: APIRouter) -> list[str]:
    return [route.path for route in router.routes if isinstance(route, APIRoute)]


def _overlap(one: APIRouter, other: APIRouter) -> bool:
    return any(_templates_overlap(a, b) for a in _paths(one) for b in _paths(other))


def test_the_overlap_check_can_fail() -> None:
    assert _templates_overlap("/threads/{thread_id}/runs", "/threads/search/runs")
    assert _templates_overlap("/v1/models/{model_id:path}", "/v1/models/a/b")
    assert not _templates_overlap("/threads/{thread_id}/runs", "/threads/{thread_id}/state")
    assert not _templates_overlap("/chat", "/chat/{x}")


def test_routers_that_share_a_path_keep_their_reading_order() -> None:
    assert sorted(map(id, ROUTING_ORDER)) == sorted(map(id, READING_ORDER))
    assert ROUTING_ORDER[: len(TURN_ROUTERS)] == TURN_ROUTERS
    for one, other in itertools.combinations(READING_ORDER, 2):  # `one` is read first
        if _overlap(one, other):
            assert ROUTING_ORDER.index(one) < ROUTING_ORDER.index(other), _paths(one)


def test_the_document_lists_paths_in_reading_order() -> None:
    reading = FastAPI()
    for router in (*READING_ORDER, metrics.router):
        reading.include_router(router)
    expected = list(reading.openapi()["paths"])

    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]

    assert list(app.openapi()["paths"]) == expected


def test_the_document_is_built_on_first_use_not_with_the_app() -> None:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    assert app.openapi_schema is None, "start-up does not need the document (round 38)"

    document = app.openapi()

    assert "/chat" in document["paths"]
    assert app.openapi() is document, "built once"
