"""Connections to plain-HTTP model backends on asyncio's transports (llm/plain_tcp.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import httpcore
import httpx
import pytest
import uvloop

from graphchat.llm.plain_tcp import PlainHTTPTransport
from graphchat.llm.timeouts import Timeouts
from graphchat.llm.transport import ChatEndpoint, direct_transport, make_client

_LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
# The server runs on uvloop, whose transports are not asyncio's classes; tests run on both.
LOOPS = pytest.mark.parametrize("new_loop", [asyncio.new_event_loop, uvloop.new_event_loop])


def _run(
    new_loop: Callable[[], asyncio.AbstractEventLoop], case: Coroutine[Any, Any, None]
) -> None:
    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(case)


@asynccontextmanager
async def _server(handle: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


def _response(body: bytes, *, close: bool = False) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), connection, body)


async def _a_reply_larger_than_the_read_buffer_arrives_whole() -> None:
    big = bytes(range(256)) * 4096  # 1 MiB: reading pauses and resumes on the way

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = await _read_request(reader)
        writer.write(_response(body + big))
        await writer.drain()
        writer.close()

    async with (
        _server(handle) as url,
        httpx.AsyncClient(transport=PlainHTTPTransport(_LIMITS)) as http,
    ):
        response = await http.post(f"{url}/x", content=b"ping" * 100_000)

    assert response.status_code == 200
    assert response.content == b"ping" * 100_000 + big


class _ClosingAfterEachReply:
    """A server answering "ok" and then closing a connection HTTP/1.1 would keep alive."""

    def __init__(self) -> None:
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await _read_request(reader)
        writer.write(_response(b"ok"))
        await writer.drain()
        writer.close()


async def _a_kept_alive_connection_the_server_closed_is_not_reused() -> None:
    server = _ClosingAfterEachReply()
    async with (
        _server(server) as url,
        httpx.AsyncClient(transport=PlainHTTPTransport(_LIMITS)) as http,
    ):
        first = await http.post(f"{url}/x", content=b"1")
        await asyncio.sleep(0.1)  # the server's close reaches the idle connection
        second = await http.post(f"{url}/x", content=b"2")

    assert (first.content, second.content) == (b"ok", b"ok")
    assert server.connections == 2


async def _a_kept_model_connection_the_server_closed_is_not_reused() -> None:
    server = _ClosingAfterEachReply()
    async with _server(server) as url:
        transport = PlainHTTPTransport(_LIMITS)
        async with make_client(url, Timeouts(), transport=transport) as client:
            endpoint = ChatEndpoint(client, "/x", transport, Timeouts())
            bodies = []
            for _ in range(2):
                reply = await endpoint.post(b"{}")
                bodies.append(await reply.aread())
                await reply.aclose()
                await asyncio.sleep(0.1)  # the server's close reaches the idle connection

    assert bodies == [b"ok", b"ok"]
    assert server.connections == 2


async def _a_reply_closed_after_its_transport_closes_its_connection() -> None:
    closed = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_response(b"ok"))  # kept alive by HTTP/1.1 rules
        await writer.drain()
        if not await reader.read(1):
            closed.set()

    async with _server(handle) as url:
        transport = PlainHTTPTransport(_LIMITS)
        async with make_client(url, Timeouts(), transport=transport) as client:
            reply = await ChatEndpoint(client, "/x", transport, Timeouts()).post(b"{}")
            body = await reply.aread()  # read, but not closed yet
        await reply.aclose()  # after the client (and its transport) closed
        await asyncio.wait_for(closed.wait(), 5)

    assert body == b"ok"


async def _a_refused_connection_is_a_connect_error() -> None:
    async with _server(lambda reader, writer: asyncio.sleep(0)) as url:
        pass  # closed: nothing listens there any more
    async with httpx.AsyncClient(transport=PlainHTTPTransport(_LIMITS)) as http:
        try:
            await http.get(url)
        except httpx.ConnectError:
            return
    raise AssertionError("the request should have failed to connect")


class _Replying:
    """A server answering each request on a connection with the next of `replies` (raw bytes),
    closing the connection after one marked `close`; counts the connections it accepted."""

    def __init__(self, *replies: tuple[bytes, bool]) -> None:
        self.replies = list(replies)
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while self.replies:
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return  # the client closed this connection
            reply, close = self.replies.pop(0)
            writer.write(reply)
            await writer.drain()
            if close:
                writer.close()
                return


async def _model_calls(url: str, count: int) -> list[bytes | Exception]:
    """`count` model calls in turn through a `ChatEndpoint`: each body, or what it raised."""
    transport = PlainHTTPTransport(_LIMITS)
    results: list[bytes | Exception] = []
    async with make_client(url, Timeouts(), transport=transport) as client:
        endpoint = ChatEndpoint(client, "/api/chat", transport, Timeouts())
        for _ in range(count):
            try:
                reply = await endpoint.post(b"{}")
                try:
                    results.append(await reply.aread())
                finally:
                    await reply.aclose()
            except httpcore.RemoteProtocolError as exc:
                results.append(exc)
    return results


_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"


async def _chunked_replies_are_read_whole_and_their_connection_kept() -> None:
    server = _Replying((_CHUNKED, False), (_CHUNKED, False))
    async with _server(server) as url:
        results = await _model_calls(url, 2)
    assert results == [b"abcde", b"abcde"]
    assert server.connections == 1


async def _a_reply_that_says_close_is_not_followed_on_its_connection() -> None:
    closing = _response(b"first", close=True)
    server = _Replying((closing, False), (_response(b"second"), False))
    async with _server(server) as url:
        results = await _model_calls(url, 2)
    assert results == [b"first", b"second"]
    assert server.connections == 2


async def _a_body_that_ends_with_its_connection_is_read_whole() -> None:
    unframed = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"
    server = _Replying((unframed, True))
    async with _server(server) as url:
        results = await _model_calls(url, 1)
    assert results == [b"all of it"]


async def _a_reply_cut_short_or_garbled_is_a_protocol_error() -> None:
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"
    garbled = b"HTTP/1.1 abc\r\n\r\n"
    for reply in (cut, garbled):
        server = _Replying((reply, True))
        async with _server(server) as url:
            (result,) = await _model_calls(url, 1)
        assert isinstance(result, httpcore.RemoteProtocolError), (reply, result)


def test_only_plain_http_backends_get_the_plain_transport() -> None:
    assert isinstance(direct_transport(None, "http://localhost:11434"), PlainHTTPTransport)
    assert not isinstance(direct_transport(None, "https://api.test/v1"), PlainHTTPTransport)


# Each case runs on both loops: uvloop's transports are not asyncio's classes.
_CASES = [
    _a_reply_larger_than_the_read_buffer_arrives_whole,
    _a_kept_alive_connection_the_server_closed_is_not_reused,
    _a_kept_model_connection_the_server_closed_is_not_reused,
    _a_reply_closed_after_its_transport_closes_its_connection,
    _a_refused_connection_is_a_connect_error,
    _chunked_replies_are_read_whole_and_their_connection_kept,
    _a_reply_that_says_close_is_not_followed_on_its_connection,
    _a_body_that_ends_with_its_connection_is_read_whole,
    _a_reply_cut_short_or_garbled_is_a_protocol_error,
]


@LOOPS
@pytest.mark.parametrize("case", _CASES, ids=[case.__name__.lstrip("_") for case in _CASES])
def test_plain_tcp_connections(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
    case: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    _run(new_loop, case())
