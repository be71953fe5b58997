"""A run's first model request, sent before LangGraph starts the agent node.

LangGraph sets a run up (its loop, channels, checkpoints, callbacks and first task) before it
calls the node: about 0.4 ms of CPU per turn, 0.9 ms after an idle spell, all of it before the
request left and so on the way to the first token. `AgentGraph.ainvoke` now sends the request
the node is about to send, and LangGraph's set-up runs while the model works. The node takes
the opened reply when it asks exactly that request (`take`); otherwise it is closed unread.

A streamed run goes further (`lead`): LangGraph's set-up waits until the reply's first text has
gone to the run's followers. A model that answers within that set-up (a cached or a very fast
one) would otherwise have its first token read only after it. The node asks the same request
(built by the same function on the same state), so the text it was handed is its reply's.

Once the run is stored, the task that reads the first chunk hands its text over in the step it
reads it. Waking `lead` for it took two more turns of the event loop, and the response's head
and first event, ready meanwhile, left in a write of their own: the client was woken twice
before its first token (`bench/analysis.md`, round 48).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from graphchat.llm.base import ChatChunk, ChatProvider, ChatRequest

if TYPE_CHECKING:
    from graphchat.agent.state import RunEvents


class OpenedRequest:
    """A model request sent ahead of its node; its first chunk is awaited in a task of its own."""

    def __init__(self, provider: ChatProvider, request: ChatRequest) -> None:
        self.request = request
        self._asked_at = time.perf_counter()  # the reply's latency counts from here
        self._stream = provider.stream(request)
        self._first = asyncio.get_running_loop().create_task(self._first_chunk())
        self._taken = False
        self._lead_to: RunEvents | None = None  # where the first chunk's text goes once read
        self.told = False  # the first chunk's text went out already (`lead`)

    def take(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None] | None:
        """The reply's chunks if it was opened for `request`, once; None otherwise."""
        if self.asked_at(request) is None:
            return None
        self._taken = True
        return self._chunks()

    def asked_at(self, request: ChatRequest) -> float | None:
        """When `request` was asked (`time.perf_counter`), if this reply is its, not yet taken."""
        return None if self._taken or request != self.request else self._asked_at

    async def lead(self, events: RunEvents, stored: asyncio.Future[None]) -> None:
        """Hand the reply's first text to `events` once the run is `stored`, and return once a
        follower has it. A first chunk without text (a tool call, a role) or a failure is left
        for the node, which reads the reply as it would have."""
        await stored
        if self._first.done():
            if not self._first.cancelled() and self._first.exception() is None:
                self._tell(events, self._first.result())
        else:
            self._lead_to = events  # `_first_chunk` tells them, in the step it reads it
            try:
                await asyncio.wait([self._first])
            finally:
                self._lead_to = None
        if self.told:
            await events.heard()

    def _tell(self, events: RunEvents, first: ChatChunk | None) -> None:
        if first is not None and first.content:
            events.token(first.content)
            self.told = True

    async def close(self) -> None:
        """End the request if still open; a reply nobody took is dropped, its failure too."""
        if not self._first.done():
            self._first.cancel()
            await asyncio.wait([self._first])
        if not self._first.cancelled():
            self._first.exception()  # seen: not logged as never retrieved
        await self._stream.aclose()

    async def _first_chunk(self) -> ChatChunk | None:
        try:
            first = await anext(self._stream)
        except StopAsyncIteration:
            return None
        if self._lead_to is not None:
            self._tell(self._lead_to, first)
        return first

    async def _chunks(self) -> AsyncGenerator[ChatChunk, None]:
        try:
            first = await self._first
            if first is None:
                return
            yield first
            async for chunk in self._stream:
                yield chunk
        finally:
            await self.close()
