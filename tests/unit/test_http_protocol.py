"""A connection's writes in one event-loop turn leave in one call to the real transport."""

from __future__ import annotations

import asyncio

import uvicorn
from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.server import ServerState

from graphchat.http_protocol import TurnBatchedHttpToolsProtocol, TurnBatchedTransport


class RecordingTransport(asyncio.Transport):
    """An in-memory transport: what was written, call by call, and whether it was closed."""

    def __init__(self) -> None:
        super().__init__({"peername": ("127.0.0.1", 40000)})
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 5


def _batched() -> tuple[TurnBatchedTransport, RecordingTransport]:
    raw = RecordingTransport()
    return TurnBatchedTransport(raw, asyncio.get_running_loop()), raw


async def test_writes_of_one_turn_leave_together_at_its_end() -> None:
    batched, raw = _batched()
    batched.write(b"HTTP/1.1 200 OK\r\n\r\n")
    batched.write(b"event: metadata\n\n")
    assert raw.writes == []
    assert batched.get_write_buffer_size() == 5 + 19 + 17

    await asyncio.sleep(0)

    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nevent: metadata\n\n"]


async def test_writes_of_later_turns_leave_in_their_own_call() -> None:
    batched, raw = _batched()
    batched.write(b"one")
    await asyncio.sleep(0)
    batched.write(b"two")
    await asyncio.sleep(0)
    assert raw.writes == [b"one", b"two"]


async def test_close_sends_what_is_pending_before_closing() -> None:
    batched, raw = _batched()
    batched.write(b"last words")
    batched.close()
    assert raw.writes == [b"last words"]
    assert raw.closed
    await asyncio.sleep(0)
    assert raw.writes == [b"last words"]  # the turn's flush finds nothing more


async def test_abort_drops_what_is_pending() -> None:
    batched, raw = _batched()
    batched.write(b"never sent")
    batched.abort()
    await asyncio.sleep(0)
    assert raw.writes == []
    assert raw.aborted


async def test_nothing_is_written_to_a_transport_that_is_closing() -> None:
    batched, raw = _batched()
    batched.write(b"too late")
    raw.closed = True  # the peer went away within the turn
    await asyncio.sleep(0)
    assert raw.writes == []


async def test_other_calls_reach_the_real_transport() -> None:
    batched, raw = _batched()
    assert batched.get_extra_info("peername") == ("127.0.0.1", 40000)
    assert batched.is_closing() is False
    raw.closed = True
    assert batched.is_closing() is True


async def test_a_complete_response_leaves_at_once_in_one_write() -> None:
    """The head and the body of an answer go out together as soon as it is complete, not at
    the end of the turn (a run's wind-down may run after it in the same turn)."""
    raw = RecordingTransport()
    seen_when_complete: list[list[bytes]] = []

    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"6")]}
        )
        await send({"type": "http.response.body", "body": b"answer"})
        seen_when_complete.append(list(raw.writes))

    config = uvicorn.Config(app, lifespan="off", log_config=None)
    config.load()
    protocol = TurnBatchedHttpToolsProtocol(config, ServerState(), app_state={})
    protocol.connection_made(raw)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: graphchat\r\n\r\n")
    while not seen_when_complete:
        await asyncio.sleep(0)

    [written] = seen_when_complete
    assert len(written) == 1
    assert written[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert written[0].endswith(b"\r\n\r\nanswer")
    protocol.connection_lost(None)
