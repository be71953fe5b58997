"""Request bodies of the HTTP API and the field types they share."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.config import JsonDict

from graphchat.json_text import writable
from graphchat.service.records import ResponseFormat

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
ThreadId = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=128)]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


# A free-form JSON object of the caller's (metadata, a schema, a tool's arguments), refused
# where it could not be written back (json_text.writable: too deep, or not UTF-8).
JsonObject = Annotated[dict[str, Any], AfterValidator(writable)]
Metadata = Annotated[JsonObject, Field(max_length=64)]
MAX_STOP_SEQUENCES = 8


# "At least one user message", as JSON Schema: a role (or, without one, a type) of user/human.
USER_MESSAGE_SCHEMA: JsonDict = {
    "anyOf": [
        {"properties": {"role": {"enum": ["user", "human"]}}, "required": ["role"]},
        {
            "properties": {"role": {"type": "null"}, "type": {"enum": ["user", "human"]}},
            "required": ["type"],
        },
        {"properties": {"role": {"type": "null"}, "type": {"type": "null"}}},
    ]
}


class StrictBody(BaseModel):
    """A body whose unknown fields are refused, so typos fail loudly."""

    model_config = ConfigDict(extra="forbid", strict=True)


class SamplingIn(BaseModel):
    """Sampling parameters a request may set; `max_tokens` is also bounded by the server."""

    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    # 2**53 - 1: the largest integer every JSON client (JavaScript's numbers) holds exactly.
    seed: int | None = Field(None, ge=0, le=2**53 - 1)
    stop: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = Field(
        None, max_length=MAX_STOP_SEQUENCES
    )
    num_ctx: int | None = Field(None, ge=64, le=1_048_576)

    @field_validator("max_tokens", "seed", "num_ctx", mode="before")
    @classmethod
    def _integral(cls, value: object) -> object:
        # JSON Schema counts 2.0 as an integer; strict bodies would refuse it otherwise.
        return int(value) if isinstance(value, float) and value.is_integer() else value

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


MultitaskStrategy = Literal["reject", "enqueue", "interrupt"]
MULTITASK_DESCRIPTION = (
    "When the thread is already answering: `reject` (409), `enqueue` (wait for it), "
    "`interrupt` (stop it, then run)."
)


ToolName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ToolNames = Annotated[
    list[ToolName] | None,
    Field(
        max_length=32,
        description="Tools the model may call on this turn (`[]`: none); default: the thread's "
        "`metadata.tools`, else the server's `GRAPHCHAT_TOOLS_ENABLED`.",
    ),
]

ToolPattern = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_*?-]{1,64}$")]
ApprovalNames = Annotated[
    list[ToolPattern],
    Field(
        max_length=32,
        description="Tools (names or patterns like `github__*`) whose calls wait for approval on "
        "this turn, besides the thread's `metadata.require_approval` and the server's "
        "`GRAPHCHAT_TOOLS_REQUIRE_APPROVAL`.",
    ),
]


class JsonSchemaIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "response"
    json_schema: JsonObject | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormatIn(BaseModel):
    """OpenAI's `response_format`: `text`, `json_object`, or `json_schema` with a schema
    (`json_schema` without one asks for any JSON object, as `json_object` does)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaIn | None = None

    def wanted(self) -> ResponseFormat | None:
        """The output format to ask the model for (None: plain text)."""
        if self.type == "text":
            return None
        if self.type == "json_object" or self.json_schema is None:
            return ResponseFormat(type="json_object")
        spec = self.json_schema
        return ResponseFormat(
            type="json_schema", schema=spec.json_schema, name=spec.name, strict=bool(spec.strict)
        )


