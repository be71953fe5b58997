"""Bodies of the LangGraph server API, lenient as its clients expect: unknown fields are ignored."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from graphchat.api.schemas import Configurable, InputMessage, JsonObject, Metadata, ThreadId
from graphchat.api.schemas.bodies import (
    USER_MESSAGE_SCHEMA as USER_MESSAGE,  # the native runs' rule
)


def _not_bool(value: object) -> object:
    """JSON Schema's integers include `3.0` but not `true`, which pydantic's lax mode takes."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    return value


SearchLimit = Annotated[int, Field(ge=1, le=1000), BeforeValidator(_not_bool)]
CheckpointId = Annotated[str, StringConstraints(max_length=64)]
SearchOffset = Annotated[int, Field(ge=0, le=1_000_000), BeforeValidator(_not_bool)]
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


# A thread search matches metadata values exactly: strings, numbers and booleans, no nesting.
MetadataFilter = Annotated[dict[str, str | bool | int | float], Field(max_length=64)]


class ThreadSearch(LenientBody):
    metadata: MetadataFilter | None = None
    ids: list[ThreadId] | None = Field(None, max_length=1000)
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: SearchLimit = 10
    offset: SearchOffset = 0
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None


class CheckpointIn(LenientBody):
    checkpoint_id: CheckpointId | None = None


class HistoryIn(LenientBody):
    limit: SearchLimit = 10
    before: CheckpointId | CheckpointIn | None = None
    checkpoint: CheckpointIn | None = Field(
        default=None, description="Only the state at this checkpoint (a list of one, or none)."
    )

    def before_id(self) -> str | None:
        return self.before.checkpoint_id if isinstance(self.before, CheckpointIn) else self.before

    def checkpoint_id(self) -> str | None:
        return self.checkpoint.checkpoint_id if self.checkpoint is not None else None


class StateAtIn(LenientBody):
    checkpoint: CheckpointIn


class RunInputIn(LenientBody):
    messages: list[InputMessage] = Field(default_factory=list, max_length=64)


class RunConfigIn(LenientBody):
    configurable: Configurable = Field(default_factory=Configurable)


# LangChain's human-in-the-loop decisions: lenient, unlike the native API's `ApproveIn`…
class HitlApproveIn(LenientBody):
    type: Literal["approve"]


class EditedActionIn(LenientBody):
    name: Name | None = None
    args: JsonObject


class HitlEditIn(LenientBody):
    type: Literal["edit"]
    edited_action: EditedActionIn = Field(description="The call to run instead: its arguments.")


class HitlRejectIn(LenientBody):
    type: Literal["reject"]
    message: Annotated[str, StringConstraints(max_length=32_000)] | None = Field(
        None, description="Why: the model reads it in the error tool message."
    )


HitlDecisionIn = Annotated[HitlApproveIn | HitlEditIn | HitlRejectIn, Field(discriminator="type")]


class HitlResponseIn(LenientBody):
    """LangChain's `HITLResponse`: one decision per action request of the interrupt, in order."""

    decisions: list[HitlDecisionIn] = Field(max_length=64)


class CommandIn(LenientBody):
    """LangGraph's `Command`; graphchat carries out `resume` (a pause's decisions) alone."""

    resume: HitlResponseIn | dict[Name, HitlResponseIn] = Field(
        description="The decisions, or `{<interrupt id>: {decisions: [...]}}`."
    )
    goto: None = Field(None, description="Not supported (only null).")
    update: None = Field(None, description="Not supported (only null).")


_NO_INPUT_MESSAGES: dict[str, Any] = {
    "anyOf": [{"type": "null"}, {"type": "object", "properties": {"messages": {"maxItems": 0}}}]
}
# A run has input with a user message, or a `command` and no input messages, or (answering
# again from an earlier state: agent-chat-ui's regenerate) a checkpoint and no input messages.
_INPUT_OR_COMMAND: dict[str, Any] = {
    "anyOf": [
        {
            "anyOf": [
                {
                    "required": ["checkpoint"],
                    "properties": {
                        "checkpoint": {
                            "type": "object",
                            "required": ["checkpoint_id"],
                            "properties": {"checkpoint_id": {"type": "string"}},
                        }
                    },
                },
                {
                    "required": ["checkpoint_id"],
                    "properties": {"checkpoint_id": {"type": "string"}},
                },
            ],
            "properties": {"command": {"type": "null"}, "input": _NO_INPUT_MESSAGES},
        },
        {
            "required": ["input"],
            "properties": {
                "input": {
                    "type": "object",
                    "required": ["messages"],
                    "properties": {"messages": {"minItems": 1, "contains": USER_MESSAGE}},
                },
                "command": {"type": "null"},
            },
        },
        {
            "required": ["command"],
            "properties": {
                "command": {"type": "object"},
                "input": {
                    "anyOf": [
                        {"type": "null"},
                        {"type": "object", "properties": {"messages": {"maxItems": 0}}},
                    ]
                },
            },
        },
    ]
}


class RunCreate(LenientBody):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_INPUT_OR_COMMAND)

    assistant_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    input: RunInputIn | None = None
    command: CommandIn | None = None
    config: RunConfigIn = Field(default_factory=RunConfigIn)
    metadata: Metadata | None = None
    stream_mode: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=lambda: ["values"], max_length=16
    )
    checkpoint: CheckpointIn | None = None
    checkpoint_id: CheckpointId | None = None
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
