"""One HTTP/1.1 connection of a model call, its replies parsed by httptools (llhttp, in C).

httpcore's `AsyncHTTP11Connection` parses with h11, in Python: for each streamed token the
chunk's size line, its data and its end are events through h11's state machine, about a tenth
of a turn's CPU under load (`bench/analysis.md`). llhttp, which uvicorn already uses for the
requests graphchat serves, does the same work in C, calling back only with the body's bytes.
The request goes out as one write (head and body), one call at a time per connection; the
connection pool (model_connections.py) keeps and reuses it as it did httpcore's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, MutableMapping
from typing import Any

import httpcore
import httptools

_READ_SIZE = 64 * 1024


class _Reply:
    """What the parser has read of the current reply (llhttp's callbacks)."""

    __slots__ = (
        "body",
        "complete",
        "headers",
        "headers_done",
        "keep_alive",
        "messages",
        "parser",
        "status",
    )

    def __init__(self) -> None:
        # A cycle (the parser calls back here), broken by `done`, not left to the collector.
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.status = 0
        self.keep_alive = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.body: list[bytes] = []
        self.complete = False
        self.messages = 0

    def on_message_begin(self) -> None:
        self.messages += 1

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        # Read now: once the message is complete, llhttp has reset them for the next one.
        assert self.parser is not None
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    def feed(self, data: bytes) -> None:
        if self.parser is None:
            raise httpcore.ReadError("the reply was closed")
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise httpcore.RemoteProtocolError(str(exc)) from exc

    def done(self) -> None:
        self.parser = None

    @property
    def framed(self) -> bool:
        """Whether the body's end is marked (a length or chunks), not the connection's close."""
        # A loop, not `any()` over a generator: one left unfinished is closed with an exception.
        for name, _ in self.headers:
            if name.lower() in (b"content-length", b"transfer-encoding"):
                return True
        return False


class HTTP1Connection:
    """A kept-alive connection to one origin, carrying one call at a time."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, keepalive_expiry: float | None) -> None:
        self._stream = stream
        self._expiry = keepalive_expiry
        self._idle = True
        self._closed = False
        self._idle_since = time.monotonic()

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send `request`; the response's body streams (close it to end the exchange)."""
        # The pool hands out only idle connections it found unexpired (the server's close of an
        # idle one included: `has_expired`), with nothing awaited in between.
        if not self.is_idle():
            raise httpcore.ConnectionNotAvailable()
        self._idle = False
        timeouts = request.extensions.get("timeout", {})
        reply = _Reply()
        try:
            await self._stream.write(await _message(request), timeouts.get("write"))
            while not reply.headers_done:
                data = await self._stream.read(_READ_SIZE, timeouts.get("read"))
                if not data:
                    raise httpcore.RemoteProtocolError(
                        "Server disconnected without sending a response."
                    )
                reply.feed(data)
        except BaseException:
            reply.done()
            await self.aclose()
            raise
        body = _Body(self, reply, timeouts.get("read"))
        return checked_response(reply.status, reply.headers, body, {"http_version": b"HTTP/1.1"})

    async def read(self, timeout: float | None) -> bytes:  # noqa: ASYNC109 (httpcore's API)
        return await self._stream.read(_READ_SIZE, timeout)

    def idle_again(self) -> None:
        """The reply was read to its end and the connection may carry the next call."""
        if not self._closed:
            self._idle = True
            self._idle_since = time.monotonic()

    def _server_spoke(self) -> bool:
        """Bytes or a close arrived while idle: the server has closed (or broken) it."""
        return bool(self._stream.get_extra_info("is_readable"))

    def is_idle(self) -> bool:
        return self._idle and not self._closed

    def has_expired(self) -> bool:
        if self._closed or self._server_spoke():
            return True
        return self._expiry is not None and time.monotonic() - self._idle_since > self._expiry

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._idle = False
            await self._stream.aclose()


def checked_response(
    status: int,
    headers: list[tuple[bytes, bytes]],
    content: AsyncIterable[bytes],
    extensions: MutableMapping[str, Any],
) -> httpcore.Response:
    """An httpcore `Response` of headers llhttp has already parsed: set, not given, because
    the constructor checks each of them again (typing's ABC checks, ~15 us a response)."""
    response = httpcore.Response(status=status, content=content, extensions=extensions)
    response.headers = headers
    return response


class _Body:
    """The reply's body as it arrives; closing it ends the exchange."""

    __slots__ = ("_connection", "_reply", "_timeout")

    def __init__(self, connection: HTTP1Connection, reply: _Reply, timeout: float | None) -> None:
        self._connection = connection
        self._reply = reply
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reply = self._reply
        while True:
            if reply.body:
                # What one read brought at once, in one piece: a fast model's tokens arrive
                # several to a read, each its own HTTP chunk.
                pieces, reply.body = reply.body, []
                yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
            if reply.complete:
                return
            data = await self._connection.read(self._timeout)
            if not data:
                if reply.framed:
                    raise httpcore.RemoteProtocolError(
                        "peer closed connection without sending complete message body"
                    )
                reply.complete = True  # its end is the connection's close
                continue
            reply.feed(data)

    async def aclose(self) -> None:
        reply = self._reply
        reusable = reply.complete and reply.framed and reply.messages == 1 and reply.keep_alive
        if reusable:
            self._connection.idle_again()
        else:
            await self._connection.aclose()


async def _message(request: httpcore.Request) -> bytes:
    """The request's head and body, to go out in one write."""
    lines = [b"%s %s HTTP/1.1" % (request.method, request.url.target)]
    lines += [b"%s: %s" % (name, value) for name, value in request.headers]
    body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
