"""Model calls' connections to plain-HTTP backends: idle ones kept by origin, taken in O(1).

httpcore's pool scans all its connections for every waiting request whenever a request starts
or ends: O(requests × connections) per call. With a thousand replies waiting for their first
token, opening one more stream cost about 175 ms of CPU, against 5 ms with a hundred open. Here
a call takes the idle connection to its origin used last, or opens one (at most
`max_connections` at once), and gives it back when its reply is closed. Each connection speaks
HTTP/1.1 through llhttp (http1.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Protocol, cast

import httpcore

from graphchat.llm.http1 import HTTP1Connection, checked_response


class _ReplyBody(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


_Where = tuple[bytes, bytes, int]


def _where(origin: httpcore.Origin) -> _Where:
    return (origin.scheme, origin.host, origin.port)  # an `Origin` is not hashable


class ModelConnections:
    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend,
        *,
        max_connections: int,
        max_idle: int,
        keepalive_expiry: float | None,
    ) -> None:
        self._backend = backend
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[_Where, deque[HTTP1Connection]] = {}
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._closed = False

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send `request`; its response's stream must be closed (that gives the connection back)."""
        await self._slots.acquire()
        try:
            return await self._send(request)
        except BaseException:
            self._slots.release()
            raise

    async def _send(self, request: httpcore.Request) -> httpcore.Response:
        origin = request.url.origin
        while True:
            connection = await self._kept(origin)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(origin, request)
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                if reused:  # closed since it was kept; nothing was sent
                    continue
                raise
            except BaseException:
                await connection.aclose()
                raise
            body = _GivenBack(cast(_ReplyBody, response.stream), origin, connection, self)
            return checked_response(response.status, response.headers, body, response.extensions)

    async def _kept(self, origin: httpcore.Origin) -> HTTP1Connection | None:
        """The idle connection to `origin` used last, if one is still good."""
        idle = self._idle.get(_where(origin))
        while idle:
            connection = idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()
        return None

    async def _connect(self, origin: httpcore.Origin, request: httpcore.Request) -> HTTP1Connection:
        timeouts = request.extensions.get("timeout", {})
        stream = await self._backend.connect_tcp(
            origin.host.decode("ascii"), origin.port, timeout=timeouts.get("connect")
        )
        return HTTP1Connection(stream, self._expiry)

    async def give_back(self, origin: httpcore.Origin, connection: HTTP1Connection) -> None:
        """Keep `connection` for the next call if its exchange ended cleanly; else close it."""
        self._slots.release()
        idle = self._idle.setdefault(_where(origin), deque())
        while idle and idle[0].has_expired():  # the oldest first: most calls take the newest
            await idle.popleft().aclose()
        if connection.is_idle() and len(idle) < self._max_idle and not self._closed:
            idle.append(connection)
        else:
            await connection.aclose()

    async def aclose(self) -> None:
        """Close the idle connections (those in use close with their replies)."""
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.aclose()


class _GivenBack:
    """A response body whose closing gives its connection back to the pool, once."""

    __slots__ = ("_connection", "_origin", "_pool", "_stream")

    def __init__(
        self,
        stream: _ReplyBody,
        origin: httpcore.Origin,
        connection: HTTP1Connection,
        pool: ModelConnections,
    ) -> None:
        self._stream = stream
        self._origin = origin
        self._connection: HTTP1Connection | None = connection
        self._pool = pool

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await self._stream.aclose()
        finally:
            await self._pool.give_back(self._origin, connection)
