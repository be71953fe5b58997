"""What flows through the graph: its state, the per-run context, and the events nodes emit."""

from __future__ import annotations

import asyncio
import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, NotRequired, Protocol, TypedDict

from graphchat.agent.tools.approval import Decision
from graphchat.agent.tools.base import ToolContext
from graphchat.llm.base import (
    ChatMessage,
    FinishReason,
    ResponseFormat,
    SamplingParams,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    from graphchat.agent.opening import OpenedRequest


class AgentState(TypedDict):
    """The conversation the model sees: the context window plus what this run added."""

    messages: Annotated[list[ChatMessage], operator.add]
    tool_rounds: NotRequired[int]
    # A person's decisions on the last message's pending calls, in order: the run resumes there.
    decisions: NotRequired[tuple[Decision, ...]]


class RunEvents(Protocol):
    """Where the nodes hand what they produce, as they produce it (the service's recorder).

    A plain call, not LangGraph's `custom` stream: that is a hop through its queue and the event
    loop's self-pipe (a syscall) per item, per token too.
    """

    def token(self, text: str) -> None: ...

    async def event(self, item: ModelReply | ToolResult | ApprovalRequest) -> None: ...

    async def heard(self) -> None:
        """Return once a client following the run has taken what it was handed (soon if none
        follows)."""


class _Unheard:
    """The sink of a run whose caller wants only the final state."""

    def token(self, text: str) -> None:
        pass

    async def event(self, item: ModelReply | ToolResult | ApprovalRequest) -> None:
        pass

    async def heard(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class RunContext:
    """Per-run settings handed to every node (never read from the environment)."""

    model: str
    params: SamplingParams = field(default_factory=SamplingParams)
    tools: tuple[ToolSpec, ...] = ()
    max_tool_rounds: int = 4
    tool_timeout: float = 10.0
    tool_context: ToolContext = field(default_factory=ToolContext)
    run_tools: bool = True  # False: the caller runs the tools; a tool call ends the run
    tool_choice: ToolChoice = "auto"
    response_format: ResponseFormat | None = None
    require_approval: frozenset[str] = frozenset()  # tools whose calls wait for a person
    events: RunEvents = field(default_factory=_Unheard)
    before_stored: BeforeStored | None = None  # the graph started while the run is stored
    opened: OpenedRequest | None = None  # the first model request, sent before the graph ran


@dataclass(frozen=True, slots=True)
class BeforeStored:
    """A run whose graph starts while its turn is still being stored (service/head_start.py).

    Nothing leaves the process for a run that is not stored: the first model call waits for
    `stored`, or, with `ask_ahead`, its reply's text and its failure do (the reply is read
    meanwhile). `waiting` is set once the graph first waits outside the event loop (its model
    request sent, or `stored` awaited): a write on the loop's own thread (SQLite) goes on then,
    while the model works. `streamed`: a client follows the run from its start, so its first
    token goes out before LangGraph sets the run up (agent/opening.py).
    """

    stored: asyncio.Future[None]
    waiting: asyncio.Future[None]
    ask_ahead: bool = False
    streamed: bool = False

    def about_to_wait(self) -> None:
        """The graph waits outside the loop from the end of its current step on."""
        if not self.waiting.done():
            # Set after this step: a request is sent before the step's first real wait.
            self.waiting.get_loop().call_soon(_set_once, self.waiting)


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(frozen=True, slots=True)
class ModelReply:
    """A complete assistant message and what it cost."""

    message: ChatMessage
    model: str
    finish_reason: FinishReason
    usage: Usage
    latency_ms: float
    cached: bool = False  # replayed from the response cache
    last: bool = False  # the run ends with it: no tool round or review follows


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The result (or error) of one tool call, as the tool message sent back to the model."""

    message: ChatMessage
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """The run stops here: these calls of the last assistant message wait for a person."""

    calls: tuple[ToolCall, ...]
    tool_rounds: int = 0  # rounds already used, so the limit holds across the pause
