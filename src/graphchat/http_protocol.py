"""Uvicorn's HTTP protocol with the writes of one event-loop turn sent in one system call.

Uvicorn writes a response's head as soon as the app starts it, and each body message after it:
a JSON answer is two writes, a stream's head, first event and first token three. Each write
wakes the client, which on a machine with few cores then runs on the server's CPU before the
next one (`bench/analysis.md`, round 34). Here a connection's writes wait for the end of the
loop's current turn and leave together: a JSON answer is one segment, and a stream sends its
head with whatever events are ready by then. Nothing waits longer than that turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TurnBatchedTransport:
    """A transport whose writes are joined until the end of the event loop's current turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._flush_at_turn_end: asyncio.Handle | None = None

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._flush_at_turn_end = self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        """Send what was written since the last flush."""
        if not self._pending:
            return
        if self._flush_at_turn_end is not None:
            self._flush_at_turn_end.cancel()
            self._flush_at_turn_end = None
        pending, self._pending = self._pending, []
        if not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def is_closing(self) -> bool:
        # uvicorn asks after every response: through `__getattr__` a failed lookup first.
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class TurnBatchedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` writing through a `TurnBatchedTransport`; a complete response leaves
    at once (what runs after it in the same turn, a run's wind-down, must not hold it)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.batched = TurnBatchedTransport(transport, self.loop)
        super().connection_made(self.batched)  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        self.batched.flush()
        super().on_response_complete()