class ChatIn(StrictBody, SamplingIn):
    message: str = Field(min_length=1)
    thread_id: ThreadId | None = None
    model: ModelName | None = None
    system: str | None = Field(None, max_length=32_000)
    tools: ToolNames = None
    require_approval: ApprovalNames = Field(default_factory=list)  # [] would be deep-copied
    multitask_strategy: MultitaskStrategy = Field("reject", description=MULTITASK_DESCRIPTION)
    response_format: ResponseFormatIn | None = Field(
        None, description="Structured output: `json_object` or `json_schema`, as OpenAI's."
    )


class ApproveIn(StrictBody):
    type: Literal["approve"]


class EditIn(StrictBody):
    type: Literal["edit"]
    args: JsonObject = Field(description="The arguments to run the call with instead.")


class RejectIn(StrictBody):
    type: Literal["reject"]
    message: str = Field("", max_length=4000, description="Told to the model.")


DecisionIn = Annotated[ApproveIn | EditIn | RejectIn, Field(discriminator="type")]


class ResumeIn(StrictBody):
    decisions: list[DecisionIn] = Field(
        min_length=1, max_length=16, description="One per pending call, in order."
    )


class ThreadCreate(BaseModel):
    """Unknown fields are ignored: LangGraph SDK clients send extras such as `if_exists`."""

    model_config = ConfigDict(extra="ignore", strict=True)

    thread_id: ThreadId | None = None
    title: Annotated[str, StringConstraints(max_length=200)] | None = None
    model: ModelName | None = None
    metadata: Metadata | None = None
    if_exists: Literal["raise", "do_nothing"] = Field(
        "raise", description="When `thread_id` is taken: 409 (`raise`) or return it (`do_nothing`)."
    )


class ThreadPatch(StrictBody):
    title: Annotated[str, StringConstraints(max_length=200)] | None = None
    model: ModelName | None = None
    metadata: Metadata | None = None


class InputMessage(BaseModel):
    """A message in LangGraph style: `role` or LangChain's `type`, text or text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "human", "assistant", "ai", "system"] | None = None
    type: Literal["user", "human", "assistant", "ai", "system"] | None = None
    content: str | list[JsonObject]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "text"
        )

    def normalized_role(self) -> str:
        role = self.role or self.type or "user"
        return {"human": "user", "ai": "assistant"}.get(role, role)


class RunInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messages: list[InputMessage] = Field(
        min_length=1, max_length=64, json_schema_extra={"contains": USER_MESSAGE_SCHEMA}
    )
    thread_id: ThreadId | None = None


class Configurable(SamplingIn):
    model_config = ConfigDict(extra="ignore")

    thread_id: ThreadId | None = None
    model: ModelName | None = None
    system: str | None = Field(None, max_length=32_000)
    tools: ToolNames = None
    require_approval: ApprovalNames = Field(default_factory=list)  # [] would be deep-copied


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    configurable: Configurable = Field(default_factory=Configurable)


class InvokeIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: RunInput
    config: RunConfig = Field(default_factory=RunConfig)
    multitask_strategy: MultitaskStrategy = Field("reject", description=MULTITASK_DESCRIPTION)


class StreamIn(InvokeIn):
    stream_mode: str | list[str] = Field(
        default_factory=lambda: ["messages", "updates"],
        description="`messages` (token deltas), `values`, `updates`; unknown modes are ignored.",
    )
    on_disconnect: Literal["continue", "cancel"] = Field(
        "continue", description="`cancel` stops the run when the client goes away."
    )


# Branches: regenerate, edit, switch.
class RegenerateIn(StrictBody, SamplingIn):
    """Answer again; `model`, `system` and sampling apply to the new reply only."""

    model: ModelName | None = None
    system: str | None = Field(None, max_length=32_000)


class MessageEditIn(RegenerateIn):
    content: str = Field(min_length=1, description="The new text of the user message.")


class LeafIn(StrictBody):
    message_id: str = Field(min_length=1, max_length=36)
    descend: bool = Field(
        True,
        description="Continue down to the newest message under `message_id` "
        "(false: make `message_id` itself the leaf).",
    )
