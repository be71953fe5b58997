"""Bodies of the OpenAI API, as the `openai` SDK sends and parses them.

Requests ignore fields they do not know (OpenAI adds some every few months; a client must never
get a 422 for sending one); responses carry what the SDK's models require.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from graphchat.api.schemas import JsonObject, ModelName, ResponseFormatIn, SamplingIn

_SEED_RANGE = 2**63  # OpenAI takes any 64-bit seed; backends take non-negative ones
FunctionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FunctionCallIn(_Lenient):
    name: FunctionName
    arguments: str = Field("", max_length=100_000)


class ToolCallIn(_Lenient):
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: Literal["function"] = "function"
    function: FunctionCallIn


class MessageIn(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[JsonObject] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = Field(None, max_length=64)
    tool_call_id: Annotated[str, StringConstraints(max_length=200)] | None = None


class FunctionIn(_Lenient):
    name: FunctionName
    description: str = Field("", max_length=4_000)
    parameters: JsonObject = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolIn(_Lenient):
    type: Literal["function"] = "function"
    function: FunctionIn


class NamedFunction(_Lenient):
    name: FunctionName


class NamedToolChoice(_Lenient):
    type: Literal["function"] = "function"
    function: NamedFunction


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionIn(SamplingIn):
    """`POST /v1/chat/completions`; `max_completion_tokens` is OpenAI's newer `max_tokens`."""

    model_config = ConfigDict(extra="ignore")

    model: ModelName
    messages: list[MessageIn] = Field(min_length=1, max_length=2_000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = None
    seed: int | None = None
    max_completion_tokens: int | None = Field(None, ge=1)
    tools: list[ToolIn] | None = Field(None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    response_format: ResponseFormatIn | None = None

    @model_validator(mode="after")
    def _fold_openai_names(self) -> ChatCompletionIn:
        if self.max_completion_tokens is not None:
            self.max_tokens = self.max_completion_tokens
        if self.seed is not None:
            self.seed %= _SEED_RANGE
        return self


class FunctionCallOut(BaseModel):
    name: str
    arguments: str  # a JSON document, as OpenAI sends it


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallOut


class AssistantMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCallOut] | None = None
    refusal: None = None


class ChoiceOut(BaseModel):
    index: int = 0
    message: AssistantMessageOut
    finish_reason: str
    logprobs: None = None


class CompletionUsage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChoiceOut]
    usage: CompletionUsage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "graphchat"


class ModelCardList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
