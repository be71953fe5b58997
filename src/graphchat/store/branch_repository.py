"""Branch operations for the service: branch points, sibling lookups, switching the leaf."""

from __future__ import annotations

from collections.abc import Sequence

from graphchat.errors import InvalidRequest, NotFound, ThreadBusy
from graphchat.store.branches import (
    Siblings,
    latest_descendant,
    message_in_thread,
    siblings_of,
    switch_leaf_when_idle,
    turn_input,
)
from graphchat.store.database import transaction
from graphchat.store.messages import message_from_row
from graphchat.store.records import Message
from graphchat.store.repository import Repository
from graphchat.store.threads import select_thread, thread_not_found


def message_not_found(message_id: str) -> NotFound:
    return NotFound(f"message '{message_id}' was not found", code="message_not_found")


class BranchRepository(Repository):
    """Branch points for regenerate and edit, sibling lookups, and switching the leaf."""

    async def message(self, owner: str, thread_id: str, message_id: str) -> Message:
        """A message of `owner`'s thread (another owner's thread is not found)."""
        async with transaction(self._engine) as connection:
            if await select_thread(connection, owner, thread_id) is None:
                raise thread_not_found(thread_id)
            row = await message_in_thread(connection, thread_id, message_id)
        if row is None:
            raise message_not_found(message_id)
        return message_from_row(row)

    async def answered(self, thread_id: str, message_id: str) -> Message:
        """The user message whose turn produced `message_id` (itself for a user message)."""
        async with transaction(self._engine) as connection:
            row = await turn_input(connection, thread_id, message_id)
        if row is None:
            raise InvalidRequest(
                f"message '{message_id}' answers no user message", code="not_regenerable"
            )
        return message_from_row(row)

    async def siblings(
        self, thread_id: str, messages: Sequence[Message]
    ) -> dict[str | None, Siblings]:
        async with transaction(self._engine) as connection:
            return await siblings_of(connection, thread_id, [m.parent_id for m in messages])

    async def switch(self, owner: str, thread_id: str, message_id: str, descend: bool) -> str:
        """Show the branch through `message_id` (down to its newest descendant with `descend`).

        Raises `ThreadBusy` while a run answers on the thread (its messages follow the leaf)
        or waits for approval (it resumes there; deciding, or a new turn, ends the pause).
        """
        async with transaction(self._engine, write=True) as connection:
            if await select_thread(connection, owner, thread_id) is None:
                raise thread_not_found(thread_id)
            if await message_in_thread(connection, thread_id, message_id) is None:
                raise message_not_found(message_id)
            leaf = message_id
            if descend:
                leaf = await latest_descendant(connection, thread_id, message_id)
            if not await switch_leaf_when_idle(connection, thread_id, leaf):
                raise ThreadBusy(
                    f"thread '{thread_id}' is answering or waits for approval; switch after that"
                )
        return leaf
