"""Context windows this process has just written, by the message they end at.

Messages are append-only, so the branch that ends at a given message never changes: the
window a turn read, plus the messages that turn stored after it, is the next turn's window.
The next begin still reads the thread (its leaf, its creation time) in its own statement and
uses a window from here only when it ends at that leaf — a turn written by another replica,
a branch switch or a deleted and re-created thread miss, and are read from the database.

Bounded twice: by windows (most threads keep one: a window extended replaces the one it grew
from) and by the characters of text they hold (a window is a few pasted documents at worst).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from graphchat.store.records import Message

WINDOWS_KEPT = 512
TEXT_KEPT = 16 * 1024 * 1024  # characters of message text over all windows, ~16-64 MiB
_PER_MESSAGE = 256  # what a message holds besides its text (ids, numbers, a tool call), roughly


@dataclass(frozen=True, slots=True)
class _Window:
    thread_created_at: datetime
    messages: tuple[Message, ...]  # oldest first; from the thread's first message if shorter
    limit: int  # than this
    text: int  # characters it holds, counted against TEXT_KEPT


class WindowCache:
    def __init__(self, size: int = WINDOWS_KEPT, text: int = TEXT_KEPT) -> None:
        self._size = size
        self._text_kept = text
        self._text = 0
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
            self._keep(window[-1], _window(thread_created_at, window[-limit:], limit))

    def extend(self, messages: Sequence[Message]) -> None:
        """Keep the window ending at the last of `messages`, which follow a kept window."""
        if not messages:
            return
        grown_from = (messages[0].thread_id, messages[0].parent_id or "")
        with self._lock:
            before = self._windows.get(grown_from)
        if before is None or not _chained(before.messages[-1], messages):
            return
        joined = before.messages + tuple(messages)
        dropped = joined[: max(len(joined) - before.limit, 0)]
        # Counted from the window it grew from: only what came and what left is summed.
        text = before.text + _text(messages) - _text(dropped)
        grown = _Window(before.thread_created_at, joined[len(dropped) :], before.limit, text)
        self._keep(messages[-1], grown, grown_from)

    def _keep(
        self, last: Message, window: _Window, replaces: tuple[str, str] | None = None
    ) -> None:
        key = (last.thread_id, last.id)
        with self._lock:
            if replaces is not None:
                self._drop(replaces)
            self._drop(key)
            if window.text > self._text_kept:
                return  # kept, it would push out every other window
            self._windows[key] = window
            self._text += window.text
            while len(self._windows) > self._size or self._text > self._text_kept:
                self._drop(next(iter(self._windows)))

    def _drop(self, key: tuple[str, str]) -> None:
        dropped = self._windows.pop(key, None)
        if dropped is not None:
            self._text -= dropped.text


def _window(thread_created_at: datetime, messages: Sequence[Message], limit: int) -> _Window:
    return _Window(thread_created_at, tuple(messages), limit, _text(messages))


def _text(messages: Sequence[Message]) -> int:
    """What `messages` count against TEXT_KEPT."""
    return sum(len(message.content) for message in messages) + _PER_MESSAGE * len(messages)


def _chained(previous: Message, messages: Sequence[Message]) -> bool:
    """Each message is the child of the one before it."""
    for message in messages:
        if message.parent_id != previous.id:
            return False
        previous = message
    return True
