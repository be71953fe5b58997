"""Where a thread's current branch lies, as ranges of sequence numbers, so that a page from its
start, at an offset or after a cursor costs O(page) rather than a walk of the whole branch.

A message's parent never changes, so the branch ending at a given message never changes either:
it is worked out once per leaf and kept. A new leaf (each turn moves it) is worked out by a walk
that stops at one of the thread's leaves already known, so a turn adds O(its messages) of walking.
A thread never regenerated or edited is one range; each abandoned reply splits it once more.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from itertools import islice
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from graphchat.store.records import MessageWindow
from graphchat.store.tables import MESSAGES

Ranges = tuple[tuple[int, int], ...]  # ascending, disjoint, inclusive (first seq, last seq)

_KNOWN_LEAVES_PER_WALK = 4  # the thread's most recent leaves a walk may stop at
_MAX_LEAVES = 1024  # leaves kept (least recently used dropped)
_MAX_RANGES = 4096  # a branch split more often than this is not kept


def as_ranges(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Ascending sequence numbers as ascending runs of consecutive numbers."""
    ranges: list[tuple[int, int]] = []
    for seq in seqs:
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def _joined(prefix: Ranges, rest: list[tuple[int, int]]) -> Ranges:
    if prefix and rest and prefix[-1][1] + 1 == rest[0][0]:
        return (*prefix[:-1], (prefix[-1][0], rest[0][1]), *rest[1:])
    return (*prefix, *rest)


def _clipped(ranges: Ranges, window: MessageWindow) -> list[tuple[int, int]]:
    low = window.after + 1 if window.after is not None else None
    high = window.before - 1 if window.before is not None else None
    clipped = []
    for first, last in ranges:
        first = first if low is None else max(first, low)
        last = last if high is None else min(last, high)
        if first <= last:
            clipped.append((first, last))
    return clipped


def page_seqs(ranges: Ranges, window: MessageWindow) -> list[int]:
    """The sequence numbers of the page `window` asks for (`limit + 1` at most, in page order:
    the extra one tells `has_more`)."""
    clipped = _clipped(ranges, window)
    if window.order == "desc":
        spans = (range(last, first - 1, -1) for first, last in reversed(clipped))
    else:
        spans = (range(first, last + 1) for first, last in clipped)
    skip, seqs = window.offset, list[int]()
    for span in spans:
        if skip >= len(span):
            skip -= len(span)
            continue
        seqs.extend(islice(span, skip, skip + window.limit + 1 - len(seqs)))
        skip = 0
        if len(seqs) > window.limit:
            break
    return seqs


class BranchMaps:
    """The ranges of the branches ending at recently read leaves, per store.

    Pages run in a worker thread on a SQLite file (and on the event loop's thread otherwise):
    the kept ranges are read and changed under a lock, held for no statement."""

    def __init__(self) -> None:
        self._ranges: OrderedDict[tuple[str, str], Ranges] = OrderedDict()
        self._lock = threading.Lock()

    def ranges(self, connection: Connection, thread_id: str, leaf_id: str) -> Ranges:
        key = (thread_id, leaf_id)
        with self._lock:
            found = self._ranges.get(key)
            if found is not None:
                self._ranges.move_to_end(key)
                return found
            known = [leaf for thread, leaf in reversed(self._ranges) if thread == thread_id]
        stop, seqs = _walk(connection, leaf_id, known[:_KNOWN_LEAVES_PER_WALK])
        with self._lock:
            prefix = self._ranges.get((thread_id, stop)) if stop is not None else ()
        if prefix is None:  # dropped while the walk ran: walk the whole branch
            _, seqs = _walk(connection, leaf_id, [])
            prefix = ()
        ranges = _joined(prefix, as_ranges(seqs))
        if len(ranges) <= _MAX_RANGES:
            with self._lock:
                self._ranges[key] = ranges
                while len(self._ranges) > _MAX_LEAVES:
                    self._ranges.popitem(last=False)
        return ranges


def _walk(connection: Connection, leaf_id: str, known: list[str]) -> tuple[str | None, list[int]]:
    """The sequence numbers from `leaf_id` up its parents, ascending, down to (excluding) the
    first of `known` met (returned; None when the walk reached the thread's first message)."""
    columns = (MESSAGES.c.id, MESSAGES.c.parent_id, MESSAGES.c.seq)
    walk = select(*columns).where(MESSAGES.c.id == leaf_id).cte("walk", recursive=True)
    step = select(*columns).join(walk, MESSAGES.c.id == walk.c.parent_id)
    if known:
        step = step.where(walk.c.parent_id.not_in(known))
    walk = walk.union_all(step)
    rows: list[Any] = list(connection.execute(select(walk.c.parent_id, walk.c.seq)).all())
    if not rows:
        return None, []
    rows.sort(key=lambda row: row.seq)
    stop = rows[0].parent_id
    return (stop if stop in known else None), [row.seq for row in rows]
