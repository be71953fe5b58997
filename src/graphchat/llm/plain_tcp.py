"""httpcore's connections to a model backend over plain HTTP, on asyncio's own transports.

httpcore's default (AnyIO) stream keeps, per connection, a protocol with a deque and two events
(three 760-byte deques), a socket stream with its guards, and a cancel scope with two context
managers around every pending read: about 5 KB for each reply that is waiting for its first
token. Here a connection is a small protocol that buffers what arrives and wakes its one reader.
Only plain `http://` backends (Ollama, the embedded server, local OpenAI-compatible ones) use
it; TLS connections keep httpcore's default. Model calls on them skip httpx too (`CoreReply`).
"""

# httpcore's stream interface takes its timeouts as arguments.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Iterable
from types import TracebackType
from typing import Any, cast

import httpcore
import httpx

from graphchat.errors import Translating
from graphchat.llm.model_connections import ModelConnections

_UNBOUNDED = 1 << 30
_HIGH_WATER = 256 * 1024  # stop reading from the socket until the reader catches up
_NO_TIMEOUT = contextlib.nullcontext()


class _Protocol(asyncio.Protocol):
    __slots__ = (  # asyncio's protocol classes have slots: no instance dict per connection
        "_paused",
        "_reading_paused",
        "_waiter",
        "buffered",
        "chunks",
        "closed",
        "error",
        "transport",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.closed = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None  # a read or a write waiting
        self._paused = False  # writing: the socket's buffer is full
        self._reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio's interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self._reading_paused = True
        self._wake()

    def eof_received(self) -> None:
        self.closed = True
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take(self, max_bytes: int) -> bytes:
        first = self.chunks[0]
        if len(first) <= max_bytes:
            del self.chunks[0]
        else:
            first, self.chunks[0] = first[:max_bytes], first[max_bytes:]
        self.buffered -= len(first)
        if self._reading_paused and self.buffered <= _HIGH_WATER // 2 and not self.closed:
            assert self.transport is not None
            self.transport.resume_reading()
            self._reading_paused = False
        return first

    @property
    def write_paused(self) -> bool:
        return self._paused and not self.closed


def _mapped(timeout_error: type[Exception], other: type[Exception]) -> Translating:
    """TimeoutError and OSError as httpcore's errors, as its own streams raise them."""

    def translate(error: BaseException) -> None:
        if isinstance(error, TimeoutError):
            raise timeout_error(str(error)) from error
        if isinstance(error, OSError):
            raise other(str(error)) from error

    return Translating(translate)


_READING = _mapped(httpcore.ReadTimeout, httpcore.ReadError)
_WRITING = _mapped(httpcore.WriteTimeout, httpcore.WriteError)
_CONNECTING = _mapped(httpcore.ConnectTimeout, httpcore.ConnectError)


def _within(timeout: float | None) -> contextlib.AbstractAsyncContextManager[Any]:
    return asyncio.timeout(timeout) if timeout is not None else _NO_TIMEOUT


class PlainTCPStream(httpcore.AsyncNetworkStream):
    def __init__(self, protocol: _Protocol) -> None:
        assert protocol.transport is not None
        self._protocol = protocol
        self._transport = protocol.transport

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        with _READING:
            async with _within(timeout):
                while not protocol.chunks and not protocol.closed:
                    await protocol.wait()
        if protocol.chunks:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error))
        return b""  # the server closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._protocol.closed:
            raise httpcore.WriteError("the connection is closed")
        try:
            self._transport.write(buffer)
        except RuntimeError as exc:  # uvloop: the transport closed before we heard of it
            raise httpcore.WriteError(str(exc)) from exc
        with _WRITING:
            async with _within(timeout):
                while self._protocol.write_paused:
                    await self._protocol.wait()

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("plain TCP connections do not speak TLS")

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle kept-alive connection the server has closed
            return bool(self._protocol.chunks) or self._protocol.closed
        names = {"client_addr": "sockname", "server_addr": "peername", "socket": "socket"}
        return self._transport.get_extra_info(names[info]) if info in names else None


class PlainTCPBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        with _CONNECTING:
            async with _within(timeout):
                _, protocol = await loop.create_connection(_Protocol, host, port, local_addr=local)
        stream = PlainTCPStream(protocol)
        sock = stream.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return stream

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("plain TCP connections only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class PlainHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's pooled transport, its connections on `PlainTCPBackend` (plain `http://` only).

    Model calls go to `model_connections` directly (see `ChatEndpoint`); httpx's own pool
    serves the rest (model lists, health checks).
    """

    def __init__(self, limits: httpx.Limits) -> None:
        # The pool httpx builds here, and the TLS context it is given, are discarded below. A
        # default context would read the CA bundle for nothing (~40 ms of start-up); this one
        # trusts no certificate at all.
        super().__init__(limits=limits, verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        backend = PlainTCPBackend()
        self._pool = httpcore.AsyncConnectionPool(  # what httpx's transport sends through
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
        self.model_connections = ModelConnections(
            backend,
            max_connections=limits.max_connections or _UNBOUNDED,
            max_idle=limits.max_keepalive_connections or _UNBOUNDED,
            keepalive_expiry=limits.keepalive_expiry,
        )

    async def aclose(self) -> None:
        await super().aclose()
        await self.model_connections.aclose()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:  # how `async with httpx.AsyncClient(…)` ends: not through `aclose`
        await super().__aexit__(exc_type, exc_value, traceback)
        await self.model_connections.aclose()


class CoreReply:
    """An httpcore response under the names of httpx's `Response` that a model call reads.

    Read straight from httpcore's stream, a chunk skips httpx's per-chunk exception mapping and
    content decoders: the request asks for no content coding (`Accept-Encoding: identity`).
    """

    __slots__ = ("_response", "status_code")

    def __init__(self, response: httpcore.Response) -> None:
        self._response = response
        self.status_code = response.status

    def aread(self) -> Awaitable[bytes]:
        return self._response.aread()

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._response.aiter_stream()

    def aclose(self) -> Awaitable[None]:
        return self._response.aclose()
