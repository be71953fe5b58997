"""The provider seam: the types every model backend speaks and the `ChatProvider` protocol."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "cancelled", "error"]
ToolChoice = Literal["auto", "required"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asked for; `arguments` is already decoded JSON."""

    id: str
    name: str
    arguments: dict[str, Any]

    @classmethod
    def decoded(cls, call_id: str | None, name: str, arguments: Any) -> ToolCall:
        """A call as a backend wrote it: `arguments` as JSON text or an object, maybe no id."""
        if isinstance(arguments, str):
            arguments = orjson.loads(arguments) if arguments.strip() else {}
        return cls(
            id=call_id or f"call_{uuid.uuid4().hex[:12]}",
            name=name,
            arguments=arguments if isinstance(arguments, dict) else {"value": arguments},
        )


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A message as sent to a model."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Per-request sampling parameters, validated at the API; None means the backend default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    num_ctx: int | None = None

    def is_deterministic(self) -> bool:
        return self.temperature == 0 or self.seed is not None

    def wire_fields(self, *, max_tokens: str, num_ctx: bool) -> dict[str, Any]:
        """The parameters that are set, named as a backend names them (`max_tokens` is
        `num_predict` to Ollama; only Ollama takes `num_ctx`)."""
        fields: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            max_tokens: self.max_tokens,
            "seed": self.seed,
            "num_ctx": self.num_ctx if num_ctx else None,
            "stop": list(self.stop) or None,
        }
        return {key: value for key, value in fields.items() if value is not None}


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model, described by a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """Structured output: any JSON object (`json_object`) or JSON matching `schema`."""

    type: Literal["json_object", "json_schema"]
    schema: dict[str, Any] | None = None
    name: str = "response"
    strict: bool = False

    def openai_body(self) -> dict[str, Any]:
        """OpenAI's `response_format` request field (which llama.cpp's server also takes)."""
        if self.type == "json_object" or self.schema is None:
            return {"type": "json_object"}
        json_schema = {"name": self.name, "schema": self.schema, "strict": self.strict}
        return {"type": "json_schema", "json_schema": json_schema}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"  # "required": the reply must call one of `tools`
    response_format: ResponseFormat | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """A piece of a streamed reply; the last one has `done=True` with the reason and usage."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    done: bool = False
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    cached: bool = False  # replayed from the response cache, not generated now
    model: str | None = None  # set when another model answered (a fallback)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model a backend serves, as listed by `GET /models`."""

    name: str
    backend: str
    available: bool = True
    capabilities: tuple[str, ...] = ("completion",)
    details: dict[str, Any] = field(default_factory=dict)


class ChatProvider(Protocol):
    """A model backend. Implementations translate their vendor errors into `ProviderError`s."""

    name: str

    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        """Stream the reply; the last chunk has `done=True`."""
        ...

    async def list_models(self) -> list[ModelInfo]:
        """The models this backend serves now."""
        ...

    async def check(self) -> None:
        """Raise a `ProviderError` when the backend is not ready."""
        ...

    async def aclose(self) -> None:
        """Release connections and workers."""
        ...
