"""A turn on a thread this process answered last, planned before anything is read.

Begin reads the thread for its owner, leaf, creation time, title, model, metadata, a paused
run and its last sequence number (runs.py). When this process wrote the thread's last turn it
kept all of that beside the turn's window (window_cache.py, `latest`), so the turn is known
before any read (`plan_known_turn`) and is written only if the thread is still exactly as kept
— every column the turn's rules read, no paused run, no message after the kept leaf.

On PostgreSQL one statement UPDATEs the thread under those guards and INSERTs the run and
messages only from that UPDATE's RETURNING. Guards that miss write nothing, and the caller takes
the path that reads (one round trip more than before, only when another replica, a rename, a
branch switch… changed the thread since). A running run is refused by the unique index, as on
that path. On SQLite (`write_known_turn`) the same guarded UPDATE comes first in the write
transaction, and the run and messages are INSERTed only if it updated the thread: the thread is
not read (its SELECT was a third of a cold begin on the loop). What saves time there too is that
the turn is known before it, so the model can be asked while the loop writes
(service/head_start.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from sqlalchemy import Integer, String, bindparam, exists, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.store.awaited import send_alone
from graphchat.store.messages import highest_seq, message_rows
from graphchat.store.pauses import PAUSED
from graphchat.store.records import (
    Message,
    NewMessage,
    NewRun,
    NewThread,
    Tail,
    Thread,
    TurnRules,
    TurnStart,
)
from graphchat.store.run_events import as_json
from graphchat.store.sent_alone import write_alone
from graphchat.store.tables import RUNS, THREADS
from graphchat.store.threads import created_thread, thread_values, utcnow
from graphchat.store.turn_writes import (
    WriteHook,
    announce,
    insert_owned_messages,
    insert_turn,
    prefixed,
    prefixed_values,
    start_new_thread_alone,
    start_turn,
    started_run,
)
from graphchat.store.window_cache import WindowCache


def _kept(name: str) -> Any:
    """The parameter holding the kept value of the thread's column `name`."""
    return bindparam(f"kept_{name}", type_=THREADS.c[name].type)


def _touch_if_unchanged(thread_id: Any, owner: Any, same_metadata: Any) -> Any:
    """UPDATE the thread's activity time, leaf and title, only if it is still as kept."""
    unchanged = (
        THREADS.c.id == thread_id,
        THREADS.c.owner == owner,  # another owner's thread: not found, on the other path
        THREADS.c.created_at == _kept("created_at"),  # deleted and created again
        THREADS.c.leaf_message_id == _kept("leaf_message_id"),  # a branch switch, a turn
        THREADS.c.title.is_not_distinct_from(_kept("title")),  # the title rule reads it
        THREADS.c.model.is_not_distinct_from(_kept("model")),  # the model rule reads it
        same_metadata,  # the service reads it (tools, approvals) from the thread begin returns
        ~exists().where(RUNS.c.thread_id == thread_id, PAUSED),  # to be closed first
        # Another branch's turn. As the highest, not "none after": PostgreSQL's plan for every
        # thread then reads the index's last entry, never the thread's messages (`highest_seq`).
        highest_seq(thread_id) == bindparam("kept_seq", type_=Integer),
    )
    return (
        update(THREADS)
        .where(*unchanged)
        .values(
            updated_at=bindparam("new_updated_at", type_=THREADS.c.updated_at.type),
            leaf_message_id=bindparam("new_leaf_message_id", type_=THREADS.c.leaf_message_id.type),
            title=bindparam("new_title", type_=THREADS.c.title.type),
        )
    )


def _continue_known_thread() -> Any:
    """PostgreSQL: UPDATE the thread if unchanged, INSERT the run and messages from what it
    updated; its rows: the thread's id if it was, none otherwise."""
    run = prefixed(RUNS, "run_")
    same_metadata = THREADS.c.metadata == bindparam("kept_metadata", type_=String).cast(JSONB)
    touched = (
        _touch_if_unchanged(run["thread_id"], run["owner"], same_metadata)
        .returning(THREADS.c.id)
        .cte("touched")
    )
    values = [touched.c.id if name == "thread_id" else value for name, value in run.items()]
    new_run = insert(RUNS).from_select(list(run), select(*values)).cte("new_run")
    new_messages = insert_owned_messages(run["owner"], exists(select(touched.c.id)))
    return select(touched.c.id).add_cte(new_run, new_messages.cte("new_messages"))


# Built once, as a turn's other statements (runs.py).
_CONTINUE_KNOWN_THREAD = _continue_known_thread()
# SQLite: the stored JSON text is compared with the kept metadata as the column serializes it.
# (Parameters named as columns are reserved for an UPDATE's SET clause: hence `kept_id`.)
_TOUCH_KEPT_THREAD = _touch_if_unchanged(
    _kept("id"), _kept("owner"), THREADS.c.metadata == _kept("metadata")
)


_NO_TAIL = Tail(0, None)


@dataclass(frozen=True, slots=True)
class KnownTurn:
    """A turn planned before anything is read: on a thread as this process kept it, or on a
    new thread (`kept` None), which has nothing to read."""

    start: TurnStart
    run_values: dict[str, Any]  # the run's row
    kept: Thread | None = None  # the thread it continues, as kept (or as begin read it)
    kept_tail: Tail = _NO_TAIL  # where it continues

    def likely(self, windows: WindowCache) -> bool:
        """Whether its write should land: a new thread, or a kept one while such writes land."""
        return self.kept is None or windows.kept_writes_land


