"""Closing paused runs: each pending tool call is answered with an error message, so the log
stays valid for backends that refuse a tool call left unanswered."""

from __future__ import annotations

from sqlalchemy import literal_column, select, update
from sqlalchemy.engine import Connection

from graphchat.store.messages import append_messages
from graphchat.store.records import MessageStatus, NewMessage, RunStatus
from graphchat.store.tables import RUNS
from graphchat.store.threads import utcnow

# Why the pending calls of a pause that was closed unanswered never ran (the model reads it).
NEW_TURN_REASON = "the user sent a new message instead of deciding on this call"
CANCEL_REASON = "the run was cancelled before this call was approved"
# The status written into the statement, not bound: a plan PostgreSQL reuses for every thread
# (store/database.py, `keyed`) then knows it looks for a rare status and takes its index; bound,
# the generic plan read every run.
PAUSED = RUNS.c.status == literal_column(f"'{RunStatus.REQUIRES_ACTION.value}'")


def close_pauses(
    connection: Connection, reason: str, *, thread_id: str, run_id: str | None = None
) -> list[str]:
    """Cancel the thread's paused run(s), answering each pending call with an error message.

    The answers keep the log valid for backends that refuse a tool call left unanswered.
    """
    where = [RUNS.c.thread_id == thread_id, PAUSED]
    if run_id is not None:
        where.append(RUNS.c.id == run_id)
    ids = []
    for row in connection.execute(select(RUNS.c.id, RUNS.c.pending).where(*where)).all():
        closed = connection.execute(
            update(RUNS)
            .where(RUNS.c.id == row.id, PAUSED)
            .values(status=RunStatus.CANCELLED.value, finished_at=utcnow(), pending=None)
        )
        if not closed.rowcount:
            continue  # resumed or closed by another request meanwhile
        ids.append(row.id)
        answers = [
            NewMessage(
                role="tool",
                content=f"Error: not run: {reason}",
                tool_call_id=call.get("id"),
                name=call.get("name"),
                status=MessageStatus.ERROR,
            )
            for call in (row.pending or {}).get("calls", ())
        ]
        append_messages(connection, thread_id, row.id, answers)
    return ids
