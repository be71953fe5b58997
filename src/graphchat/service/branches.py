"""Branches of a conversation: regenerate a reply, edit a user message, switch branches.

Regenerate and edit are ordinary turns (`ChatService`) that start at a branch point instead of
the current leaf; nothing stored is rewritten, the old branch stays readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from graphchat.errors import InvalidRequest
from graphchat.service.chat import TurnRequest
from graphchat.store import Store
from graphchat.store.branches import BranchPoint
from graphchat.store.records import Message, NewMessage


@dataclass(frozen=True, slots=True)
class SiblingInfo:
    """Where a message sits among the messages sharing its parent (a UI shows "2 / 3")."""

    ids: tuple[str, ...]
    index: int


class BranchService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def regenerate(self, base: TurnRequest, thread_id: str, message_id: str) -> TurnRequest:
        """A turn answering again the user message that `message_id` replied to.

        The new reply becomes a sibling of the old turn's first reply; `base` carries the
        caller's model, sampling and owner.
        """
        message = await self._store.branches.message(base.owner, thread_id, message_id)
        asked = await self._store.branches.answered(thread_id, message.id)
        return self._turn(base, thread_id, BranchPoint(asked.id), ())

    async def edit(
        self, base: TurnRequest, thread_id: str, message_id: str, content: str
    ) -> TurnRequest:
        """A turn sending `content` in place of user message `message_id`, beside it."""
        message = await self._store.branches.message(base.owner, thread_id, message_id)
        if message.role != "user":
            raise InvalidRequest(
                f"message '{message_id}' is a {message.role} message; only user messages "
                "can be edited (regenerate a reply instead)",
                code="not_editable",
            )
        edited = NewMessage(role="user", content=content)
        return self._turn(base, thread_id, BranchPoint(message.parent_id), (edited,))

    async def switch(self, owner: str, thread_id: str, message_id: str, descend: bool) -> str:
        """Make the branch through `message_id` current; returns the new leaf's id."""
        return await self._store.branches.switch(owner, thread_id, message_id, descend)

    async def siblings(self, thread_id: str, messages: Sequence[Message]) -> list[SiblingInfo]:
        """Each message's siblings (itself included), in the order of `messages`."""
        groups = await self._store.branches.siblings(thread_id, messages)
        infos = []
        for message in messages:
            group = groups.get(message.parent_id)
            ids = group.ids if group is not None else (message.id,)
            infos.append(SiblingInfo(ids=ids, index=ids.index(message.id)))
        return infos

    @staticmethod
    def _turn(
        base: TurnRequest, thread_id: str, point: BranchPoint, messages: tuple[NewMessage, ...]
    ) -> TurnRequest:
        return replace(
            base, thread_id=thread_id, messages=messages, create_thread=False, branch_from=point
        )
