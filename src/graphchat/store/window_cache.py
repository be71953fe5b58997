"""Context windows this process has just written, by the message they end at.

Messages are append-only, so the branch that ends at a given message never changes: the
window a turn read, plus the messages that turn stored after it, is the next turn's window.
The next begin still reads the thread (its leaf, its creation time) in its own statement and
uses a window from here only when it ends at that leaf — a turn written by another replica,
a branch switch or a deleted and re-created thread miss, and are read from the database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from graphchat.store.records import Message

WINDOWS_KEPT = 512


@dataclass(frozen=True, slots=True)
class _Window:
    thread_created_at: datetime
    messages: tuple[Message, ...]  # oldest first; from the thread's first message if shorter
    limit: int  # than this


class WindowCache:
    def __init__(self, size: int = WINDOWS_KEPT) -> None:
        self._size = size
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()
        # A begin may run in a worker thread (SQLite, when the file is busy).
        self._lock = threading.Lock()

    def get(
        self, thread_id: str, thread_created_at: datetime, leaf_id: str, limit: int
    ) -> list[Message] | None:
        """The last `limit` messages of the branch ending at `leaf_id`, if known here."""
        with self._lock:
            window = self._windows.get((thread_id, leaf_id))
            if window is None or window.thread_created_at != thread_created_at:
                return None
            self._windows.move_to_end((thread_id, leaf_id))
        messages = window.messages
        if len(messages) < limit and messages[0].parent_id is not None:
            return None  # kept shorter than asked, and not the whole branch
        return list(messages[-limit:])

    def start(self, thread_created_at: datetime, window: Sequence[Message], limit: int) -> None:
        """Keep a turn's window: the last `limit` messages of its branch (fewer only from the
        thread's first message on), its own new messages last."""
        if window and limit > 0:
            self._keep(window[-1], _Window(thread_created_at, tuple(window[-limit:]), limit))

    def extend(self, messages: Sequence[Message]) -> None:
        """Keep the window ending at the last of `messages`, which follow a kept window."""
        if not messages:
            return
        with self._lock:
            before = self._windows.get((messages[0].thread_id, messages[0].parent_id or ""))
        if before is None or not _chained(before.messages[-1], messages):
            return
        joined = (before.messages + tuple(messages))[-before.limit :]
        self._keep(messages[-1], _Window(before.thread_created_at, joined, before.limit))

    def _keep(self, last: Message, window: _Window) -> None:
        key = (last.thread_id, last.id)
        with self._lock:
            self._windows[key] = window
            self._windows.move_to_end(key)
            while len(self._windows) > self._size:
                self._windows.popitem(last=False)


def _chained(previous: Message, messages: Sequence[Message]) -> bool:
    """Each message is the child of the one before it."""
    for message in messages:
        if message.parent_id != previous.id:
            return False
        previous = message
    return True
