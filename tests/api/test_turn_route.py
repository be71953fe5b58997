"""`TurnRoute`: a plain JSON request is answered without FastAPI's solving, every request the same.

Two apps serve one endpoint, one through `TurnRoute` and one through FastAPI's `APIRoute`; each
request of a list of good and bad ones must get the same status, headers and body from both, from
an endpoint returning a model, a response, and a value its response class encodes. A
profiler hook (it observes, it changes nothing) tells which requests FastAPI's handler answered.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, StringConstraints

from graphchat.api.turn_route import TurnRoute


class Note(BaseModel):
    text: Annotated[str, StringConstraints(max_length=10)]
    count: int = 1


class Reply(BaseModel):
    text: str
    count: int
    caller: str
    key: str | None


async def get_caller(request: Request) -> str:
    if request.headers.get("authorization") == "Bearer wrong":
        raise HTTPException(401, "wrong key")
    return "someone"


Caller = Annotated[str, Depends(get_caller)]
Key = Annotated[str | None, Header(alias="Idempotency-Key", max_length=5)]


def _app(route_class: type[APIRoute]) -> FastAPI:
    router = APIRouter(route_class=route_class)

    @router.post("/note")
    async def note(body: Note, caller: Caller, key: Key = None) -> Reply:
        return Reply(text=body.text, count=body.count, caller=caller, key=key)

    @router.post("/raw", response_model=Reply)
    async def raw(body: Note, caller: Caller) -> JSONResponse:
        return JSONResponse({"text": body.text, "count": body.count, "caller": caller})

    @router.post("/encoded", response_class=JSONResponse)
    async def encoded(body: Note, caller: Caller) -> dict[str, Any]:
        return {"text": body.text, "count": body.count, "caller": caller}

    app = FastAPI()
    app.include_router(router)
    return app


JSON = {"Content-Type": "application/json"}
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("plain", {"content": b'{"text": "hi", "count": 2}', "headers": JSON}),
    ("defaults", {"content": b'{"text": "hi"}', "headers": JSON}),
    (
        "charset",
        {
            "content": b'{"text": "hi"}',
            "headers": {"Content-Type": "Application/JSON; charset=utf-8"},
        },
    ),
    ("non-ASCII", {"content": '{"text": "héllo✓"}'.encode(), "headers": JSON}),
    ("invalid JSON", {"content": b'{"text": ', "headers": JSON}),
    ("not an object", {"content": b'["hi"]', "headers": JSON}),
    ("wrong type", {"content": b'{"text": "hi", "count": "two"}', "headers": JSON}),
    ("too long", {"content": b'{"text": "far too long a note"}', "headers": JSON}),
    ("missing", {"content": b'{"count": 2}', "headers": JSON}),
    ("NaN", {"content": b'{"text": "hi", "count": NaN}', "headers": JSON}),
    ("lone surrogate", {"content": b'{"text": "\\ud800"}', "headers": JSON}),
    ("deep", {"content": b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "headers": JSON}),
    ("empty", {"content": b"", "headers": JSON}),
    ("no content type", {"content": b'{"text": "hi"}'}),
    ("text/plain", {"content": b'{"text": "hi"}', "headers": {"Content-Type": "text/plain"}}),
    ("+json", {"content": b'{"text": "hi"}', "headers": {"Content-Type": "application/x+json"}}),
    ("key", {"content": b'{"text": "hi"}', "headers": {**JSON, "Idempotency-Key": "k1"}}),
    ("long key", {"content": b'{"text": "hi"}', "headers": {**JSON, "Idempotency-Key": "k" * 6}}),
    (
        "refused caller",
        {"content": b'{"text": "hi"}', "headers": {**JSON, "Authorization": "Bearer wrong"}},
    ),
    (
        "refused caller, bad body",
        {"content": b"{", "headers": {**JSON, "Authorization": "Bearer wrong"}},
    ),
]
# The requests a turn route answers itself: a clean JSON body, and no header it takes (`/raw`
# and `/encoded` take no `Idempotency-Key`, so the two with one are plain there).
ANSWERED_PLAINLY = {
    "/note": {"plain", "defaults", "charset", "non-ASCII", "refused caller"},
    "/raw": {"plain", "defaults", "charset", "non-ASCII", "refused caller", "key", "long key"},
}
ANSWERED_PLAINLY["/encoded"] = ANSWERED_PLAINLY["/raw"]


@contextmanager
def _fastapi_handler_calls() -> Iterator[list[str]]:
    """The calls of FastAPI's request handler (`get_request_handler`'s `app`) in the block."""
    calls: list[str] = []

    def observe(frame: FrameType, event: str, _: object) -> None:
        code = frame.f_code
        if event == "call" and code.co_qualname == "get_request_handler.<locals>.app":
            calls.append(code.co_filename)

    sys.setprofile(observe)
    try:
        yield calls
    finally:
        sys.setprofile(None)


async def _answer(
    app: FastAPI, path: str, request: dict[str, Any]
) -> tuple[int, list[tuple[str, str]], bytes]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(path, **request)
    return response.status_code, sorted(response.headers.items()), response.content


@pytest.mark.parametrize("path", ["/note", "/raw", "/encoded"])
@pytest.mark.parametrize(("name", "request_"), REQUESTS, ids=[name for name, _ in REQUESTS])
async def test_every_request_gets_fastapis_answer(
    path: str, name: str, request_: dict[str, Any]
) -> None:
    turn_app, fastapi_app = _app(TurnRoute), _app(APIRoute)

    with _fastapi_handler_calls() as calls:
        answer = await _answer(turn_app, path, request_)
    assert answer == await _answer(fastapi_app, path, request_)
    assert (not calls) == (name in ANSWERED_PLAINLY[path])


async def test_a_plain_request_gets_the_endpoints_values() -> None:
    status, _, body = await _answer(_app(TurnRoute), "/note", REQUESTS[0][1])

    assert status == 200
    assert Reply.model_validate_json(body) == Reply(text="hi", count=2, caller="someone", key=None)


def test_a_route_it_cannot_serve_is_refused_when_declared() -> None:
    router = APIRouter(route_class=TurnRoute)

    async def note_in_thread(thread_id: str, body: Note, request: Request) -> Reply:
        raise AssertionError("never called")

    with pytest.raises(
        TypeError, match=r"/threads/\{thread_id\}.*a path parameter.*'request_param_name'"
    ):
        router.post("/threads/{thread_id}")(note_in_thread)
