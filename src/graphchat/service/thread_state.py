"""Thread state, history and status synthesised from the message log (no checkpointer).

A checkpoint is a position in the log: the sequence number of its last message. Each turn has
two: after the caller's messages (`input`) and after the run's reply (`loop`). Ids are the
zero-padded sequence number, so they sort as strings in the order they were made; sequence
numbers start at 1, and 0 is the empty thread before its first message, the first state's
parent. Values are bounded: a state carries at most the last `values_max` messages before its
checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise
from typing import Literal

from graphchat.errors import NotFound
from graphchat.service.runs import RunResult
from graphchat.store import Store
from graphchat.store.branches import BranchPoint
from graphchat.store.records import Message, MessageWindow, Run, RunStatus, Thread
from graphchat.store.thread_search import FoundThread, ThreadQuery

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
_CHECKPOINT_DIGITS = 20
VALUES_MAX_MESSAGES = 200  # the most messages a state (or a `values` event) carries
ROOT_SEQ = 0  # the checkpoint before a thread's first message (LangGraph's first `input` state)


def checkpoint_id(seq: int) -> str:
    return str(seq).zfill(_CHECKPOINT_DIGITS)


def parse_checkpoint_id(value: str) -> int:
    if not value.isdigit() or len(value) > _CHECKPOINT_DIGITS:
        raise NotFound(f"checkpoint '{value[:64]}' was not found", code="checkpoint_not_found")
    return int(value)


def thread_status(last_run: RunStatus | None) -> ThreadStatus:
    """LangGraph's thread status from the thread's latest run."""
    if last_run in (RunStatus.RUNNING, RunStatus.PENDING):
        return "busy"
    if last_run == RunStatus.REQUIRES_ACTION:
        return "interrupted"  # paused for a person's approval
    return "error" if last_run == RunStatus.ERROR else "idle"


_STATUS_RUNS: dict[ThreadStatus, list[RunStatus | None]] = {
    "busy": [RunStatus.RUNNING, RunStatus.PENDING],
    "error": [RunStatus.ERROR],
    "idle": [None, RunStatus.SUCCESS, RunStatus.CANCELLED, RunStatus.INTERRUPTED],
    "interrupted": [RunStatus.REQUIRES_ACTION],
}


@dataclass(frozen=True, slots=True)
class State:
    """The thread as of one checkpoint (`seq` None: an empty thread)."""

    messages: list[Message]
    seq: int | None
    parent_seq: int | None
    source: Literal["input", "loop"]
    step: int
    created_at: datetime | None

    @property
    def next(self) -> list[str]:
        return ["agent"] if self.source == "input" else []


def _boundaries(messages: list[Message]) -> list[int]:
    """The indexes of the messages that end a state: the last, and each one the next message
    is on the other side of (the caller's after the model's, or the reverse). One pass over the
    roles: this runs for each message of each state a history lists."""
    users = [message.role == "user" for message in messages]
    ends = [index for index, (side, after) in enumerate(pairwise(users)) if side != after]
    return [*ends, len(messages) - 1] if messages else []


def state_of_path(path: list[Message]) -> State:
    """The state ending at the last message of `path` (the messages before it on its branch,
    oldest first); its parent is the nearest state end before it on the path."""
    ends = _boundaries(path)[:-1]  # before the path's own end
    end = path[-1]
    if ends:
        parent_seq: int | None = path[ends[-1]].seq
    else:
        parent_seq = ROOT_SEQ if path[0].parent_id is None else None
    return State(
        messages=path,
        seq=end.seq,
        parent_seq=parent_seq,
        source="input" if end.role == "user" else "loop",
        step=len(ends),
        created_at=end.created_at,
    )


def listing_order(states: list[State], current: frozenset[str]) -> list[State]:
    """`states` (of one page) with every state before its parent, newest first along each
    branch, and at a fork the current branch's child (its end's id in `current`) first, then
    the others newest first: the first state is the current branch's latest, and clients that
    follow a fork's first child (LangGraph's `useStream`) show the current branch.

    The reverse of a pre-order walk that visits a fork's current child last."""
    listed = {state.seq for state in states}
    children: dict[int | None, list[State]] = {}
    for state in states:
        parent = state.parent_seq if state.parent_seq in listed else None
        children.setdefault(parent, []).append(state)

    def visited_last_first(found: list[State]) -> list[State]:
        return sorted(found, key=lambda s: (s.messages[-1].id in current, s.seq), reverse=True)

    order: list[State] = []
    stack = visited_last_first(children.get(None, []))
    while stack:
        state = stack.pop()
        order.append(state)
        stack.extend(visited_last_first(children.get(state.seq, [])))
    return order[::-1]


@dataclass(frozen=True, slots=True)
class CurrentState:
    """Where a thread stands: its status, latest state and the run paused for approval."""

    status: ThreadStatus
    state: State
    paused: Run | None


def _latest_state(messages: list[Message]) -> State:
    """The state ending at the last of a branch's newest `messages`: one state, not one per
    turn of them (each with its own copy of the messages before it)."""
    return state_of_path(messages) if messages else State([], None, None, "loop", -1, None)


