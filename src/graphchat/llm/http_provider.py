"""The shared half of an HTTP `ChatProvider`: one streamed call, read line by line.

The Ollama and OpenAI-compatible providers differ only in where they post, what they send and
how a line of their reply reads (`ReplyReader`); the client, the timed lines, error mapping and
the connection's return to the pool are llm/transport.py's.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AbstractContextManager
from typing import Any, Protocol

import httpx

from graphchat.json_text import dumps
from graphchat.llm.base import ChatChunk, ChatRequest
from graphchat.llm.timeouts import Timeouts
from graphchat.llm.transport import (
    ChatEndpoint,
    deadline_after,
    direct_transport,
    finish_body,
    make_client,
    open_stream,
    timed_lines,
    translate_http_errors,
)


class ReplyReader(Protocol):
    """How one streamed reply's lines become chunks; one per reply, as it may keep state."""

    def line(self, line: bytes) -> ChatChunk | None:
        """The chunk one line carries, if any; a chunk with `done` ends the reply."""
        ...

    def end(self) -> ChatChunk:
        """The last chunk of a body that ended with no `done` chunk; raises if cut short."""
        ...


class HttpProvider:
    """The shared half of an HTTP `ChatProvider`: client, streamed call, errors, closing.

    Subclasses say where to post (`chat_path`), what to send (`_body`) and how to read the
    streamed reply (`_reader`).
    """

    chat_path = ""

    def __init__(
        self,
        base_url: str,
        *,
        timeouts: Timeouts,
        name: str,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self._timeouts = timeouts
        direct = direct_transport(transport, base_url)
        self._client = make_client(base_url, timeouts, headers=headers, transport=direct)
        self._chat = ChatEndpoint(self._client, self.chat_path, direct, timeouts)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        deadline = deadline_after(self._timeouts.total)
        with self._translate_errors(request.model):
            response = await open_stream(
                self._chat.post(dumps(self._body(request))),
                backend=self.name,
                model=request.model,
                timeouts=self._timeouts,
                deadline=deadline,
            )
            try:
                # Read here, line by line, not by a generator of the subclass's: every chunk of
                # every reply would pass through one more.
                reader = self._reader()
                lines = timed_lines(response, self._timeouts, deadline)
                async for line in lines:
                    chunk = reader.line(line)
                    if chunk is None:
                        continue
                    yield chunk
                    if chunk.done:
                        await finish_body(lines)
                        return
                yield reader.end()
            finally:
                await response.aclose()

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        raise NotImplementedError

    def _reader(self) -> ReplyReader:
        """A reader for one streamed reply."""
        raise NotImplementedError

    async def aclose(self) -> None:
        await self._client.aclose()

    def _translate_errors(self, model: str | None) -> AbstractContextManager[None]:
        """Turn httpx, httpcore and JSON failures into our `ProviderError`s."""
        return translate_http_errors(self.name, self.base_url, model)
