"""Recording one turn: graph events become stored messages and published run events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from graphchat.agent import ApprovalRequest, ModelReply, ToolResult
from graphchat.errors import GraphchatError
from graphchat.ids import new_id
from graphchat.llm.base import Usage
from graphchat.service.agent_messages import to_new
from graphchat.service.approvals import pending_of
from graphchat.service.event_writer import EventWriter
from graphchat.service.events import EventName, RunEvent
from graphchat.service.live import LiveRun
from graphchat.service.payloads import message_payload, usage_payload
from graphchat.store.messages import message_rows
from graphchat.store.records import (
    Message,
    MessageStatus,
    NewMessage,
    Run,
    RunOutcome,
    RunStatus,
    Tail,
    Thread,
)
from graphchat.store.runs import RunRepository

log = structlog.get_logger(__name__)
# Seconds: a client that streams a run follows it as soon as it starts; one gone before it
# did holds LangGraph's set-up of the run this long (agent/opening.py).
HEARD_WITHIN = 0.1


@dataclass
class Turn:
    """A started turn: what was stored up front, its live events, and (later) its outcome."""

    thread: Thread
    run: Run
    input_messages: list[Message]
    live: LiveRun
    tail: Tail  # where the run's next messages go: it is the thread's only writer while it runs
    history: list[Message] | None = None  # the context window read when the turn began
    output_messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    status: RunStatus = RunStatus.RUNNING
    error: GraphchatError | None = None
    approval: ApprovalRequest | None = None  # the graph stopped for these calls


class TurnRecorder:
    """The run's `RunEvents`: what the graph's nodes produce becomes stored messages and
    published run events.

    The final reply is written in the same transaction as the run's status and its events, so
    a simple turn costs one write after the model answers. That write starts as soon as the
    last reply is in: LangGraph winds the graph down meanwhile, off the answer's path.
    """

    def __init__(
        self,
        turn: Turn,
        runs: RunRepository,
        events: EventWriter,
        on_success: Callable[[Turn], None] | None = None,
    ) -> None:
        self._turn = turn
        self._runs = runs
        self._events = events
        self._on_success = on_success  # called once the success is stored, before `end`
        self._live = turn.live
        self._message_id: str | None = None
        self._partial: list[str] = []
        self._pending: NewMessage | None = None
        self._ending: asyncio.Future[None] | None = None  # the success the last reply began

    def publish_metadata(self) -> None:
        run = self._turn.run
        self._live.publish(
            "metadata",
            {"run_id": run.id, "thread_id": run.thread_id, "model": run.model, "attempt": 1},
        )

    def token(self, text: str) -> None:
        """A piece of the reply: kept for an unfinished reply and published at once."""
        if self._message_id is None:
            self._message_id = new_id()
        self._partial.append(text)
        self._live.publish("token", {"message_id": self._message_id, "text": text})

    async def heard(self) -> None:
        """Return once a follower has taken the events so far, or after `HEARD_WITHIN`."""
        await self._live.heard(HEARD_WITHIN)

    async def event(self, item: ModelReply | ToolResult | ApprovalRequest) -> None:
        """A complete reply, a tool's result, or the calls that wait for a person."""
        if isinstance(item, ModelReply):
            await self._on_reply(item)
        elif isinstance(item, ApprovalRequest):
            self._turn.approval = item
        else:
            status = MessageStatus.ERROR if item.is_error else MessageStatus.COMPLETE
            await self._store_now(to_new(item.message, status=status))

    async def _on_reply(self, reply: ModelReply) -> None:
        await self._flush_pending()
        usage = reply.usage
        self._turn.usage = Usage(
            self._turn.usage.prompt_tokens + usage.prompt_tokens,
            self._turn.usage.completion_tokens + usage.completion_tokens,
        )
        self._turn.finish_reason = reply.finish_reason
        self._pending = to_new(
            reply.message,
            id=self._message_id or new_id(),
            model=reply.model,
            finish_reason=reply.finish_reason,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            latency_ms=round(reply.latency_ms, 3),
            cached=reply.cached,
        )
        self._message_id = None
        self._partial.clear()
        if reply.message.tool_calls:
            # Store and publish the calls now, so clients show them while the tools run.
            await self._flush_pending()
        if reply.last:
            await self._end_from_last_reply()

    async def _end_from_last_reply(self) -> None:
        """Store the run's success now that its answer is complete."""
        success = self._finish(RunStatus.SUCCESS, None)
        if self._runs.writes_wait:  # its round trip overlaps LangGraph winding the graph down
            self._ending = asyncio.ensure_future(success)
        else:
            await success  # the loop's own work: done here, and a failure reaches the graph
            stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            stored.set_result(None)
            self._ending = stored
        # LangGraph winds the graph down in this task before it next yields: the finish's
        # statement, or the answer to whoever waits for the run's end, goes first.
        await asyncio.sleep(0)

    async def _flush_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await self._store_now(pending)

    async def _store_now(self, message: NewMessage) -> None:
        await self._flush_pending()
        turn = self._turn
        stored = await self._runs.append(turn.thread.id, turn.run.id, [message], turn.tail)
        for message_row in stored:
            self._emit_message(message_row)

    def _emit_message(self, stored: Message) -> None:
        self._turn.output_messages.append(stored)
        self._turn.tail = Tail(stored.seq, stored.id)
        self._live.publish("message", message_payload(stored))

    async def succeed(self) -> None:
        if self._ending is None:
            await self._finish(RunStatus.SUCCESS, None)
        else:  # shielded: a cancel meanwhile must not stop the write halfway
            await asyncio.shield(self._ending)

    async def fail(self, error: GraphchatError) -> None:
        if not await self._ended():
            self._turn.error = error
            await self._finish(RunStatus.ERROR, error)

    async def cancel(self, status: RunStatus = RunStatus.CANCELLED) -> None:
        if not await self._ended():
            await self._finish(status, None)

    async def _ended(self) -> bool:
        """Whether the run's success, begun at its last reply, is stored (waited for if on its
        way): a cancel or an error after the answer is complete then changes nothing."""
        if self._ending is None:
            return False
        try:
            await asyncio.shield(self._ending)
        except Exception:  # not stored: the outcome asked for now is recorded instead
            self._ending = None
            return False
        return True

    async def fail_or_abandon(self, error: GraphchatError) -> None:
        """`fail`; if even that cannot be recorded, still end every stream with `error`."""
        try:
            await self.fail(error)
        except Exception as storage_error:  # the database failed or refused too
            self._turn.error = error
            self._abandon(storage_error)

    async def cancel_or_abandon(self, status: RunStatus) -> None:
        """`cancel`; if that cannot be recorded, still end every stream."""
        try:
            await self.cancel(status)
        except Exception as storage_error:  # the database failed or refused too
            self._abandon(storage_error)

    def _abandon(self, storage_error: Exception) -> None:
        """The run's end could not be recorded: end every stream so no client waits forever."""
        turn = self._turn
        if isinstance(storage_error, GraphchatError):
            log.error("run_not_recorded", run_id=turn.run.id, error=storage_error.message)
        else:
            log.error("run_not_recorded", run_id=turn.run.id, exc_info=storage_error)
            storage_error = GraphchatError(
                "the run's end could not be recorded; see the server log"
            )
        turn.status = RunStatus.ERROR
        turn.error = turn.error or storage_error
        self._live.end_with_error(turn.error.code, turn.error.message)

    async def pause(self, pending: dict[str, Any]) -> None:
        """End the run `requires_action`, keeping `pending` (the calls waiting for a person)."""
        await self._finish(RunStatus.REQUIRES_ACTION, None, pending)  # never after a last reply

    def last_assistant_id(self) -> str:
        """The stored assistant message that made the current tool calls."""
        return next(m.id for m in reversed(self._turn.output_messages) if m.role == "assistant")

    def _unfinished_reply(self, status: RunStatus) -> NewMessage:
        """What the model had said when the run stopped early, stored with the reason."""
        message_status = {
            RunStatus.ERROR: MessageStatus.ERROR,
            RunStatus.CANCELLED: MessageStatus.CANCELLED,
        }.get(status, MessageStatus.INTERRUPTED)
        return NewMessage(
            id=self._message_id or new_id(),
            role="assistant",
            content="".join(self._partial),
            model=self._turn.run.model,
            status=message_status,
            finish_reason="error" if status == RunStatus.ERROR else "cancelled",
        )

    def _final_messages(self, status: RunStatus) -> list[NewMessage]:
        final = [self._pending] if self._pending is not None else []
        self._pending = None
        # A reply the model finished just before the stop is the answer, not a second one.
        if status not in (RunStatus.SUCCESS, RunStatus.REQUIRES_ACTION) and (
            self._partial or not final
        ):
            final.append(self._unfinished_reply(status))
            self._turn.finish_reason = final[-1].finish_reason
        return final

    async def _finish(
        self,
        status: RunStatus,
        error: GraphchatError | None,
        pending: dict[str, Any] | None = None,
    ) -> None:
        """One transaction: the last messages, the run's status and usage, and its events."""
        turn = self._turn
        rows = message_rows(turn.thread.id, turn.run.id, self._final_messages(status), turn.tail)
        error_body = {"code": error.code, "message": error.message} if error else None
        outcome = RunOutcome(
            status=status,
            prompt_tokens=turn.usage.prompt_tokens,
            completion_tokens=turn.usage.completion_tokens,
            error=error_body,
            pending=pending,
        )
        turn.run = replace(
            turn.run,
            status=status,
            error=error_body,
            prompt_tokens=turn.usage.prompt_tokens,
            completion_tokens=turn.usage.completion_tokens,
            pending=pending,
        )
        closing = self._closing_event(error_body)
        async with self._events.unwritten(self._live) as earlier:
            planned: list[tuple[EventName, dict[str, Any]]] = [
                ("message", message_payload(row)) for row in rows
            ]
            planned.append(closing)
            seq = self._live.next_seq
            events = [
                RunEvent(turn.run.id, seq + offset, name, data)
                for offset, (name, data) in enumerate(planned)
            ]
            if not await self._runs.finish(
                turn.thread.id, turn.run.id, outcome, rows, earlier + events
            ):
                rows = []  # the thread was deleted meanwhile: nothing was stored
            turn.status = status
            for row in rows:
                self._emit_message(row)
            if status == RunStatus.SUCCESS and self._on_success is not None:
                self._on_success(turn)
            self._live.publish(*closing)

    def _closing_event(self, error_body: dict[str, Any] | None) -> tuple[EventName, dict[str, Any]]:
        turn = self._turn
        if error_body is not None:
            return "error", {"error": error_body, "run_id": turn.run.id}
        end: dict[str, Any] = {
            "run_id": turn.run.id,
            "thread_id": turn.thread.id,
            "status": turn.run.status.value,
            "finish_reason": turn.finish_reason,
            "usage": usage_payload(turn.usage.prompt_tokens, turn.usage.completion_tokens),
        }
        if turn.run.pending is not None:
            end["pending"] = pending_of(turn.run)
        return "end", end
