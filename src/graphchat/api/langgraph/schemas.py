"""Bodies of the LangGraph server API, lenient as its clients expect: unknown fields are ignored."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from graphchat.api.schemas import Configurable, InputMessage, Metadata, ThreadId

SearchLimit = Annotated[int, Field(ge=1, le=1000)]
SearchOffset = Annotated[int, Field(ge=0, le=1_000_000)]
Name = Annotated[str, StringConstraints(max_length=200)]


class LenientBody(BaseModel):
    """Unknown fields are ignored, so a newer SDK's extras never cause a 422."""

    model_config = ConfigDict(extra="ignore")


class AssistantSearch(LenientBody):
    graph_id: Name | None = None
    name: Name | None = None
    metadata: Metadata | None = None
    limit: SearchLimit = 10
    offset: SearchOffset = 0


class ThreadSearch(LenientBody):
    metadata: Metadata | None = None
    ids: list[ThreadId] | None = Field(None, max_length=1000)
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: SearchLimit = 10
    offset: SearchOffset = 0
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None


class CheckpointIn(LenientBody):
    checkpoint_id: Annotated[str, StringConstraints(max_length=64)] | None = None


class HistoryIn(LenientBody):
    limit: SearchLimit = 10
    before: Annotated[str, StringConstraints(max_length=64)] | CheckpointIn | None = None

    def before_id(self) -> str | None:
        return self.before.checkpoint_id if isinstance(self.before, CheckpointIn) else self.before


class RunInputIn(LenientBody):
    messages: list[InputMessage] = Field(default_factory=list, max_length=64)


class RunConfigIn(LenientBody):
    configurable: Configurable = Field(default_factory=Configurable)


class CommandIn(LenientBody):
    """LangGraph's `Command`: graphchat resumes a pause with `resume`, LangChain's HITL
    response `{decisions: [...]}` (or `{<interrupt id>: {decisions: [...]}}`)."""

    resume: Any = Field(None, description="`{decisions: [...]}`, one per pending call, in order.")
    goto: Any = Field(None, description="Not supported: any value is refused.")
    update: Any = Field(None, description="Not supported: any value is refused.")


class RunCreate(LenientBody):
    assistant_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    input: RunInputIn | None = None
    command: CommandIn | None = None
    config: RunConfigIn = Field(default_factory=RunConfigIn)
    metadata: Metadata | None = None
    stream_mode: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=lambda: ["values"], max_length=16
    )
    checkpoint: CheckpointIn | None = None
    checkpoint_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = "reject"
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    on_completion: Literal["delete", "keep"] = "delete"

    @field_validator("stream_mode", mode="before")
    @classmethod
    def _mode_as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def checkpoint_named(self) -> str | None:
        """The checkpoint the run is asked to start from, if any."""
        if self.checkpoint is not None and self.checkpoint.checkpoint_id is not None:
            return self.checkpoint.checkpoint_id
        return self.checkpoint_id


class ThreadCheckpoint(BaseModel):
    thread_id: str
    checkpoint_ns: str = ""
    checkpoint_id: str | None
    checkpoint_map: dict[str, Any] | None = None


class ThreadStateOut(BaseModel):
    values: dict[str, Any]
    next: list[str]
    checkpoint: ThreadCheckpoint
    metadata: dict[str, Any]
    created_at: str | None
    parent_checkpoint: ThreadCheckpoint | None
    tasks: list[dict[str, Any]]
    interrupts: list[dict[str, Any]]


class AssistantOut(BaseModel):
    assistant_id: str
    graph_id: str
    name: str
    description: str | None
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    version: int
    created_at: str
    updated_at: str
