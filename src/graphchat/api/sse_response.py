"""The event-stream response: sse-starlette's, sent with one task per open stream besides the
request's own.

sse-starlette runs each response in a task group of four tasks (the stream, a ping loop, a
shutdown listener, a disconnect listener) and opens a cancel scope per frame. Here the request's
task sends the frames, one watcher task per stream sends the heartbeats while it waits for the
client to leave, and one task per process ends every stream when the server exits: what a
thousand idle streams hold, and what opening one costs before its first frame, shrink.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.event import ensure_bytes
from starlette.types import Receive, Scope, Send

_open: set[LeanEventSourceResponse] = set()
_exit_watchers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


class LeanEventSourceResponse(EventSourceResponse):
    """`EventSourceResponse` with the same frames, heartbeats, disconnect and shutdown handling."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One lock orders frames and heartbeats. An asyncio lock makes its waiters' deque only
        # when a send has to wait; anyio's (sse-starlette's `_send_lock`) holds a 760-byte one
        # for as long as the stream is open. sse-starlette's own sending (HEAD) uses it too.
        self._lock = self._send_lock = asyncio.Lock()  # type: ignore[assignment]
        self._stream_task: asyncio.Task[Any] | None = None
        self._cut = False  # the client left or the server exits: the stream ends early

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"].upper() == "HEAD":
            await super().__call__(scope, receive, send)
            return
        self._stream_task = asyncio.current_task()
        watcher = asyncio.create_task(self._watch(receive, send))
        _open.add(self)
        _watch_exit()
        try:
            await self._send_all(send)
        except asyncio.CancelledError:
            assert self._stream_task is not None
            if not self._cut or self._stream_task.uncancel() > 0:
                raise
        finally:
            self.active = False
            _open.discard(self)
            watcher.cancel()
            await self._close_iterator()
        if self.background is not None:
            await self.background()

    async def _send_all(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        async for data in self.body_iterator:
            chunk = ensure_bytes(data, self.sep)
            async with self._lock:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        async with self._lock:
            self.active = False
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _close_iterator(self) -> None:
        """Close the frames' iterator if it is still open (it runs its clean-up)."""
        aclose = getattr(self.body_iterator, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _watch(self, receive: Receive, send: Send) -> None:
        """Heartbeats every `ping_interval` seconds until the client leaves; then cut."""
        interval = self.ping_interval or None
        while self.active:
            try:
                async with asyncio.timeout(interval):
                    message = await receive()
            except TimeoutError:
                await self._heartbeat(send)
                continue
            if message["type"] == "http.disconnect":
                self.cut()
                return

    async def _heartbeat(self, send: Send) -> None:
        factory = self.ping_message_factory
        ping = factory() if factory is not None else ServerSentEvent(comment="ping")
        chunk = ensure_bytes(ping, self.sep)
        async with self._lock:
            if self.active:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._stream_task.get_loop() if self._stream_task is not None else None

    def cut(self) -> None:
        """End the stream now, as if its iterator had been cancelled."""
        if self.active and self._stream_task is not None and not self._cut:
            self._cut = True
            self._stream_task.cancel()


def _watch_exit() -> None:
    """One task per event loop waits for the server's exit signal, then cuts every stream."""
    loop = asyncio.get_running_loop()
    watcher = _exit_watchers.get(loop)
    if watcher is None or watcher.done():
        _exit_watchers[loop] = loop.create_task(_cut_all_at_exit())
        for other in [key for key in _exit_watchers if key.is_closed()]:
            del _exit_watchers[other]


async def _cut_all_at_exit() -> None:
    await EventSourceResponse._listen_for_exit_signal()
    loop = asyncio.get_running_loop()
    for response in list(_open):
        if response.loop is loop:
            response.cut()