def plan_new_thread(
    run: NewRun, messages: Sequence[NewMessage], rules: TurnRules, history: int
) -> KnownTurn:
    """The turn that creates the thread `run.thread_id` with `messages`."""
    now = utcnow()  # the thread, run and messages of one transaction, at one time
    stored = message_rows(run.thread_id, run.id, messages, _NO_TAIL, now)
    title = rules.title(None, messages)
    thread = created_thread(NewThread(id=run.thread_id, owner=run.owner, title=title), now)
    stored_run, run_values = started_run(run, rules.model(thread.model), now)
    tail = Tail(stored[-1].seq, stored[-1].id) if stored else _NO_TAIL
    recent = stored[-history:] if history else []
    return KnownTurn(TurnStart(thread, stored_run, stored, history=recent, tail=tail), run_values)


def plan_known_turn(
    windows: WindowCache,
    run: NewRun,
    messages: Sequence[NewMessage],
    rules: TurnRules,
    history: int,
    last_seq: int | None,
) -> KnownTurn | None:
    """The turn `RunRepository.begin_turn` would begin on the thread as `windows` keeps it,
    continued at its leaf; None unless it keeps the thread (and `last_seq` is its tail)."""
    kept = windows.latest(run.thread_id, max(history, 1))
    if kept is None:
        return None
    thread, before = kept
    tail = Tail(before[-1].seq, before[-1].id)
    if last_seq is not None and last_seq != tail.seq:
        return None  # refused on the path that reads, unless what is kept is out of date
    return continued_turn(thread, before, tail, run, messages, rules, history)


def continued_turn(
    thread: Thread,
    before: list[Message],
    tail: Tail,
    run: NewRun,
    messages: Sequence[NewMessage],
    rules: TurnRules,
    history: int,
) -> KnownTurn:
    """The turn whose `messages` continue `thread` after `tail`, `before` the window there."""
    now = utcnow()  # (as in `plan_new_thread`)
    stored = message_rows(run.thread_id, run.id, messages, tail, now)
    stored_run, run_values = started_run(run, rules.model(thread.model), now)
    started = replace(thread, title=rules.title(thread.title, messages), updated_at=now)
    after = Tail(stored[-1].seq, stored[-1].id) if stored else tail
    recent = (before + stored)[-history:] if history else []
    start = TurnStart(started, stored_run, stored, history=recent, tail=after)
    return KnownTurn(start, run_values, thread, tail)


def write_continued(connection: Connection, known: KnownTurn) -> None:
    """Store `known`, a turn on an existing thread (`continued_turn`)."""
    start, thread = known.start, known.kept
    assert thread is not None  # an existing thread
    changes = {"updated_at": start.thread.updated_at, "leaf_message_id": start.tail.leaf_id}
    if start.thread.title != thread.title:
        changes["title"] = start.thread.title
    start_turn(connection, known.run_values, start.messages, thread_update=changes)


async def begin_known_turn(
    engine: AsyncEngine,
    windows: WindowCache,
    known: KnownTurn,
    on_write: WriteHook | None = None,
) -> TurnStart | None:
    """PostgreSQL: `known` (`plan_known_turn`, `plan_new_thread`), in one statement, its own
    transaction; None, with nothing written, unless the database still holds the thread as
    kept."""
    start, thread = known.start, known.kept
    if thread is None:  # a new thread: nothing of it can be stale
        new_thread = thread_values(start.thread, start.tail.leaf_id)
        sending = partial(announce, on_write, start, likely=True)
        await start_new_thread_alone(engine, known.run_values, start.messages, new_thread, sending)
        return start
    parameters = (
        prefixed_values(known.run_values)
        | _guarded_touch(known)
        | {
            "kept_metadata": as_json(thread.metadata),
            "messages": as_json(start.messages),
        }
    )
    sending = partial(announce, on_write, start, likely=known.likely(windows))
    landed = False
    try:
        row = await send_alone(engine, _CONTINUE_KNOWN_THREAD, parameters, sending=sending)
        landed = row is not None
    finally:  # refused (a run on the thread) or failed: not what this process kept either
        windows.count_kept_write(landed)
    return start if landed else None


def _guarded_touch(known: KnownTurn) -> dict[str, Any]:
    """The guarded UPDATE's parameters but the metadata: the thread as kept, and as it goes on."""
    start, thread, tail = known.start, known.kept, known.kept_tail
    assert thread is not None  # planned on a kept thread
    return {
        "kept_created_at": thread.created_at,
        "kept_leaf_message_id": tail.leaf_id,
        "kept_title": thread.title,
        "kept_model": thread.model,
        "kept_seq": tail.seq,
        "new_updated_at": start.thread.updated_at,
        "new_leaf_message_id": start.tail.leaf_id,
        "new_title": start.thread.title,
    }


def write_known_turn(connection: Connection, windows: WindowCache, known: KnownTurn) -> bool:
    """SQLite: store `known`; on a thread as kept, only if it still is exactly that (the guarded
    UPDATE, first in the write transaction). False, with nothing written, if it is not."""
    start, kept = known.start, known.kept
    if kept is None:
        new_thread = thread_values(start.thread, start.tail.leaf_id)
        start_turn(connection, known.run_values, start.messages, new_thread=new_thread)
        return True
    parameters = _guarded_touch(known) | {
        "kept_id": start.thread.id,
        "kept_owner": start.run.owner,
        "kept_metadata": kept.metadata,
    }
    landed = False
    try:
        if write_alone(connection, _TOUCH_KEPT_THREAD, [parameters]):
            insert_turn(connection, known.run_values, start.messages)
            landed = True
    finally:  # refused (a run on the thread) or failed: not what this process kept either
        windows.count_kept_write(landed)
    return landed
