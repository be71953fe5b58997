"""Branches of a thread: message parents, the thread's current leaf, and reading one branch.

Messages are never rewritten: a branch is the chain of parents from a leaf back to the first
message, and switching branches moves only `threads.leaf_message_id`. Reads walk parents from
a starting message with a recursive query bounded by how many rows are wanted, so the newest
messages of a branch cost O(window) whatever the thread's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    exists,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from graphchat.store.branch_map import BranchMaps, as_ranges, page_seqs
from graphchat.store.records import MessageWindow
from graphchat.store.tables import MESSAGES, RUNS, THREADS


@dataclass(frozen=True, slots=True)
class BranchPoint:
    """Where a turn's messages attach: after `parent_id` (None: as a thread's first message)."""

    parent_id: str | None


@dataclass(frozen=True, slots=True)
class Siblings:
    """The messages sharing one parent, oldest first."""

    ids: tuple[str, ...]


def ancestors(start: Any, bound: Any, stop_at: Any = None) -> Select[Any]:
    """`start` (an id or a scalar subquery) and its ancestors, at most `bound` of them (an int
    or a bound parameter; None: all), as whole rows: filter and order on `selected_columns`.
    The walk ends after a message in `stop_at` (ids, or an expanding bound parameter: the
    caller has their ancestors already).

    The walk carries the rows, so nothing joins the whole table back to it: each step is one
    primary-key lookup, whatever the table's size or statistics (a join back was a scan of
    every thread's messages on PostgreSQL)."""
    first = select(MESSAGES, literal(1).label("depth")).where(MESSAGES.c.id == start)
    walk = first.cte("branch", recursive=True)
    step = select(MESSAGES, (walk.c.depth + 1).label("depth")).join(
        walk, MESSAGES.c.id == walk.c.parent_id
    )
    if bound is not None:
        step = step.where(walk.c.depth < bound)
    if stop_at is not None:
        step = step.where(walk.c.id.not_in(stop_at))
    walk = walk.union_all(step)
    return select(*(walk.c[column.name] for column in MESSAGES.columns))


def leaf_of(thread_id: Any) -> Any:
    return select(THREADS.c.leaf_message_id).where(THREADS.c.id == thread_id).scalar_subquery()


