"""What a turn is asked for (`TurnRequest`), what bounds it (`TurnLimits`), and the stream a
streamed turn returns (`RunStream`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, fields
from typing import Literal, Protocol

from graphchat.llm.base import ChatMessage, ResponseFormat, SamplingParams, ToolChoice, ToolSpec
from graphchat.service.events import RunEvent
from graphchat.store.branches import BranchPoint
from graphchat.store.records import Message, NewMessage, Run

MultitaskStrategy = Literal["reject", "enqueue", "interrupt"]


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """Everything a caller asks of one turn, already validated."""

    owner: str
    messages: tuple[NewMessage, ...]
    thread_id: str | None = None
    model: str | None = None
    params: SamplingParams = field(default_factory=SamplingParams)
    system: str | None = None
    create_thread: bool = True
    idempotency_key: str | None = None
    request_hash: str | None = None  # tells a retried request from a different one
    multitask: MultitaskStrategy = "reject"
    tools: tuple[str, ...] | None = None  # None: the thread's or the server's default tools
    # The caller's whole conversation (no system messages): the model sees it instead of the
    # stored history, and `messages` are what the thread stores of it (see `place`).
    context: tuple[ChatMessage, ...] | None = None
    client_tools: tuple[ToolSpec, ...] | None = None  # offered to the model, run by the caller
    tool_choice: ToolChoice = "auto"
    response_format: ResponseFormat | None = None
    after_seq: int | None = None  # `messages` must follow this stored message (no one else's)
    require_approval: tuple[str, ...] = ()  # tools that wait for a person, besides the server's
    branch_from: BranchPoint | None = None  # start a new branch there (regenerate, edit)
    # The branch's leaf as the caller names it (a checkpoint): refused with `LeafMoved`, nothing
    # stored, when the thread no longer ends there.
    continue_at: int | None = None
    # The newest messages of the branch the caller wants back (`RunStream.window`), when more
    # than the model's context: read with the turn, and kept with the thread's window after it.
    window_messages: int = 0


@dataclass(frozen=True, slots=True)
class TurnLimits:
    context_max_messages: int
    context_max_tokens: int
    system_prompt: str
    max_tool_rounds: int
    tool_timeout: float
    require_approval: tuple[str, ...]  # tool name patterns whose calls always wait


def window_size(request: TurnRequest, limits: TurnLimits) -> int:
    """How many of the branch's newest messages a turn reads with its begin: the model's
    context, or what the caller wants back if more; none for a caller-held conversation."""
    if request.context is not None:
        return 0
    return max(limits.context_max_messages, request.window_messages)


class ModelResolver(Protocol):
    """Picks the default model when neither the request nor the thread names one."""

    async def default_model(self) -> str | None: ...


_PARAM_NAMES = tuple(param.name for param in fields(SamplingParams))


def params_json(params: SamplingParams) -> dict[str, object]:
    """The parameters that are set, as a run stores them (without `dataclasses.asdict`, which
    deep-copies every field: 5 us of each turn, now 0.3)."""
    stored: dict[str, object] = {}
    for name in _PARAM_NAMES:
        value = getattr(params, name)
        if value is not None and value != ():
            stored[name] = list(value) if isinstance(value, tuple) else value
    return stored


@dataclass(frozen=True, slots=True)
class RunStream:
    """A run to stream: its record, the messages it was given, and its events."""

    run: Run
    input_messages: list[Message]
    events: AsyncIterator[RunEvent]
    # The branch as the run found it, its input last: the turn's context window (newest
    # `context_max_messages` before the input; from the thread's first message if shorter).
    # None when the turn did not read one (a replayed or resumed run, a caller-held context).
    window: list[Message] | None = None