class ThreadStateService:
    def __init__(self, store: Store, values_max: int) -> None:
        self._store = store
        self.values_max = values_max

    async def recent(self, thread_id: str, before: int | None = None) -> list[Message]:
        """The last `values_max` messages of a thread (before `before`), oldest first."""
        if before is None:  # the branch's newest: one statement, one call (no page to number)
            return await self._store.messages.recent(thread_id, self.values_max)
        window = MessageWindow(self.values_max, before=before, order="desc")
        page = await self._store.messages.page(thread_id, window)
        return page.items[::-1]

    async def before_run(self, run: Run, window: list[Message] | None = None) -> list[Message]:
        """The thread as the run found it (at most `values_max` messages): earlier messages,
        then the run's own input; from `window` (`RunStream.window`) when it holds them all."""
        if (held := self._held(window)) is not None:
            return held
        own = await self._store.messages.of_run(run.id)
        if not own:
            return await self.recent(run.thread_id)
        earlier = await self.recent(run.thread_id, before=own[0].seq)
        return [*earlier, *(m for m in own if m.role == "user")][-self.values_max :]

    async def after_run(self, result: RunResult) -> list[Message]:
        """The thread's latest messages once `result`'s run ended (at most `values_max`): its
        window and outputs, when the window holds the whole branch before them."""
        if (held := self._held(result.window)) is not None:
            return [*held, *result.output_messages][-self.values_max :]
        return await self.recent(result.run.thread_id)

    def _held(self, window: list[Message] | None) -> list[Message] | None:
        """A turn's `window` as a state carries it (its last `values_max` messages), if it
        holds that much of its branch: all of it (from the thread's first message), or more."""
        if window and (len(window) >= self.values_max or window[0].parent_id is None):
            return window[-self.values_max :]
        return None

    async def current(self, thread: Thread) -> CurrentState:
        """The thread's status, latest state and pause, from one read. A paused run is the
        thread's newest: a new turn closes the pauses before it (store/pauses.py)."""
        run, messages = await self._store.runs.latest_with_branch(thread.id, self.values_max)
        status = thread_status(run.status if run is not None else None)
        paused = run if status == "interrupted" else None
        return CurrentState(status, _latest_state(messages), paused)

    async def history(
        self, thread: Thread, *, limit: int, before: str | None = None, at: str | None = None
    ) -> list[State]:
        """The newest `limit` states of every branch (checkpoints below `before`, or only `at`),
        in `listing_order`."""
        found = await self._store.branches.checkpoint_paths(
            thread.id,
            limit,
            self.values_max,
            before=parse_checkpoint_id(before) if before is not None else None,
            at=parse_checkpoint_id(at) if at is not None else None,
        )
        states = [state_of_path(path) for path in found.paths if path]
        return listing_order(states, found.current)

    async def state_at(self, thread: Thread, checkpoint: str) -> State:
        """The state at `checkpoint`, on any branch (`ROOT_SEQ`: the empty thread)."""
        if parse_checkpoint_id(checkpoint) == ROOT_SEQ:
            return State([], ROOT_SEQ, None, "input", -1, None)
        found = await self.history(thread, limit=1, at=checkpoint)
        if not found:
            raise NotFound(f"checkpoint '{checkpoint}' was not found", code="checkpoint_not_found")
        return found[0]

    async def paused(self, thread: Thread) -> Run | None:
        """The thread's run waiting for approval, if any (a new turn closes older pauses)."""
        return (await self._store.runs.paused_in([thread.id])).get(thread.id)

    async def paused_among(self, found: Sequence[FoundThread]) -> dict[str, Run]:
        """The paused run of each interrupted thread of a search, by thread id, in one read."""
        return await self._store.runs.paused_in(
            [item.thread.id for item in found if item.last_run_status == RunStatus.REQUIRES_ACTION]
        )

    def kept_leaf(self, owner: str, thread_id: str, checkpoint: str | None) -> int | None:
        """`checkpoint`'s sequence number when this process keeps it as the thread's leaf: a
        run from there continues the branch if it still ends there (`TurnRequest.continue_at`),
        without reading the thread first (agent-chat-ui names its history's head each run)."""
        if checkpoint is None:
            return None
        seq = parse_checkpoint_id(checkpoint)
        return seq if self._store.runs.kept_leaf(owner, thread_id) == seq else None

    async def branch_point(
        self, owner: str, thread_id: str, checkpoint: str | None, *, always: bool = False
    ) -> BranchPoint | None:
        """Where a run from `checkpoint` starts: None at the thread's latest checkpoint (the
        run continues the branch) unless `always`, else a new branch after that checkpoint's
        last message (before the first one for `ROOT_SEQ`) — LangGraph's fork, which
        agent-chat-ui's edit and regenerate send."""
        if checkpoint is None:
            return None
        seq = parse_checkpoint_id(checkpoint)
        missing = NotFound(f"checkpoint '{checkpoint}' was not found", code="checkpoint_not_found")
        found = await self._store.messages.checkpoint(owner, thread_id, seq)
        if found is None:
            raise missing
        if not always and found.leaf_seq == seq:  # an empty thread's leaf is ROOT_SEQ
            return None
        if seq == ROOT_SEQ:
            return BranchPoint(None)
        if found.message_id is None:
            raise missing
        return BranchPoint(found.message_id)

    async def statuses(self, owner: str, thread_ids: list[str]) -> dict[str, ThreadStatus]:
        found = await self._store.thread_search.last_run_statuses(owner, thread_ids)
        return {thread_id: thread_status(found.get(thread_id)) for thread_id in thread_ids}

    async def search(
        self, query: ThreadQuery, status: ThreadStatus | None
    ) -> tuple[list[FoundThread], dict[str, Message]]:
        """Matching threads with each one's first message (a cheap label)."""
        if status is not None:
            query = replace(query, statuses=_STATUS_RUNS[status])
        found = await self._store.thread_search.search(query)
        firsts = await self._store.thread_search.first_messages([f.thread.id for f in found])
        return found, firsts
