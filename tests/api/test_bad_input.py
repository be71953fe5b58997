"""Bad input gets the documented error object and status, and changes nothing stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from support.db import snapshot
from support.server import LiveServer


def _assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text


CHAT_BODIES: list[tuple[str, Any]] = [
    ("message missing", {}),
    ("message wrong type", {"message": 42}),
    ("message empty", {"message": ""}),
    ("temperature too high", {"message": "x", "temperature": 2.5}),
    ("temperature as text", {"message": "x", "temperature": "hot"}),
    ("top_p negative", {"message": "x", "top_p": -0.1}),
    ("max_tokens zero", {"message": "x", "max_tokens": 0}),
    ("max_tokens above the server bound", {"message": "x", "max_tokens": 10**7}),
    ("max_tokens float", {"message": "x", "max_tokens": 1.5}),
    ("seed negative", {"message": "x", "seed": -1}),
    ("stop not strings", {"message": "x", "stop": [1, 2]}),
    ("bad thread id", {"message": "x", "thread_id": "has space"}),
    ("thread id too long", {"message": "x", "thread_id": "a" * 129}),
    ("unknown field", {"message": "x", "temprature": 1}),
    ("body is a list", [1, 2]),
    ("message too long", {"message": "x" * 40_001}),
]


@pytest.fixture
def seeded(start_server: Callable[..., LiveServer]) -> Iterator[httpx.Client]:
    server = start_server(max_message_chars=40_000)
    with server.client() as client:
        assert client.post("/chat", json={"message": "keep me", "thread_id": "seed"}).is_success
        yield client


@pytest.mark.parametrize(("case", "body"), CHAT_BODIES, ids=[c for c, _ in CHAT_BODIES])
def test_bad_chat_bodies_get_422_and_change_nothing(
    seeded: httpx.Client, database_url: str, case: str, body: Any
) -> None:
    before = snapshot(database_url)

    _assert_error(seeded.post("/chat", json=body), 422, "validation_error")

    assert snapshot(database_url) == before


def test_malformed_json_gets_422(seeded: httpx.Client, database_url: str) -> None:
    before = snapshot(database_url)
    response = seeded.post(
        "/chat", content=b'{"message": ', headers={"Content-Type": "application/json"}
    )
    _assert_error(response, 422, "validation_error")
    assert snapshot(database_url) == before


def test_a_body_that_is_not_json_gets_415(seeded: httpx.Client) -> None:
    response = seeded.post("/chat", content=b"message=hi", headers={"Content-Type": "text/plain"})
    _assert_error(response, 415, "unsupported_media_type")


def test_an_oversized_body_gets_413(
    start_server: Callable[..., LiveServer], database_url: str
) -> None:
    server = start_server(max_body_bytes=4096)
    with server.client() as api:
        before = snapshot(database_url)
        declared = api.post("/chat", json={"message": "x" * 10_000})

        def chunks() -> Any:
            yield b'{"message": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}'

        chunked = api.post("/chat", content=chunks(), headers={"Content-Type": "application/json"})

    _assert_error(declared, 413, "payload_too_large")
    _assert_error(chunked, 413, "payload_too_large")
    assert snapshot(database_url) == before


def test_out_of_range_page_parameters_get_422(seeded: httpx.Client) -> None:
    for params in ({"limit": 0}, {"limit": 100_000}, {"offset": -1}, {"limit": "ten"}):
        _assert_error(seeded.get("/threads", params=params), 422, "validation_error")
    for params in ({"before": -1}, {"order": "sideways"}, {"limit": 201}):
        _assert_error(seeded.get("/threads/seed/messages", params=params), 422, "validation_error")
    _assert_error(seeded.get("/threads", params={"cursor": "not-a-cursor"}), 400, "invalid_cursor")


THREAD_ROUTES = [
    ("GET", "/threads/{id}", None),
    ("PATCH", "/threads/{id}", {"title": "x"}),
    ("DELETE", "/threads/{id}", None),
    ("GET", "/threads/{id}/messages", None),
]


@pytest.mark.parametrize(("method", "path", "body"), THREAD_ROUTES)
def test_unknown_threads_get_404_on_every_route(
    seeded: httpx.Client, database_url: str, method: str, path: str, body: Any
) -> None:
    before = snapshot(database_url)

    response = seeded.request(method, path.format(id="no-such-thread"), json=body)

    _assert_error(response, 404, "thread_not_found")
    assert snapshot(database_url) == before


@pytest.mark.parametrize(("method", "path", "body"), THREAD_ROUTES)
def test_malformed_thread_ids_get_422(
    seeded: httpx.Client, method: str, path: str, body: Any
) -> None:
    response = seeded.request(method, path.format(id="bad%20id"), json=body)
    _assert_error(response, 422, "validation_error")


def test_bad_patch_bodies_get_422(seeded: httpx.Client, database_url: str) -> None:
    before = snapshot(database_url)
    for body in ({"title": 5}, {"metadata": "x"}, {"title": "t" * 201}, {"owner": "me"}):
        _assert_error(seeded.patch("/threads/seed", json=body), 422, "validation_error")
    assert snapshot(database_url) == before


def test_unknown_routes_and_methods_use_the_error_shape(seeded: httpx.Client) -> None:
    _assert_error(seeded.get("/no/such/route"), 404, "not_found")
    _assert_error(seeded.put("/threads"), 405, "method_not_allowed")
    _assert_error(seeded.delete("/chat"), 405, "method_not_allowed")


def test_a_sane_request_id_is_echoed_and_an_insane_one_replaced(seeded: httpx.Client) -> None:
    echoed = seeded.get("/health", headers={"X-Request-ID": "abc-123"})
    replaced = seeded.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})

    assert echoed.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 32


def _nested(levels: int) -> dict[str, Any]:
    """An object `levels` deep: itself, then lists inside it."""
    value: Any = []
    for _ in range(levels - 2):
        value = [value]
    return {"x": value}


def test_metadata_nested_too_deep_gets_422_and_as_deep_as_allowed_reads_back(
    seeded: httpx.Client, database_url: str
) -> None:
    before = snapshot(database_url)
    # 300 levels were stored, and every answer showing them was a 500 (the thread listing too).
    for levels in (33, 300):
        response = seeded.post("/threads", json={"thread_id": "deep", "metadata": _nested(levels)})
        _assert_error(response, 422, "validation_error")
        assert "deeper than 32 levels" in response.text
    assert snapshot(database_url) == before

    allowed = _nested(32)
    assert seeded.post("/threads", json={"thread_id": "deep", "metadata": allowed}).is_success
    assert seeded.get("/threads/deep").json()["metadata"] == allowed
    assert seeded.get("/threads").is_success
