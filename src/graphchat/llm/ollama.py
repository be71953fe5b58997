"""Ollama's native `/api/chat` protocol (streamed NDJSON) over a pooled async httpx client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from graphchat.errors import (
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    ToolsUnsupported,
)
from graphchat.llm.base import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    FinishReason,
    ModelInfo,
    SamplingParams,
    ToolCall,
    Usage,
)
from graphchat.llm.timeouts import Timeouts, next_within

_RETRYABLE_STATUS = {429, 500, 502, 503, 504}


def options_for(params: SamplingParams) -> dict[str, Any]:
    """Ollama's `options` for our sampling parameters (`max_tokens` is `num_predict`)."""
    options: dict[str, Any] = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "num_predict": params.max_tokens,
        "seed": params.seed,
        "num_ctx": params.num_ctx,
        "stop": list(params.stop) or None,
    }
    return {key: value for key, value in options.items() if value is not None}


def _message_body(message: ChatMessage) -> dict[str, Any]:
    body: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        body["tool_calls"] = [
            {"id": call.id, "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    if message.role == "tool":
        body["tool_name"] = message.name
        body["tool_call_id"] = message.tool_call_id
    return body


def request_body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_message_body(message) for message in request.messages],
        "stream": True,
    }
    options = options_for(request.params)
    if options:
        body["options"] = options
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in request.tools
        ]
    return body


def _tool_calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    calls = []
    for raw in message.get("tool_calls") or ():
        function = raw.get("function") or {}
        arguments = function.get("arguments") or {}
        if isinstance(arguments, str):
            arguments = orjson.loads(arguments) if arguments.strip() else {}
        calls.append(
            ToolCall(
                id=raw.get("id") or f"call_{uuid.uuid4().hex[:12]}",
                name=str(function.get("name", "")),
                arguments=arguments if isinstance(arguments, dict) else {"value": arguments},
            )
        )
    return tuple(calls)


def parse_line(line: str, *, saw_tool_calls: bool) -> ChatChunk:
    """One NDJSON line of a streamed reply as a chunk; a mid-stream `error` raises."""
    data = orjson.loads(line)
    if "error" in data:
        raise ProviderError(f"the model backend failed mid-reply: {data['error']}")
    message = data.get("message") or {}
    calls = _tool_calls(message)
    if not data.get("done"):
        return ChatChunk(content=message.get("content") or "", tool_calls=calls)
    reason: FinishReason = "length" if data.get("done_reason") == "length" else "stop"
    if saw_tool_calls or calls:
        reason = "tool_calls"
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


def _error_text(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")[:300]
    return str(data.get("error", "")) if isinstance(data, dict) else str(data)[:300]


class OllamaProvider:
    """A `ChatProvider` for one Ollama server."""

    def __init__(
        self,
        base_url: str,
        *,
        timeouts: Timeouts,
        name: str = "ollama",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self._timeouts = timeouts
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(None, connect=timeouts.connect),
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=64),
            transport=transport,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        deadline = asyncio.get_running_loop().time() + self._timeouts.total
        with self._translate_errors(request.model):
            http_request = self._client.build_request(
                "POST", "/api/chat", content=orjson.dumps(request_body(request)),
                headers={"Content-Type": "application/json"},
            )
            response = await next_within(
                self._client.send(http_request, stream=True),
                self._timeouts.first_token, deadline, "waiting for the model's first token",
            )
            try:
                await self._raise_for_status(response, request.model)
                async for chunk in self._chunks(response, deadline):
                    yield chunk
            finally:
                await response.aclose()

    async def _chunks(self, response: httpx.Response, deadline: float) -> AsyncIterator[ChatChunk]:
        lines = response.aiter_lines()
        wait, what = self._timeouts.first_token, "waiting for the model's first token"
        saw_tool_calls = False
        while True:
            line = await next_within(anext(lines, None), wait, deadline, what)
            if line is None:
                raise ProviderError("the model backend closed the reply before it was done")
            if not line.strip():
                continue
            chunk = parse_line(line, saw_tool_calls=saw_tool_calls)
            saw_tool_calls = saw_tool_calls or bool(chunk.tool_calls)
            yield chunk
            if chunk.done:
                return
            wait, what = self._timeouts.stall, "the reply stalled"

    async def _raise_for_status(self, response: httpx.Response, model: str) -> None:
        if response.status_code < 400:
            return
        text = _error_text(await response.aread())
        status = response.status_code
        if status == 404:
            raise ModelNotFound(f"model '{model}' is not available on backend '{self.name}'")
        if status == 400 and "does not support tools" in text:
            raise ToolsUnsupported(f"model '{model}' does not support tools")
        if status in _RETRYABLE_STATUS:
            raise ProviderUnavailable(
                f"model backend '{self.name}' answered {status}: {text}".rstrip(": ")
            )
        raise ProviderError(f"model backend '{self.name}' refused the request ({status}): {text}")

    async def list_models(self) -> list[ModelInfo]:
        with self._translate_errors(None):
            response = await self._client.get("/api/tags", timeout=self._timeouts.connect * 2)
            if response.status_code >= 400:
                raise ProviderUnavailable(
                    f"model backend '{self.name}' answered {response.status_code} to /api/tags"
                )
            models = response.json().get("models") or []
        return [
            ModelInfo(
                name=str(item.get("name") or item.get("model")),
                backend=self.name,
                capabilities=tuple(item.get("capabilities") or ("completion",)),
                details=dict(item.get("details") or {}),
            )
            for item in models
        ]

    async def check(self) -> None:
        with self._translate_errors(None):
            response = await self._client.get("/api/version", timeout=self._timeouts.connect)
            if response.status_code >= 400:
                raise ProviderUnavailable(
                    f"model backend '{self.name}' answered {response.status_code}"
                )

    async def aclose(self) -> None:
        await self._client.aclose()

    @contextmanager
    def _translate_errors(self, model: str | None) -> Iterator[None]:
        """Turn httpx and JSON failures into our `ProviderError`s."""
        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ProviderUnavailable(
                f"model backend '{self.name}' cannot be reached at {self.base_url}"
            ) from exc
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(f"model backend '{self.name}' timed out") from exc
        except (httpx.HTTPError, orjson.JSONDecodeError, ValueError) as exc:
            what = f" for model '{model}'" if model else ""
            raise ProviderError(
                f"model backend '{self.name}' failed{what}: {type(exc).__name__}"
            ) from exc
