"""An OpenAI request as a graphchat turn: its messages checked and converted, its tools mapped."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from graphchat.api.openai.schemas import ChatCompletionIn, MessageIn
from graphchat.api.sampling import check_length, sampling_params
from graphchat.errors import InvalidRequest
from graphchat.service.chat import TurnRequest
from graphchat.service.records import ChatMessage, ToolCall, ToolChoice, ToolSpec
from graphchat.settings import Settings

_TEXT_PARTS = frozenset({"text", "input_text"})


def _invalid(message: str, *loc: str | int, code: str = "invalid_request") -> InvalidRequest:
    details = [{"loc": ["body", *map(str, loc)], "msg": message, "type": code}]
    return InvalidRequest(message, code=code, details=details)


def _text(message: MessageIn, index: int) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = []
    for part in message.content:
        if part.get("type") not in _TEXT_PARTS:
            raise _invalid(
                f"content part type {part.get('type')!r} is not supported; send text",
                "messages",
                index,
                "content",
                code="unsupported_content",
            )
        parts.append(str(part.get("text") or ""))
    return "".join(parts)


def _calls(message: MessageIn, index: int) -> tuple[ToolCall, ...]:
    calls = []
    for position, call in enumerate(message.tool_calls or ()):
        try:
            arguments = orjson.loads(call.function.arguments or "{}")
        except orjson.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            loc = ("messages", index, "tool_calls", position, "function", "arguments")
            raise _invalid("tool call arguments must be a JSON object", *loc)
        calls.append(ToolCall(id=call.id, name=call.function.name, arguments=arguments))
    return tuple(calls)


class _Converter:
    """Walks the messages once, keeping the tool calls still waiting for a result."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._open: dict[str, str] = {}  # call id → function name
        self.system: list[str] = []
        self.messages: list[ChatMessage] = []

    def add(self, message: MessageIn, index: int) -> None:
        text = check_length(_text(message, index), f"messages.{index}.content", self._settings)
        if message.role in ("system", "developer"):
            self.system.append(text)
        elif message.role == "tool":
            self.messages.append(self._tool_result(message, text, index))
        elif message.role == "assistant":
            calls = _calls(message, index)
            self._open = {call.id: call.name for call in calls}
            self.messages.append(ChatMessage(role="assistant", content=text, tool_calls=calls))
        else:
            self.messages.append(ChatMessage(role="user", content=text))

    def _tool_result(self, message: MessageIn, text: str, index: int) -> ChatMessage:
        call_id = message.tool_call_id
        if call_id is None or call_id not in self._open:
            raise _invalid(
                "a tool message must answer a tool call of the assistant message before it",
                "messages",
                index,
                "tool_call_id",
                code="unmatched_tool_call",
            )
        name = self._open.pop(call_id)
        return ChatMessage(role="tool", content=text, tool_call_id=call_id, name=name)


def conversation(
    messages: Sequence[MessageIn], settings: Settings
) -> tuple[str | None, tuple[ChatMessage, ...]]:
    """The system prompt the messages set (None: the server's) and the conversation."""
    converter = _Converter(settings)
    for index, message in enumerate(messages):
        converter.add(message, index)
    if not converter.messages or converter.messages[-1].role not in ("user", "tool"):
        raise _invalid("the last message must be a user or tool message", "messages")
    system = "\n\n".join(converter.system) if converter.system else None
    return system, tuple(converter.messages)


def client_tools(body: ChatCompletionIn) -> tuple[ToolSpec, ...] | None:
    """The caller's tools as offered to the model (None: none given, graphchat's own run)."""
    if body.tool_choice == "none":
        return ()
    if not body.tools:
        return None
    specs = tuple(
        ToolSpec(tool.function.name, tool.function.description, tool.function.parameters)
        for tool in body.tools
    )
    choice = body.tool_choice
    if choice is not None and not isinstance(choice, str):
        specs = tuple(spec for spec in specs if spec.name == choice.function.name)
        if not specs:
            raise _invalid("tool_choice names a function not in tools", "tool_choice")
    return specs


def _tool_choice(body: ChatCompletionIn, tools: tuple[ToolSpec, ...] | None) -> ToolChoice:
    """Whether the model must call one of the caller's tools (a named one is offered alone)."""
    if not tools or body.tool_choice in (None, "auto", "none"):
        return "auto"
    return "required"


def turn_request(body: ChatCompletionIn, owner: str, settings: Settings) -> TurnRequest:
    """The turn an OpenAI request asks for; where it is stored is decided by the service."""
    if body.n not in (None, 1):
        raise _invalid("only n=1 is supported", "n", code="unsupported_value")
    system, context = conversation(body.messages, settings)
    tools = client_tools(body)
    wanted = body.response_format.wanted() if body.response_format is not None else None
    return TurnRequest(
        owner=owner,
        messages=(),
        model=body.model,
        params=sampling_params(body, settings),
        system=system,
        context=context,
        client_tools=tools,
        tool_choice=_tool_choice(body, tools),
        response_format=wanted,
    )