def _newest(start: Any, *, below: Any = None) -> Select[Any]:
    """The newest `:limit` messages after `:offset` of the branch ending at `start` (numbered
    below `below`), newest first, walking at most `:bound` of them."""
    query = ancestors(start, bindparam("bound", type_=Integer))
    seq = query.selected_columns.seq
    if below is not None:
        query = query.where(seq < below)
    return (
        query.order_by(seq.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


# Built once: constructing the recursive query cost more CPU than running it (a page of a
# thread's newest messages spent 3.3 ms of a LangGraph run's 8 building it, round 29).
_NEWEST_FROM_LEAF = _newest(leaf_of(bindparam("thread_id", type_=String)))
_NEWEST_FROM_MESSAGE = _newest(
    bindparam("start", type_=String), below=bindparam("before", type_=Integer)
)
_LEAF = select(leaf_of(bindparam("thread_id", type_=String)))
# The parent of the message numbered `:seq` (no row when there is no such message).
_PARENT_OF_SEQ = select(MESSAGES.c.parent_id).where(
    MESSAGES.c.thread_id == bindparam("thread_id", type_=String),
    MESSAGES.c.seq == bindparam("seq", type_=Integer),
)


def newest_rows(connection: Connection, thread_id: str, window: MessageWindow) -> list[Any] | None:
    """`limit + 1` rows of a newest-first page of the current branch: from its leaf, or before
    a message of it. None for another page (another order, a cursor `after`, or `before` a
    number that names no message)."""
    if window.order != "desc" or window.after is not None:
        return None
    limit, offset, before = window.limit, window.offset, window.before
    page = {"limit": limit + 1, "offset": offset, "bound": limit + 1 + offset}
    if before is None:
        return list(connection.execute(_NEWEST_FROM_LEAF, page | {"thread_id": thread_id}).all())
    start = connection.execute(_PARENT_OF_SEQ, {"thread_id": thread_id, "seq": before})
    parent = start.scalar_one_or_none()
    if parent is None:
        return None
    below = page | {"start": parent, "before": before}
    return list(connection.execute(_NEWEST_FROM_MESSAGE, below).all())


def branch_rows(
    connection: Connection, thread_id: str, window: MessageWindow, maps: BranchMaps
) -> list[Any]:
    """`limit + 1` rows of the current branch by sequence number (the extra tells `has_more`).

    Newest-first pages walk only as far as needed (`newest_rows`); the others (from the start,
    at an offset, after a cursor) pick their numbers from the branch's ranges (`BranchMaps`)
    and read just those rows. Synchronous: one call for `run_transaction`."""
    newest = newest_rows(connection, thread_id, window)
    if newest is not None:
        return newest
    leaf = connection.execute(_LEAF, {"thread_id": thread_id}).scalar()
    if leaf is None:
        return []
    seqs = page_seqs(maps.ranges(connection, thread_id, leaf), window)
    if not seqs:
        return []
    # A range per run of numbers: `seq IN (1, …, 51)` made PostgreSQL (whose statistics say
    # most threads have a seq 1 to 51) read the whole thread's rows and filter them.
    parts = [
        select(MESSAGES).where(MESSAGES.c.thread_id == thread_id, MESSAGES.c.seq.between(*run))
        for run in as_ranges(sorted(seqs))
    ]
    by_ranges = parts[0] if len(parts) == 1 else union_all(*parts)
    rows = {row.seq: row for row in connection.execute(by_ranges).all()}
    return [rows[seq] for seq in seqs if seq in rows]


def _has_child(parent: Any, same_side: bool) -> Any:
    """Whether `parent` has a child on its own side of the conversation (`same_side`: caller
    after caller, or model/tool after model/tool) or on the other side."""
    child = MESSAGES.alias("child")
    both_user = and_(child.c.role == "user", parent.c.role == "user")
    neither_user = and_(child.c.role != "user", parent.c.role != "user")
    same = or_(both_user, neither_user)
    return exists().where(
        child.c.thread_id == parent.c.thread_id,
        child.c.parent_id == parent.c.id,
        same if same_side else ~same,
    )


def _state_ends(*, before: bool, at: bool) -> Select[Any]:
    """The messages that end a state, on every branch, newest first: at most `:limit` of
    thread `:thread_id`, numbered below `:before` (with `before`), or only the one numbered
    `:at` (with `at`); each row's `leaf` is the thread's leaf id.

    A message ends a state when no message of its own side follows it (a leaf, the caller's
    message before a reply, a reply before the caller's next message) or when one of the
    other side does. The newest first read walks the `(thread_id, seq)` index backwards and
    stops after `limit` of them, whatever the thread's size."""
    thread_id, seq = bindparam("thread_id", type_=String), MESSAGES.c.seq
    ends_state = or_(~_has_child(MESSAGES, same_side=True), _has_child(MESSAGES, same_side=False))
    leaf = leaf_of(thread_id).label("leaf")
    query = select(MESSAGES, leaf).where(MESSAGES.c.thread_id == thread_id, ends_state)
    if before:
        query = query.where(seq < bindparam("before", type_=Integer))
    if at:
        query = query.where(seq == bindparam("at", type_=Integer))
    return query.order_by(seq.desc()).limit(bindparam("limit", type_=Integer))


# Built once, each variant: building one took more CPU than PostgreSQL took to run it.
_STATE_ENDS = {(b, a): _state_ends(before=b, at=a) for b in (False, True) for a in (False, True)}


def state_ends(
    thread_id: str, limit: int, *, before: int | None, at: int | None
) -> tuple[Select[Any], dict[str, Any]]:
    """`_state_ends`' statement for these arguments, and its parameters."""
    parameters: dict[str, Any] = {"thread_id": thread_id, "limit": limit}
    if before is not None:
        parameters["before"] = before
    if at is not None:
        parameters["at"] = at
    return _STATE_ENDS[before is not None, at is not None], parameters


def siblings_of(
    connection: Connection, thread_id: str, parents: Sequence[str | None]
) -> dict[str | None, Siblings]:
    """For each parent id, its children (the siblings of a branch's message), oldest first."""
    wanted = {parent for parent in parents if parent is not None}
    columns = (MESSAGES.c.id, MESSAGES.c.parent_id, MESSAGES.c.seq)
    in_thread = MESSAGES.c.thread_id == thread_id
    # One index seek per condition on (thread_id, parent_id): neither an OR of the two nor an
    # ORDER BY seq (either made SQLite scan the thread's (thread_id, seq) index instead).
    queries = []
    if wanted:
        queries.append(select(*columns).where(in_thread, MESSAGES.c.parent_id.in_(wanted)))
    if None in parents:
        queries.append(select(*columns).where(in_thread, MESSAGES.c.parent_id.is_(None)))
    if not queries:
        return {}
    query = queries[0] if len(queries) == 1 else union_all(*queries)
    rows = sorted(connection.execute(query).all(), key=lambda row: row.seq)
    children: dict[str | None, list[str]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row.id)
    return {parent: Siblings(tuple(ids)) for parent, ids in children.items()}


def latest_descendant(connection: Connection, thread_id: str, message_id: str) -> str:
    """The newest message under `message_id` (itself when it has no children)."""
    first = select(MESSAGES.c.id, MESSAGES.c.seq).where(
        MESSAGES.c.id == message_id, MESSAGES.c.thread_id == thread_id
    )
    walk = first.cte("subtree", recursive=True)
    walk = walk.union_all(
        select(MESSAGES.c.id, MESSAGES.c.seq).join(
            walk,
            and_(MESSAGES.c.thread_id == thread_id, MESSAGES.c.parent_id == walk.c.id),
        )
    )
    query = select(walk.c.id).order_by(walk.c.seq.desc()).limit(1)
    return cast(str, connection.execute(query).scalar_one())


def message_in_thread(connection: Connection, thread_id: str, message_id: str) -> Any | None:
    query = select(MESSAGES).where(MESSAGES.c.id == message_id, MESSAGES.c.thread_id == thread_id)
    return connection.execute(query).first()


def turn_input(connection: Connection, thread_id: str, message_id: str) -> Any | None:
    """The user message a reply answers: the nearest user message at or above `message_id`."""
    first = select(MESSAGES.c.id, MESSAGES.c.parent_id, MESSAGES.c.role).where(
        MESSAGES.c.id == message_id, MESSAGES.c.thread_id == thread_id
    )
    walk = first.cte("turn", recursive=True)
    walk = walk.union_all(
        select(MESSAGES.c.id, MESSAGES.c.parent_id, MESSAGES.c.role)
        .join(walk, MESSAGES.c.id == walk.c.parent_id)
        .where(walk.c.role != "user")
    )
    query = select(MESSAGES).join(walk, MESSAGES.c.id == walk.c.id).where(walk.c.role == "user")
    return connection.execute(query).first()


# A running run appends after the leaf; a paused one resumes after its tool calls, on the leaf.
_LEAF_HOLDERS = ("running", "requires_action")


def switch_leaf_when_idle(connection: Connection, thread_id: str, leaf_id: str) -> bool:
    """Move the leaf unless a run is answering on the thread or paused on its current branch."""
    running = exists().where(RUNS.c.thread_id == thread_id, RUNS.c.status.in_(_LEAF_HOLDERS))
    result = connection.execute(
        update(THREADS).where(THREADS.c.id == thread_id, ~running).values(leaf_message_id=leaf_id)
    )
    return bool(result.rowcount)
