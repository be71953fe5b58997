"""Thread management for an owner: create, list, read, change, delete, page through messages."""

from __future__ import annotations

from typing import Any, Literal

from graphchat.errors import Conflict, NotFound
from graphchat.ids import new_id
from graphchat.service.live import LiveRuns
from graphchat.store import Store
from graphchat.store.records import Message, MessageWindow, NewThread, Page, Thread


class ThreadService:
    def __init__(self, store: Store, live_runs: LiveRuns) -> None:
        self._store = store
        self._live = live_runs

    async def create(
        self,
        owner: str,
        *,
        thread_id: str | None = None,
        title: str | None = None,
        model: str | None = None,
        metadata: dict[str, Any] | None = None,
        if_exists: Literal["raise", "do_nothing"] = "raise",
    ) -> Thread:
        """Create a thread; with `do_nothing`, a taken id of the caller's returns that thread."""
        try:
            return await self._store.threads.create(
                NewThread(
                    id=thread_id or new_id(),
                    owner=owner,
                    title=title,
                    model=model,
                    metadata=metadata or {},
                )
            )
        except Conflict as conflict:
            if if_exists == "raise" or thread_id is None:
                raise
            try:
                return await self._store.threads.get(owner, thread_id)
            except NotFound:
                raise conflict from None  # another owner's id stays taken

    async def get(self, owner: str, thread_id: str) -> Thread:
        return await self._store.threads.get(owner, thread_id)

    async def page(
        self, owner: str, *, limit: int, offset: int = 0, cursor: str | None = None
    ) -> Page[Thread, str]:
        return await self._store.threads.page(owner, limit=limit, offset=offset, cursor=cursor)

    async def update(self, owner: str, thread_id: str, changes: dict[str, Any]) -> Thread:
        """Apply the fields present in `changes` (title, model, metadata)."""
        return await self._store.threads.update(owner, thread_id, changes)

    async def delete(self, thread: Thread) -> None:
        """Delete an (already authorized) thread with its messages and runs, stopping its
        active runs first."""
        for live in self._live.for_thread(thread.id):
            await self._live.cancel(live.run_id)
        await self._store.threads.delete(thread.owner, thread.id)

    async def messages(self, thread: Thread, window: MessageWindow) -> Page[Message, int]:
        """A page of an (already authorized) thread's messages."""
        return await self._store.messages.page(thread.id, window)
