"""The CLI's API client against an httpx transport double: SSE parsing and error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from graphchat.cli.client import GraphchatClient, TurnOptions
from graphchat.cli.client_errors import (
    AuthError,
    ClientError,
    ConfigError,
    ExitCode,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnreachableError,
)
from graphchat.cli.reply_stream import (
    REJOIN_DELAYS,
    Finished,
    Rejoining,
    StreamItem,
    Token,
    ToolCalled,
    iter_sse,
)

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler) -> GraphchatClient:
    return GraphchatClient("http://graphchat.test", "k3y", transport=httpx.MockTransport(handler))


def _sse(*events: tuple[str, object]) -> str:
    return "".join(
        f"event: {name}\nid: {i}\ndata: {json.dumps(data)}\n\n"
        for i, (name, data) in enumerate(events)
    )


def _chunk(text: str, **extra: object) -> list[object]:
    return [{"type": "AIMessageChunk", "content": text, "tool_calls": [], **extra}, {}]


def test_sse_reader_joins_data_lines_and_skips_comments() -> None:
    lines = [": heartbeat", "", "event: a", "data: one", "data: two", "id: 7", "retry: 50", ""]
    lines += ["data: next", "", "data: cut off"]

    events = list(iter_sse(lines))

    # The id and the retry hint last; an event the stream ended inside is not one.
    assert [(e.event, e.data, e.id, e.retry) for e in events] == [
        ("a", "one\ntwo", "7", 50),
        ("message", "next", "7", 50),
    ]


def test_stream_yields_tokens_tool_calls_and_the_end() -> None:
    body = _sse(
        ("metadata", {"run_id": "r1", "thread_id": "t1", "model": "m"}),
        ("messages", _chunk("Hel")),
        ("messages", _chunk("lo")),
        ("messages", _chunk("Hello", tool_calls=[{"name": "calculator"}])),
        ("updates", {"agent": {}}),
        (
            "end",
            {
                "status": "success",
                "finish_reason": "stop",
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            },
        ),
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            text=body,
            headers={
                "content-type": "text/event-stream",
                "content-location": "/threads/t1/runs/r1",
            },
        )

    with (
        _client(handler) as client,
        client.stream("hi", thread_id="t1", options=TurnOptions(temperature=0.5)) as reply,
    ):
        assert (reply.thread_id, reply.run_id) == ("t1", "r1")
        items = list(reply)

    assert items[:3] == [Token("Hel"), Token("lo"), ToolCalled("calculator")]
    assert isinstance(items[3], Finished) and items[3].usage is not None
    assert items[3].usage.total_tokens == 3
    sent = json.loads(seen[0].content)
    assert sent["input"] == {"messages": [{"role": "user", "content": "hi"}], "thread_id": "t1"}
    assert sent["config"] == {"configurable": {"temperature": 0.5}}
    assert seen[0].headers["authorization"] == "Bearer k3y"


def test_an_error_event_raises_with_its_code() -> None:
    body = _sse(
        ("metadata", {"run_id": "r", "thread_id": "t"}),
        ("error", {"error": {"code": "provider_timeout", "message": "too slow"}}),
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body)

    with (
        _client(handler) as client,
        client.stream("x", thread_id=None, options=TurnOptions()) as reply,
        pytest.raises(ServerError, match="too slow") as caught,
    ):
        list(reply)
    assert caught.value.code == "provider_timeout"
    assert caught.value.exit_code == ExitCode.SERVER


def test_a_stream_cut_before_the_end_is_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=_sse(("messages", _chunk("partial"))))

    with (
        _client(handler) as client,
        client.stream("x", thread_id=None, options=TurnOptions()) as reply,
        pytest.raises(UnreachableError),
    ):
        list(reply)


_RUN = {"content-location": "/threads/t/runs/r", "location": "/threads/t/runs/r/stream?v=g"}
_END = ("end", {"status": "success", "finish_reason": "stop", "usage": None})


def _frames(first_id: int, *events: tuple[str, object]) -> str:
    return "".join(
        f"event: {name}\nid: {first_id + i}\ndata: {json.dumps(data)}\n\n"
        for i, (name, data) in enumerate(events)
    )


def test_a_cut_stream_is_rejoined_after_the_last_event_read() -> None:
    started = "retry: 1\n" + _frames(0, ("metadata", {"run_id": "r"}), ("messages", _chunk("a")))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":  # cut inside its third event
            return httpx.Response(200, text=started + "event: messages\nda", headers=_RUN)
        rest = _frames(2, ("messages", _chunk("b")), ("messages", _chunk("c")), _END)
        return httpx.Response(200, text=rest)

    with (
        _client(handler) as client,
        client.stream("x", thread_id=None, options=TurnOptions()) as reply,
    ):
        items = list(reply)

    assert items[:1] == [Token("a")] and isinstance(items[1], Rejoining)
    assert items[2:4] == [Token("b"), Token("c")] and isinstance(items[4], Finished)
    assert reply.text == ["a", "b", "c"]
    rejoin = seen[1]
    assert (rejoin.method, rejoin.url.path, rejoin.url.query) == (
        "GET",
        "/threads/t/runs/r/stream",
        b"v=g",
    )
    assert rejoin.headers["last-event-id"] == "1"


def test_a_rejoin_the_server_refuses_raises_its_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, text="retry: 1\n", headers=_RUN)
        return httpx.Response(404, json={"error": {"code": "run_not_found", "message": "gone"}})

    with (
        _client(handler) as client,
        client.stream("x", thread_id=None, options=TurnOptions()) as reply,
        pytest.raises(NotFoundError, match="gone"),
    ):
        list(reply)


def test_rejoins_that_read_nothing_give_up_after_the_last_delay() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            started = "retry: 1\n" + _frames(0, ("metadata", {"run_id": "r"}))
            return httpx.Response(200, text=started, headers=_RUN)
        return httpx.Response(200, text=_frames(0, ("metadata", {"run_id": "r"})))  # not new

    items: list[StreamItem] = []
    with (
        _client(handler) as client,
        client.stream("x", thread_id=None, options=TurnOptions()) as reply,
        pytest.raises(UnreachableError, match="before the reply was complete"),
    ):
        items.extend(reply)

    assert len(seen) == 1 + len(REJOIN_DELAYS)
    assert items == [Rejoining("the connection closed before the reply was complete")]


@pytest.mark.parametrize(
    ("status", "headers", "error", "message"),
    [
        (401, {}, AuthError, "not authorized (bad key); check --api-key / GRAPHCHAT_API_KEY"),
        (404, {}, NotFoundError, "bad key"),
        (429, {"Retry-After": "5"}, RateLimitedError, "rate limited (bad key); try again in 5 s"),
        (409, {}, ClientError, "request refused (409): bad key"),
        (503, {}, ServerError, "server error 503: bad key"),
    ],
)
def test_error_statuses_map_to_errors_with_exit_codes(
    status: int, headers: dict[str, str], error: type[ClientError], message: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, json={"error": {"code": "c", "message": "bad key"}}, headers=headers
        )

    with _client(handler) as client, pytest.raises(error) as caught:
        client.threads()
    assert caught.value.message == message
    assert caught.value.status == status


def test_an_error_without_the_json_shape_still_reads_well() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    with _client(handler) as client, pytest.raises(ServerError, match="server error 502"):
        client.models()


@pytest.mark.parametrize(
    ("status", "cancelled"), [(200, True), (202, True), (404, False), (405, False), (409, False)]
)
def test_cancel_tolerates_servers_without_it(status: int, cancelled: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.raw_path == b"/threads/t%2F1/runs/r1/cancel"
        return httpx.Response(status, json={})

    with _client(handler) as client:
        assert client.cancel("t/1", "r1") is cancelled


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://host", "http://", ""])
def test_a_malformed_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigError):
        GraphchatClient(url)


def test_unset_options_are_left_to_the_server() -> None:
    assert TurnOptions(model="m", seed=0).as_json() == {"model": "m", "seed": 0}
