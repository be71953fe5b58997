"""What Ollama's and OpenAI's chat protocols share: the request's model, messages and tools, and
how a streamed reply fails, ends and says why it stopped.

The protocols differ in the rest (sampling fields, structured output, how a tool call is written,
NDJSON against server-sent events), which each adapter adds on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphchat.errors import ProviderError
from graphchat.llm.base import ChatMessage, ChatRequest, FinishReason, ToolCall, ToolSpec

CallBody = Callable[[ToolCall], dict[str, Any]]


def chat_body(request: ChatRequest, call_body: CallBody, *, tool_name: bool) -> dict[str, Any]:
    """The fields both protocols send: model, messages, streaming on and the tools offered.

    They differ in how a tool call is written (`call_body`) and in whether a tool result names
    its tool (`tool_name`)."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_message_body(message, call_body, tool_name) for message in request.messages],
        "stream": True,
    }
    if request.tools:
        body["tools"] = _tool_schemas(request.tools)
    return body


def _message_body(message: ChatMessage, call_body: CallBody, tool_name: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        body["tool_calls"] = [call_body(call) for call in message.tool_calls]
    if message.role == "tool":
        if tool_name:
            body["tool_name"] = message.name
        body["tool_call_id"] = message.tool_call_id
    return body


def _tool_schemas(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


def raise_reply_error(data: dict[str, Any]) -> None:
    """Raise the `error` a streamed reply's event carries (how both protocols fail mid-reply)."""
    if "error" in data:
        raise ProviderError(f"the model backend failed mid-reply: {data['error']}")


def cut_short() -> ProviderError:
    """The error for a reply whose stream ended before the backend said it was done."""
    return ProviderError("the model backend closed the reply before it was done")


def finish_reason(said: str | None, *, called_tools: bool) -> FinishReason:
    """Ours for the reason a backend gave: a reply that called tools ends for them; of the
    rest only `length` (the token limit) is told apart from an ordinary stop."""
    if called_tools:
        return "tool_calls"
    return "length" if said == "length" else "stop"
