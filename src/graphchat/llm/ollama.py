"""Ollama's native `/api/chat` protocol (streamed NDJSON) over a pooled async httpx client."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from graphchat.llm.base import ChatChunk, ChatRequest, ModelInfo, SamplingParams, ToolCall, Usage
from graphchat.llm.http_provider import HttpProvider, ReplyReader
from graphchat.llm.timeouts import Timeouts
from graphchat.llm.transport import get_json
from graphchat.llm.wire import chat_body, cut_short, finish_reason, raise_reply_error


def options_for(params: SamplingParams) -> dict[str, Any]:
    """Ollama's `options` for our sampling parameters (`max_tokens` is `num_predict`)."""
    return params.wire_fields(max_tokens="num_predict", num_ctx=True)


def _call_body(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "function": {"name": call.name, "arguments": call.arguments}}


def request_body(request: ChatRequest) -> dict[str, Any]:
    body = chat_body(request, _call_body, tool_name=True)
    options = options_for(request.params)
    if options:
        body["options"] = options
    if request.response_format is not None:
        # Ollama's `format`: "json" for any object, or the JSON schema the reply must match.
        wanted = request.response_format
        body["format"] = wanted.schema if wanted.type == "json_schema" and wanted.schema else "json"
    return body


def _tool_calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    calls = []
    for raw in message.get("tool_calls") or ():
        function = raw.get("function") or {}
        name = str(function.get("name", ""))
        calls.append(ToolCall.decoded(raw.get("id"), name, function.get("arguments") or {}))
    return tuple(calls)


def parse_line(line: bytes | str, *, saw_tool_calls: bool) -> ChatChunk:
    """One NDJSON line of a streamed reply as a chunk; a mid-stream `error` raises."""
    data = orjson.loads(line)
    if "error" in data:  # tested here first: a line per token, and nearly all carry text only
        raise_reply_error(data)
    message = data.get("message") or {}
    calls = _tool_calls(message) if "tool_calls" in message else ()
    if not data.get("done"):
        return ChatChunk(content=message.get("content") or "", tool_calls=calls)
    reason = finish_reason(data.get("done_reason"), called_tools=saw_tool_calls or bool(calls))
    usage = Usage(
        prompt_tokens=int(data.get("prompt_eval_count") or 0),
        completion_tokens=int(data.get("eval_count") or 0),
    )
    return ChatChunk(
        content=message.get("content") or "",
        tool_calls=calls,
        done=True,
        finish_reason=reason,
        usage=usage,
    )


class _NDJSONReply:
    """One NDJSON reply: a chunk per line, the last one `done`."""

    __slots__ = ("_saw_tool_calls",)

    def __init__(self) -> None:
        self._saw_tool_calls = False

    def line(self, line: bytes) -> ChatChunk:
        chunk = parse_line(line, saw_tool_calls=self._saw_tool_calls)
        self._saw_tool_calls = self._saw_tool_calls or bool(chunk.tool_calls)
        return chunk

    def end(self) -> ChatChunk:
        raise cut_short()


class OllamaProvider(HttpProvider):
    """A `ChatProvider` for one Ollama server."""

    chat_path = "/api/chat"

    def __init__(
        self,
        base_url: str,
        *,
        timeouts: Timeouts,
        name: str = "ollama",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeouts=timeouts, name=name, transport=transport)
        # Capabilities per (model, digest) from `/api/show`, for Ollamas whose tags lack them.
        self._capabilities: dict[tuple[str, str], tuple[str, ...]] = {}

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        return request_body(request)

    def _reader(self) -> ReplyReader:
        return _NDJSONReply()

    async def list_models(self) -> list[ModelInfo]:
        with self._translate_errors(None):
            tags = await get_json(
                self._client, "/api/tags", backend=self.name, seconds=self._timeouts.connect * 2
            )
            models = tags.get("models") or []
            capabilities = await asyncio.gather(*(self._capabilities_of(item) for item in models))
        return [
            ModelInfo(
                name=str(item.get("name") or item.get("model")),
                backend=self.name,
                capabilities=caps,
                details=dict(item.get("details") or {}),
            )
            for item, caps in zip(models, capabilities, strict=True)
        ]

    async def _capabilities_of(self, item: dict[str, Any]) -> tuple[str, ...]:
        """From the tags entry when it has them (recent Ollama), else `/api/show`, cached."""
        if item.get("capabilities"):
            return tuple(item["capabilities"])
        name = str(item.get("name") or item.get("model"))
        key = (name, str(item.get("digest", "")))
        if key not in self._capabilities:
            response = await self._client.post(
                "/api/show", json={"model": name}, timeout=self._timeouts.connect * 2
            )
            shown = response.json() if response.status_code < 400 else {}
            self._capabilities[key] = tuple(shown.get("capabilities") or ("completion",))
        return self._capabilities[key]

    async def check(self) -> None:
        with self._translate_errors(None):
            await get_json(
                self._client, "/api/version", backend=self.name, seconds=self._timeouts.connect
            )
