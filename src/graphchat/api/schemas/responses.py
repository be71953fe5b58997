"""Response bodies of the HTTP API, built from the service layer's records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graphchat.service.records import Run


class UsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MessageOut(BaseModel):
    """A stored message: `MessageOut.model_validate(record)` reads a `Message` record's fields."""

    model_config = ConfigDict(from_attributes=True)

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

    @classmethod
    def from_record(
        cls, run: Run, *, status: str, assistant_id: str, pending: dict[str, Any] | None
    ) -> RunOut:
        """`status` is the LangGraph name of the record's status; `pending` its public view."""
        return cls(
            run_id=run.id,
            thread_id=run.thread_id,
            status=status,
            graphchat_status=run.status.value,
            assistant_id=assistant_id,
            metadata={},
            multitask_strategy=None,
            updated_at=run.updated_at,
            model=run.model,
            params=run.params,
            error=run.error,
            usage=UsageOut.model_validate(run.usage),
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            pending=PendingOut.model_validate(pending) if pending else None,
        )


class HealthOut(BaseModel):
    status: Literal["ok"]


class CheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    ok: bool
    error: str | None = None
    circuit: Literal["closed", "open", "half_open"] | None = None  # model backends only
    required: bool = True  # False: reported, but a failure leaves the server ready (MCP)


class ReadyOut(BaseModel):
    status: Literal["ready"]
    checks: list[CheckOut]


class InfoOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    model_config = ConfigDict(from_attributes=True)

    name: str
    backend: str
    available: bool
    capabilities: list[str]
    details: dict[str, Any]


class BackendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    reachable: bool
    circuit: Literal["closed", "open", "half_open"]
    retry_after: int | None = None


class ModelList(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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


class LeafOut(BaseModel):
    thread_id: str
    leaf_message_id: str
