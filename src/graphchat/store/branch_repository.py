"""Branch operations for the service: branch points, sibling lookups, switching the leaf."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, String, bindparam
from sqlalchemy.engine import Connection

from graphchat.errors import InvalidRequest, NotFound, ThreadBusy
from graphchat.store.branches import (
    Siblings,
    ancestors,
    latest_descendant,
    message_in_thread,
    siblings_of,
    state_ends,
    switch_leaf_when_idle,
    turn_input,
)
from graphchat.store.database import run_transaction
from graphchat.store.messages import message_from_row
from graphchat.store.records import Message
from graphchat.store.repository import Repository
from graphchat.store.threads import select_thread, thread_not_found


@dataclass(frozen=True, slots=True)
class CheckpointPaths:
    """The paths to a page of state-ending messages (each oldest first, its end last), and the
    ids of the current branch's messages among what was read."""

    paths: list[list[Message]]
    current: frozenset[str]


# Built once, as the turn's statements are: a page's walks are one statement each.
_WALK = ancestors(
    bindparam("start", type_=String),
    bindparam("bound", type_=Integer),
    stop_at=bindparam("stop_at", expanding=True),
)


@dataclass(slots=True)
class _Walker:
    """Reads paths towards the first message, each message once: a walk stops at a message
    an earlier walk read (its ancestors were read too), and the path goes on from what was
    read. Each walk goes `spare` messages further than the path needs, so the older ends of a
    page, whose paths reach further back, mostly find their messages read already."""

    connection: Connection
    spare: int
    known: dict[str, Message] = field(default_factory=dict)  # the page's ends, and walked
    walked: set[str] = field(default_factory=set)
    # Each message a path went through → (that walk, newest first; its place in the walk). The
    # page's other ends on one branch lie on an earlier walk: their paths are slices of it,
    # continued where it stops, instead of a message-by-message walk of `depth` each.
    places: dict[str, tuple[list[Message], int]] = field(default_factory=dict)

    def path(self, end_id: str, depth: int) -> list[Message]:
        """The last `depth` messages of the path ending at `end_id`, oldest first."""
        walk, at = self.places.get(end_id) or ([], 0)
        next_id = walk[-1].parent_id if walk else end_id
        while next_id is not None and len(walk) - at < depth:
            if next_id not in self.known:
                self._read(next_id, depth - (len(walk) - at) + self.spare)
            message = self.known.get(next_id)
            if message is None:
                break  # a leaf id that is not (or no longer) a message
            self.places.setdefault(next_id, (walk, len(walk)))
            walk.append(message)
            next_id = message.parent_id
        return walk[at : at + depth][::-1]

    def _read(self, start_id: str, bound: int) -> None:
        parameters = {"start": start_id, "bound": bound, "stop_at": list(self.walked)}
        for row in self.connection.execute(_WALK, parameters).all():
            self.known[row.id] = message_from_row(row)
            self.walked.add(row.id)


def message_not_found(message_id: str) -> NotFound:
    return NotFound(f"message '{message_id}' was not found", code="message_not_found")


class BranchRepository(Repository):
    """Branch points for regenerate and edit, sibling lookups, and switching the leaf."""

    async def message(self, owner: str, thread_id: str, message_id: str) -> Message:
        """A message of `owner`'s thread (another owner's thread is not found)."""

        def read(connection: Connection) -> Any | None:
            if select_thread(connection, owner, thread_id) is None:
                raise thread_not_found(thread_id)
            return message_in_thread(connection, thread_id, message_id)

        row = await run_transaction(self._engine, read)
        if row is None:
            raise message_not_found(message_id)
        return message_from_row(row)

    async def answered(self, thread_id: str, message_id: str) -> Message:
        """The user message whose turn produced `message_id` (itself for a user message)."""
        row = await run_transaction(
            self._engine, lambda connection: turn_input(connection, thread_id, message_id)
        )
        if row is None:
            raise InvalidRequest(
                f"message '{message_id}' answers no user message", code="not_regenerable"
            )
        return message_from_row(row)

    async def siblings(
        self, thread_id: str, messages: Sequence[Message]
    ) -> dict[str | None, Siblings]:
        parents = [message.parent_id for message in messages]
        return await run_transaction(
            self._engine, lambda connection: siblings_of(connection, thread_id, parents)
        )

    async def switch(self, owner: str, thread_id: str, message_id: str, descend: bool) -> str:
        """Show the branch through `message_id` (down to its newest descendant with `descend`).

        Raises `ThreadBusy` while a run answers on the thread (its messages follow the leaf)
        or waits for approval (it resumes there; deciding, or a new turn, ends the pause).
        """

        def switch(connection: Connection) -> str:
            if select_thread(connection, owner, thread_id) is None:
                raise thread_not_found(thread_id)
            if message_in_thread(connection, thread_id, message_id) is None:
                raise message_not_found(message_id)
            leaf = latest_descendant(connection, thread_id, message_id) if descend else message_id
            if not switch_leaf_when_idle(connection, thread_id, leaf):
                raise ThreadBusy(
                    f"thread '{thread_id}' is answering or waits for approval; switch after that"
                )
            return leaf

        return await run_transaction(self._engine, switch, write=True)

    async def checkpoint_paths(
        self, thread_id: str, limit: int, depth: int, *, before: int | None, at: int | None
    ) -> CheckpointPaths:
        """The paths (at most `depth` messages each) to `state_ends`' messages, and which
        messages read lie on the current branch.

        Reads `limit` rows, then each path's messages once: O(limit + depth) rows for a page on
        one branch, plus the messages a fork's other branches add, whatever the thread's size."""
        query, parameters = state_ends(thread_id, limit, before=before, at=at)

        def read(connection: Connection) -> CheckpointPaths:
            ends = connection.execute(query, parameters).all()
            # The page's ends on one branch lie at most their span of numbers apart.
            span = ends[0].seq - ends[-1].seq if ends else 0
            walker = _Walker(connection, spare=min(span, depth))
            walker.known.update((row.id, message_from_row(row)) for row in ends)
            paths = [walker.path(row.id, depth) for row in ends]
            leaf = ends[0].leaf if ends else None
            current = walker.path(leaf, depth) if leaf is not None else []
            return CheckpointPaths(paths, frozenset(m.id for m in current))

        return await run_transaction(self._engine, read)
