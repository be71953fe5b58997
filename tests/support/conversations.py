"""Conversations built as store records (not stored) for the store's unit tests: a thread, and
a forked conversation whose messages are reached by sequence number."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from graphchat.store.messages import message_rows
from graphchat.store.records import Message, NewMessage, Tail, Thread
from graphchat.store.threads import utcnow


def thread_record(thread_id: str, owner: str = "alice", title: str | None = None) -> Thread:
    now = utcnow()
    return Thread(thread_id, owner, title, None, {"source": "test"}, now, now)


def chain(
    thread_id: str, after: Tail, said: Sequence[tuple[str, str]], run_id: str | None = None
) -> list[Message]:
    """Messages (role, content) numbered after `after.seq`, the first a child of
    `after.leaf_id` and each the parent of the next."""
    new = [NewMessage(role=role, content=content) for role, content in said]
    return message_rows(thread_id, run_id, new, after)


@dataclass(frozen=True, slots=True)
class Forked:
    """A thread with an edited question and a regenerated answer (seq: role, under its parent):

    1 user ─ 2 assistant ┬ 3 user ─ 4 assistant (tool call) ─ 5 tool ─ 6 assistant
                         └ 7 user ┬ 8 assistant
                                  └ 9 assistant (the leaf)
    """

    messages: list[Message]

    def __getitem__(self, seq: int) -> Message:
        return self.messages[seq - 1]

    @property
    def leaf(self) -> Message:
        return self.messages[-1]

    def branch(self, seq: int) -> list[int]:
        """The sequence numbers from the first message down to `seq`."""
        by_id = {message.id: message for message in self.messages}
        numbers: list[int] = []
        message: Message | None = self[seq]
        while message is not None:
            numbers.append(message.seq)
            message = by_id.get(message.parent_id or "")
        return numbers[::-1]


def forked(thread_id: str) -> Forked:
    first = chain(thread_id, Tail(0, None), [("user", "hi"), ("assistant", "hello")])
    asked = chain(thread_id, Tail(2, first[-1].id), [("user", "first question")])
    tools = chain(thread_id, Tail(3, asked[-1].id), [("assistant", ""), ("tool", "42")])
    tools[0] = _with_tool_call(tools[0])
    answered = chain(thread_id, Tail(5, tools[-1].id), [("assistant", "first answer")])
    edited = chain(thread_id, Tail(6, first[-1].id), [("user", "second question")])
    replies = [
        *chain(thread_id, Tail(7, edited[-1].id), [("assistant", "second answer")]),
        *chain(thread_id, Tail(8, edited[-1].id), [("assistant", "second answer, again")]),
    ]
    return Forked([*first, *asked, *tools, *answered, *edited, *replies])


def _with_tool_call(message: Message) -> Message:
    call = {"id": "call-1", "type": "function", "function": {"name": "answer", "arguments": "{}"}}
    return replace(message, tool_calls=[call])
