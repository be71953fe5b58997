"""OpenAI-compatible servers (vLLM, llama.cpp's server, LM Studio, OpenAI): `/v1/chat/completions`
streamed as server-sent events, `/v1/models` for the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from graphchat.json_text import dumps_text
from graphchat.llm.base import ChatChunk, ChatRequest, ModelInfo, SamplingParams, ToolCall, Usage
from graphchat.llm.http_provider import HttpProvider, ReplyReader
from graphchat.llm.timeouts import Timeouts
from graphchat.llm.transport import get_json
from graphchat.llm.wire import chat_body, cut_short, finish_reason, raise_reply_error

_DONE = b"[DONE]"


def sampling_fields(params: SamplingParams) -> dict[str, Any]:
    """OpenAI's request fields for our sampling parameters (it has no `num_ctx`)."""
    return params.wire_fields(max_tokens="max_tokens", num_ctx=False)


def _call_body(call: ToolCall) -> dict[str, Any]:
    arguments = dumps_text(call.arguments)
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def request_body(request: ChatRequest) -> dict[str, Any]:
    body = chat_body(request, _call_body, tool_name=False)
    body |= {"stream_options": {"include_usage": True}, **sampling_fields(request.params)}
    if request.tools and request.tool_choice != "auto":
        body["tool_choice"] = request.tool_choice
    if request.response_format is not None:
        body["response_format"] = request.response_format.openai_body()
    return body


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def finish(self) -> ToolCall:
        return ToolCall.decoded(self.id, self.name, "".join(self.arguments))


@dataclass
class StreamState:
    """What a streamed reply has said so far: tool-call fragments, finish reason, usage."""

    calls: dict[int, _PendingCall] = field(default_factory=dict)
    said_reason: str | None = None  # the backend's `finish_reason`: set once the reply is done
    usage: Usage | None = None
    pieces: int = 0  # text deltas seen: the completion size when the server reports no usage

    def feed(self, data: dict[str, Any]) -> str:
        """Take one event's JSON; return its text delta."""
        raise_reply_error(data)
        if data.get("usage"):
            self.usage = Usage(
                prompt_tokens=int(data["usage"].get("prompt_tokens") or 0),
                completion_tokens=int(data["usage"].get("completion_tokens") or 0),
            )
        text = []
        for choice in data.get("choices") or ():
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for raw in delta.get("tool_calls") or ():
                pending = self.calls.setdefault(int(raw.get("index", 0)), _PendingCall())
                function = raw.get("function") or {}
                pending.id = raw.get("id") or pending.id
                pending.name = function.get("name") or pending.name
                pending.arguments.append(function.get("arguments") or "")
            self.said_reason = choice.get("finish_reason") or self.said_reason
        self.pieces += any(text)
        return "".join(text)

    def line(self, line: bytes) -> ChatChunk | None:
        """One line of the SSE body: a text delta's chunk, or the last one at `[DONE]`."""
        if not line.startswith(b"data:"):
            return None  # comments, `event:` and `id:` fields carry nothing we use
        payload = line[5:].strip()
        if payload == _DONE:
            return self.last_chunk()
        text = self.feed(orjson.loads(payload))
        return ChatChunk(content=text) if text else None

    def end(self) -> ChatChunk:
        """A body that ended without `[DONE]` is whole once a finish reason was said."""
        if self.said_reason is None:
            raise cut_short()
        return self.last_chunk()

    def last_chunk(self) -> ChatChunk:
        calls = tuple(self.calls[index].finish() for index in sorted(self.calls))
        return ChatChunk(
            tool_calls=calls,
            done=True,
            finish_reason=finish_reason(self.said_reason, called_tools=bool(calls)),
            usage=self.usage or Usage(completion_tokens=self.pieces),
        )


class OpenAICompatProvider(HttpProvider):
    """A `ChatProvider` for one OpenAI-compatible endpoint (base URL ending before `/v1`)."""

    chat_path = "/v1/chat/completions"

    def __init__(
        self,
        base_url: str,
        *,
        timeouts: Timeouts,
        api_key: str | None = None,
        name: str = "openai",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        super().__init__(
            base_url.removesuffix("/v1"),
            timeouts=timeouts,
            name=name,
            headers=headers,
            transport=transport,
        )

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        return request_body(request)

    def _reader(self) -> ReplyReader:
        return StreamState()

    async def list_models(self) -> list[ModelInfo]:
        with self._translate_errors(None):
            listing = await get_json(
                self._client, "/v1/models", backend=self.name, seconds=self._timeouts.connect * 2
            )
        return [
            ModelInfo(
                name=str(item["id"]),
                backend=self.name,
                # The protocol has tool calls; whether a model uses them well is not listed.
                capabilities=("completion", "tools"),
                details={"owned_by": item.get("owned_by")} if item.get("owned_by") else {},
            )
            for item in listing.get("data") or ()
            if isinstance(item, dict) and item.get("id")
        ]

    async def check(self) -> None:
        await self.list_models()
