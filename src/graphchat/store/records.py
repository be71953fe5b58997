"""Plain records the store hands to the service layer (no SQLAlchemy objects escape `store/`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")
C = TypeVar("C")
EventName = Literal["metadata", "token", "message", "end", "error"]
FINAL_EVENTS = frozenset({"end", "error"})


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    REQUIRES_ACTION = "requires_action"  # paused: waiting for a person to approve tool calls

    @property
    def is_final(self) -> bool:
        """Nothing executes any more (a paused run may still be resumed or cancelled)."""
        return self not in (RunStatus.PENDING, RunStatus.RUNNING)


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens a message or a run used, as every API reports them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Thread:
    id: str
    owner: str
    title: str | None
    model: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def public_fields(self) -> dict[str, Any]:
        """What the APIs and the archive show of a thread: `id` as `thread_id`, no owner."""
        return {"thread_id": self.id} | {name: getattr(self, name) for name in _THREAD_SHOWN}

    @classmethod
    def from_public(cls, owner: str, fields: dict[str, Any]) -> Thread:
        """The thread `public_fields` showed (extra keys are ignored), owned by `owner`."""
        return cls(id=fields["thread_id"], owner=owner, **{n: fields[n] for n in _THREAD_SHOWN})


_THREAD_SHOWN = ("title", "model", "metadata", "created_at", "updated_at")


@dataclass(frozen=True, slots=True)
class NewThread:
    """A thread to create; the store stamps its times."""

    id: str
    owner: str
    title: str | None = None
    model: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MessageBody:
    """What a message says, whether stored yet or not."""

    role: str
    content: str
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    model: str | None = None
    status: str = MessageStatus.COMPLETE
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    cached: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Message(MessageBody):
    """A stored message: its body and where it stands in the thread."""

    id: str
    thread_id: str
    seq: int
    created_at: datetime
    run_id: str | None = None
    parent_id: str | None = None  # the previous message on its branch

    @property
    def usage(self) -> TokenUsage | None:
        """None for a message with no token counts (the caller's, a tool result)."""
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return TokenUsage(self.prompt_tokens or 0, self.completion_tokens or 0)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a thread's message stands: its current branch's last sequence number (0 when
    empty), and the id of the message numbered as asked (None: no such message)."""

    leaf_seq: int
    message_id: str | None


@dataclass(frozen=True, slots=True)
class NewMessage(MessageBody):
    """A message to append; the store assigns id (unless given), sequence number and timestamp."""

    id: str | None = None


@dataclass(frozen=True, slots=True)
class RunBody:
    """What a run is asked to do, whether started yet or not."""

    id: str
    thread_id: str
    owner: str
    model: str | None
    params: dict[str, Any]
    idempotency_key: str | None = None
    request_hash: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Run(RunBody):
    status: RunStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: dict[str, Any] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    pending: dict[str, Any] | None = None  # a paused run's pending tool calls, see `RunPause`

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage(self.prompt_tokens or 0, self.completion_tokens or 0)

    @property
    def updated_at(self) -> datetime:
        """When the run last changed state."""
        return self.finished_at or self.started_at or self.created_at


@dataclass(frozen=True, slots=True)
class Page(Generic[T, C]):
    """A page of items, whether more follow in the same direction, and the opaque cursor that
    fetches them (None on the last page, or where pages go by offset)."""

    items: list[T]
    has_more: bool
    next_cursor: C | None = None


@dataclass(frozen=True, slots=True)
class MessageWindow:
    """A page of a thread's current branch by sequence number: `limit` messages after skipping
    `offset`, strictly `before`/`after` a number, oldest (`asc`) or newest (`desc`) first."""

    limit: int
    offset: int = 0
    before: int | None = None
    after: int | None = None
    order: Literal["asc", "desc"] = "asc"


@dataclass(frozen=True, slots=True)
class Tail:
    """Where new messages go: after the thread's highest sequence number, as children of the
    current branch's last message (`leaf_id`; None in an empty thread)."""

    seq: int
    leaf_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRun(RunBody):
    """A run to start, claimed by the process `worker_id`."""

    worker_id: str


@dataclass(frozen=True, slots=True)
class TurnRules:
    """The caller's decisions that depend on the stored thread, applied inside `begin_turn`."""

    model: Callable[[str | None], str | None]  # the thread's model -> the run's
    title: Callable[[str | None, Sequence[NewMessage]], str | None]  # title, new messages -> title


@dataclass(frozen=True, slots=True)
class TurnStart:
    thread: Thread
    run: Run
    messages: list[Message]
    history: list[Message] = field(default_factory=list)  # the window, new messages included
    tail: Tail = field(default_factory=lambda: Tail(0, None))  # where the next messages go


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: RunStatus
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None  # what a `requires_action` run waits for


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One event of a run, as its clients see it and as it is stored (service/events.py)."""

    run_id: str
    seq: int
    event: EventName
    data: dict[str, Any]

    @property
    def is_final(self) -> bool:
        return self.event in FINAL_EVENTS
