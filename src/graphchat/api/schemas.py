"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.config import JsonDict

from graphchat.llm.base import ResponseFormat

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
ThreadId = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=128)]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Metadata = Annotated[dict[str, Any], Field(max_length=64)]
MAX_STOP_SEQUENCES = 8


# "At least one user message", as JSON Schema: a role (or, without one, a type) of user/human.
_USER_MESSAGE: JsonDict = {
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
    json_schema: dict[str, Any] | None = Field(None, alias="schema")
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
    require_approval: ApprovalNames = []
    multitask_strategy: MultitaskStrategy = Field("reject", description=MULTITASK_DESCRIPTION)
    response_format: ResponseFormatIn | None = Field(
        None, description="Structured output: `json_object` or `json_schema`, as OpenAI's."
    )


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MessageOut(BaseModel):
    id: str
    thread_id: str
    seq: int
    run_id: str | None
    role: str
    content: str
    tool_calls: list[dict[str, Any]] | None
    tool_call_id: str | None
    name: str | None
    model: str | None
    status: str
    finish_reason: str | None
    usage: UsageOut | None
    latency_ms: float | None
    cached: bool
    created_at: datetime
    parent_id: str | None = Field(
        None, description="The previous message on this message's branch (None: the first)."
    )
    siblings: list[str] | None = Field(
        None,
        description="Ids of the messages sharing this one's parent, oldest first, itself "
        "included (message lists only); more than one means branches to switch between.",
    )
    sibling_index: int | None = Field(None, description="This message's place in `siblings`.")
    sibling_count: int | None = Field(None, description="`len(siblings)`.")


class PendingCallOut(BaseModel):
    id: str
    name: str
    args: dict[str, Any]


class PendingOut(BaseModel):
    """The tool calls a `requires_action` run waits on, in the order decisions must follow."""

    message_id: str = Field(description="The assistant message that made the calls.")
    calls: list[PendingCallOut]


class ChatOut(BaseModel):
    thread_id: str
    run_id: str
    response: str
    model: str | None
    messages: list[MessageOut]
    usage: UsageOut
    finish_reason: str | None
    status: str = Field("success", description="`requires_action`: waiting for approval.")
    pending: PendingOut | None = None


class ApproveIn(StrictBody):
    type: Literal["approve"]


class EditIn(StrictBody):
    type: Literal["edit"]
    args: dict[str, Any] = Field(description="The arguments to run the call with instead.")


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


class ThreadOut(BaseModel):
    thread_id: str
    title: str | None
    model: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    status: Literal["idle", "busy", "interrupted", "error"] = Field(
        "idle", description="LangGraph's thread status, from the latest run."
    )
    values: dict[str, Any] | None = Field(
        None, description="LangGraph state values: `{messages: [...]}` (bounded), where known."
    )
    interrupts: dict[str, Any] = Field(default_factory=dict)


class ThreadPage(BaseModel):
    threads: list[ThreadOut]
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")


class MessagePage(BaseModel):
    messages: list[MessageOut]
    has_more: bool
    next_cursor: int | None = Field(
        description="Sequence number to pass as `after` (asc) or `before` (desc) for more."
    )


class InputMessage(BaseModel):
    """A message in LangGraph style: `role` or LangChain's `type`, text or text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "human", "assistant", "ai", "system"] | None = None
    type: Literal["user", "human", "assistant", "ai", "system"] | None = None
    content: str | list[dict[str, Any]]

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
        min_length=1, max_length=64, json_schema_extra={"contains": _USER_MESSAGE}
    )
    thread_id: ThreadId | None = None


class Configurable(SamplingIn):
    model_config = ConfigDict(extra="ignore")

    thread_id: ThreadId | None = None
    model: ModelName | None = None
    system: str | None = Field(None, max_length=32_000)
    tools: ToolNames = None
    require_approval: ApprovalNames = []


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    configurable: Configurable = Field(default_factory=Configurable)


class InvokeIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: RunInput
    config: RunConfig = Field(default_factory=RunConfig)
    multitask_strategy: MultitaskStrategy = Field("reject", description=MULTITASK_DESCRIPTION)


StreamMode = Literal["messages", "messages-tuple", "values", "updates"]


class StreamIn(InvokeIn):
    stream_mode: str | list[str] = Field(
        default_factory=lambda: ["messages", "updates"],
        description="`messages` (token deltas), `values`, `updates`; unknown modes are ignored.",
    )
    on_disconnect: Literal["continue", "cancel"] = Field(
        "continue", description="`cancel` stops the run when the client goes away."
    )


class InvokeOutput(BaseModel):
    messages: list[MessageOut]


class InvokeOut(BaseModel):
    output: InvokeOutput
    thread_id: str
    run_id: str


class RunOut(BaseModel):
    run_id: str
    thread_id: str
    status: str = Field(
        description="LangGraph's run status: a stopped run is `interrupted` "
        "(`graphchat_status` tells `cancelled` from `interrupted`)."
    )
    graphchat_status: str
    assistant_id: str
    metadata: dict[str, Any]
    multitask_strategy: str | None
    updated_at: datetime
    model: str | None
    params: dict[str, Any]
    error: dict[str, Any] | None
    usage: UsageOut
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    pending: PendingOut | None = None


class HealthOut(BaseModel):
    status: Literal["ok"]


class CheckOut(BaseModel):
    name: str
    ok: bool
    error: str | None = None
    circuit: Literal["closed", "open", "half_open"] | None = None  # model backends only
    required: bool = True  # False: reported, but a failure leaves the server ready (MCP)


class ReadyOut(BaseModel):
    status: Literal["ready"]
    checks: list[CheckOut]


class InfoOut(BaseModel):
    name: str
    version: str
    build: str = Field(description="Build identifier, e.g. the git commit of the image; `dev`.")
    database: str
    backends: list[str]
    default_model: str | None
    flags: dict[str, bool]


class ToolOut(BaseModel):
    name: str
    source: str = Field(description="`builtin`, `plugin`, `local` or `mcp:<server>`.")
    description: str
    parameters: dict[str, Any] = Field(description="JSON schema of the arguments.")
    requires_approval: bool = Field(description="By `GRAPHCHAT_TOOLS_REQUIRE_APPROVAL`.")
    default: bool = Field(description="Offered on turns that name no tools.")


class McpServerOut(BaseModel):
    name: str
    transport: str
    ok: bool
    error: str | None
    tools: list[str]
    checked_at: datetime | None


class ToolList(BaseModel):
    tools: list[ToolOut]
    mcp_servers: list[McpServerOut]


class ModelOut(BaseModel):
    name: str
    backend: str
    available: bool
    capabilities: list[str]
    details: dict[str, Any]


class BackendOut(BaseModel):
    name: str
    reachable: bool
    circuit: Literal["closed", "open", "half_open"]
    retry_after: int | None = None


class ModelList(BaseModel):
    models: list[ModelOut]
    default_model: str | None
    backends: list[BackendOut] = []


class ErrorDetailOut(BaseModel):
    loc: list[str] = Field(description='Where: e.g. `["body", "message"]`.')
    msg: str
    type: str


class ErrorInfoOut(BaseModel):
    code: str = Field(description="Stable machine-readable name, e.g. `thread_not_found`.")
    message: str = Field(description="A human sentence.")
    request_id: str | None = Field(description="The `X-Request-ID` of the request.")
    details: list[ErrorDetailOut] | None = Field(None, description="Field errors, when any.")


class ErrorOut(BaseModel):
    """The body of every error response."""

    error: ErrorInfoOut


# --- branches: regenerate, edit, switch (issue 18)
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


class LeafOut(BaseModel):
    thread_id: str
    leaf_message_id: str
