"""Context windows this process has just written, by the message they end at.

Messages are append-only, so the branch that ends at a given message never changes: the
window a turn read, plus the messages that turn stored after it, is the next turn's window.
A begin that reads the thread (its leaf, its creation time) uses a window from here only when
it ends at that leaf — a turn written by another replica, a branch switch or a deleted and
re-created thread miss, and are read from the database. Each window also keeps its thread as
this process stored it, and each thread its newest window (`latest`): on PostgreSQL the next
begin writes without reading when the thread is still exactly that (store/known_turn.py).

A run of such writes that all landed (`kept_writes_land`) says no other replica changes this
process's threads: the service then sends a turn's first model request while its begin is still
on its way (service/head_start.py). One that missed says the cache can be stale, and it waits.

Bounded twice: by windows (most threads keep one: a window extended replaces the one it grew
from) and by the characters of text they hold (a window is a few pasted documents at worst).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from graphchat.store.records import Message, Thread

WINDOWS_KEPT = 512
TEXT_KEPT = 16 * 1024 * 1024  # characters of message text over all windows, ~16-64 MiB
_PER_MESSAGE = 256  # what a message holds besides its text (ids, numbers, a tool call), roughly
# Writes on kept threads that landed in a row before the next is expected to land too. Two
# replicas taking a thread's turns at random land about one in two: 20 in a row, about one
# chance in a million. A replica that keeps its threads reaches it within its first 20 turns.
LANDED_IN_A_ROW = 20


@dataclass(frozen=True, slots=True)
class _Window:
    thread: Thread  # as this process stored it at the turn that began this window
    messages: tuple[Message, ...]  # oldest first; from the thread's first message if shorter
    limit: int  # than this
    text: int  # characters it holds, counted against TEXT_KEPT


class WindowCache:
    def __init__(self, size: int = WINDOWS_KEPT, text: int = TEXT_KEPT) -> None:
        self._size = size
        self._text_kept = text
        self._text = 0
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()
        self._latest: dict[str, str] = {}  # thread id -> the last message of its newest window
        # A begin may run in a worker thread (SQLite, when the file is busy).
        self._lock = threading.Lock()
        self._landed_in_a_row = 0

    def count_kept_write(self, landed: bool) -> None:
        """Count a begin written on a thread as `latest` kept it (known_turn.py): it landed,
        or it missed (the thread had changed, or the write failed)."""
        self._landed_in_a_row = self._landed_in_a_row + 1 if landed else 0

    @property
    def kept_writes_land(self) -> bool:
        """Whether the last `LANDED_IN_A_ROW` writes on kept threads all landed."""
        return self._landed_in_a_row >= LANDED_IN_A_ROW

    def get(
        self, thread_id: str, thread_created_at: datetime, leaf_id: str, limit: int
    ) -> list[Message] | None:
        """The last `limit` messages of the branch ending at `leaf_id`, if known here."""
        window = self._touched(thread_id, leaf_id)
        if window is None or window.thread.created_at != thread_created_at:
            return None
        return _last(window, limit)

    def latest(self, thread_id: str, limit: int) -> tuple[Thread, list[Message]] | None:
        """The thread as this process last stored it, and the last `limit` messages of the
        newest window it kept of it (which ends at the leaf it last wrote), if known here."""
        with self._lock:
            leaf_id = self._latest.get(thread_id)
        window = self._touched(thread_id, leaf_id) if leaf_id is not None else None
        if window is None:
            return None
        messages = _last(window, limit)
        return (window.thread, messages) if messages is not None else None

    def retitle(self, thread_id: str, expected: str, title: str) -> None:
        """The thread was retitled from `expected`: so is what its newest window keeps of it,
        or the next turn's guard, which compares titles (known_turn.py), would miss."""
        with self._lock:
            leaf_id = self._latest.get(thread_id)
            if leaf_id is None:
                return
            key = (thread_id, leaf_id)
            window = self._windows.get(key)
            if window is not None and window.thread.title == expected:
                self._windows[key] = replace(window, thread=replace(window.thread, title=title))

    def _touched(self, thread_id: str, leaf_id: str) -> _Window | None:
        with self._lock:
            window = self._windows.get((thread_id, leaf_id))
            if window is not None:
                self._windows.move_to_end((thread_id, leaf_id))
            return window

    def start(self, thread: Thread, window: Sequence[Message], limit: int) -> None:
        """Keep a turn's window: the last `limit` messages of its branch (fewer only from the
        thread's first message on), its own new messages last (a turn without history keeps its
        last message: where the next one continues); `thread` as the turn stored it."""
        if window and limit > 0:
            kept = tuple(window[-limit:])
            self._keep(window[-1], _Window(thread, kept, limit, self._text_of(kept)))
            return
        with self._lock:  # the window kept before is no longer the newest
            self._latest.pop(thread.id, None)

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
        grown = _Window(before.thread, joined[len(dropped) :], before.limit, text)
        self._keep(messages[-1], grown, grown_from)

    def _text_of(self, messages: tuple[Message, ...]) -> int:
        """`_text(messages)`, counted from the window kept at the message before the last when
        `messages` continue it (a turn's window is the last one's and its message): a sum over
        the whole window at every begin was ~0.03 ms for 50 messages."""
        last = messages[-1]
        with self._lock:
            before = self._windows.get((last.thread_id, last.parent_id or ""))
        continued = len(messages) - 1  # what `messages` share with `before`, if they continue it
        if (
            before is None
            or continued == 0
            or before.messages[-1] is not messages[-2]
            or len(before.messages) < continued  # `messages` reach back further than `before`
        ):
            return _text(messages)
        # The branch ending at a message never changes: `messages[:-1]` ends `before`.
        dropped = before.messages[: len(before.messages) - continued]
        return before.text - _text(dropped) + _text(messages[-1:])

    def _keep(
        self, last: Message, window: _Window, replaces: tuple[str, str] | None = None
    ) -> None:
        key = (last.thread_id, last.id)
        with self._lock:
            if replaces is not None:
                self._drop(replaces)
            self._drop(key)
            self._latest.pop(key[0], None)  # this one is the newest, kept or not
            if window.text > self._text_kept:
                return  # kept, it would push out every other window
            self._windows[key] = window
            self._latest[key[0]] = key[1]
            self._text += window.text
            while len(self._windows) > self._size or self._text > self._text_kept:
                self._drop(next(iter(self._windows)))

    def _drop(self, key: tuple[str, str]) -> None:
        dropped = self._windows.pop(key, None)
        if dropped is not None:
            self._text -= dropped.text
            if self._latest.get(key[0]) == key[1]:
                del self._latest[key[0]]


def _last(window: _Window, limit: int) -> list[Message] | None:
    """The last `limit` messages of `window`'s branch, if it holds them."""
    messages = window.messages
    if len(messages) < limit and messages[0].parent_id is not None:
        return None  # kept shorter than asked, and not the whole branch
    return list(messages[-limit:])


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
