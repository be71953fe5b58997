"""PostgreSQL: a turn on a thread this process answered last, begun in one statement.

Begin reads the thread for its owner, leaf, creation time, title, model, metadata, a paused
run and its last sequence number (runs.py). When this process wrote the thread's last turn it
kept all of that beside the turn's window (window_cache.py, `latest`), so it writes at once:
one statement UPDATEs the thread only if it is still exactly as kept — every column the turn's
rules read, no paused run, no message after the kept leaf — and INSERTs the run and messages
only from that UPDATE's RETURNING. Guards that miss write nothing, and the caller takes the
path that reads (one round trip more than before, only when another replica, a rename, a
branch switch… changed the thread since). A running run is refused by the unique index, as
on that path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Integer, String, bindparam, exists, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from graphchat.store.messages import highest_seq, message_rows
from graphchat.store.pauses import PAUSED
from graphchat.store.records import NewMessage, NewRun, Tail, TurnRules, TurnStart
from graphchat.store.sent_alone import execute_alone
from graphchat.store.tables import RUNS, THREADS
from graphchat.store.threads import utcnow
from graphchat.store.turn_writes import (
    WriteHook,
    announce,
    as_json,
    insert_owned_messages,
    prefixed,
    prefixed_values,
    started_run,
)
from graphchat.store.window_cache import WindowCache


def _kept(name: str) -> Any:
    """The parameter holding the kept value of the thread's column `name`."""
    return bindparam(f"kept_{name}", type_=THREADS.c[name].type)


def _continue_known_thread() -> Any:
    """UPDATE the thread if unchanged, INSERT the run and messages from what it updated; its
    rows: the thread's id if it was, none otherwise."""
    run = prefixed(RUNS, "run_")
    thread_id = run["thread_id"]
    unchanged = (
        THREADS.c.id == thread_id,
        THREADS.c.owner == run["owner"],  # another owner's thread: not found, on the other path
        THREADS.c.created_at == _kept("created_at"),  # deleted and created again
        THREADS.c.leaf_message_id == _kept("leaf_message_id"),  # a branch switch, a turn
        THREADS.c.title.is_not_distinct_from(_kept("title")),  # the title rule reads it
        THREADS.c.model.is_not_distinct_from(_kept("model")),  # the model rule reads it
        # The service reads it (tools, approvals) from the thread begin returns.
        THREADS.c.metadata == bindparam("kept_metadata", type_=String).cast(JSONB),
        ~exists().where(RUNS.c.thread_id == thread_id, PAUSED),  # to be closed first
        # Another branch's turn. As the highest, not "none after": PostgreSQL's plan for every
        # thread then reads the index's last entry, never the thread's messages (`highest_seq`).
        highest_seq(thread_id) == bindparam("kept_seq", type_=Integer),
    )
    touched = (
        update(THREADS)
        .where(*unchanged)
        .values(
            updated_at=bindparam("new_updated_at", type_=THREADS.c.updated_at.type),
            leaf_message_id=bindparam("new_leaf_message_id", type_=THREADS.c.leaf_message_id.type),
            title=bindparam("new_title", type_=THREADS.c.title.type),
        )
        .returning(THREADS.c.id)
        .cte("touched")
    )
    values = [touched.c.id if name == "thread_id" else value for name, value in run.items()]
    new_run = insert(RUNS).from_select(list(run), select(*values)).cte("new_run")
    new_messages = insert_owned_messages(run["owner"], exists(select(touched.c.id)))
    return select(touched.c.id).add_cte(new_run, new_messages.cte("new_messages"))


# Built once, as a turn's other statements (runs.py).
_CONTINUE_KNOWN_THREAD = _continue_known_thread()


def begin_known_turn(
    connection: Connection,
    windows: WindowCache,
    run: NewRun,
    messages: Sequence[NewMessage],
    rules: TurnRules,
    history: int,
    last_seq: int | None,
    on_write: WriteHook | None = None,
) -> TurnStart | None:
    """The turn `RunRepository.begin_turn` would begin on a thread continued at its leaf, in
    one statement; None, with nothing written, unless `windows` keeps the thread and the
    database still holds it as kept."""
    if connection.dialect.name != "postgresql":
        return None  # SQLite has no round trips to save
    kept = windows.latest(run.thread_id, max(history, 1))
    if kept is None:
        return None
    thread, before = kept
    tail = Tail(before[-1].seq, before[-1].id)
    if last_seq is not None and last_seq != tail.seq:
        return None  # refused on the path that reads, unless what is kept is out of date
    stored = message_rows(run.thread_id, run.id, messages, tail)
    stored_run, run_values = started_run(run, rules.model(thread.model))
    started = replace(thread, title=rules.title(thread.title, messages), updated_at=utcnow())
    after = Tail(stored[-1].seq, stored[-1].id) if stored else tail
    parameters = prefixed_values(run_values) | {
        "kept_created_at": thread.created_at,
        "kept_leaf_message_id": tail.leaf_id,
        "kept_title": thread.title,
        "kept_model": thread.model,
        "kept_metadata": as_json(thread.metadata),
        "kept_seq": tail.seq,
        "new_updated_at": started.updated_at,
        "new_leaf_message_id": after.leaf_id,
        "new_title": started.title,
        "messages": as_json(stored),
    }
    recent = (before + stored)[-history:] if history else []
    start = TurnStart(started, stored_run, stored, history=recent, tail=after)
    announce(on_write, start, likely=windows.kept_writes_land)
    landed = False
    try:
        landed = execute_alone(connection, _CONTINUE_KNOWN_THREAD, parameters) is not None
    finally:  # refused (a run on the thread) or failed: not what this process kept either
        windows.count_kept_write(landed)
    return start if landed else None
