"""Thread search by metadata, id and run status, and each thread's latest run status.

A thread's status is derived from its latest run, so nothing is written per turn to keep it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from graphchat.errors import ValidationFailed
from graphchat.store.database import read_rows
from graphchat.store.messages import message_from_row
from graphchat.store.records import Message, RunStatus, Thread
from graphchat.store.repository import Repository
from graphchat.store.tables import MESSAGES, RUNS, THREADS
from graphchat.store.threads import thread_from_row

SortKey = Literal["thread_id", "created_at", "updated_at"]
_SORT_COLUMNS = {"thread_id": THREADS.c.id, "created_at": THREADS.c.created_at}


@dataclass(frozen=True, slots=True)
class ThreadQuery:
    """What to look for among one owner's threads; `statuses` are latest-run statuses (None:
    no run yet)."""

    owner: str
    metadata: dict[str, Any] = field(default_factory=dict)
    ids: Sequence[str] | None = None
    statuses: Sequence[RunStatus | None] | None = None
    limit: int = 10
    offset: int = 0
    sort_by: SortKey = "updated_at"
    descending: bool = True


@dataclass(frozen=True, slots=True)
class FoundThread:
    thread: Thread
    last_run_status: RunStatus | None


def _metadata_match(key: str, value: Any) -> ColumnElement[bool]:
    item = THREADS.c.metadata[key]
    condition: ColumnElement[bool]
    # bool before int: True is an int in Python.
    if isinstance(value, bool):
        condition = item.as_boolean() == value
    elif isinstance(value, int) and -(2**63) <= value < 2**63:
        condition = item.as_integer() == value
    elif isinstance(value, int | float):  # an integer beyond 64 bits is compared as a float
        condition = item.as_float() == float(value)
    elif isinstance(value, str):
        condition = item.as_string() == value
    else:
        raise ValidationFailed(
            "metadata filters take strings, numbers or booleans",
            details=[
                {"loc": ["body", "metadata", key], "msg": "not a scalar", "type": "type_error"}
            ],
        )
    return condition


def _latest_runs(owner: str) -> Any:
    """(thread_id, status) of each of `owner`'s threads' latest run."""
    latest = (
        select(RUNS.c.thread_id, func.max(RUNS.c.created_at).label("at"))
        .where(RUNS.c.owner == owner)
        .group_by(RUNS.c.thread_id)
        .subquery()
    )
    return (
        select(RUNS.c.thread_id, RUNS.c.status)
        .join(
            latest, and_(RUNS.c.thread_id == latest.c.thread_id, RUNS.c.created_at == latest.c.at)
        )
        .subquery()
    )


def _search_query(query: ThreadQuery) -> Select[Any]:
    last = _latest_runs(query.owner)
    statement = (
        select(THREADS, last.c.status.label("last_run_status"))
        .outerjoin(last, last.c.thread_id == THREADS.c.id)
        .where(THREADS.c.owner == query.owner)
    )
    for key, value in query.metadata.items():
        statement = statement.where(_metadata_match(key, value))
    if query.ids is not None:
        statement = statement.where(THREADS.c.id.in_(list(query.ids)))
    if query.statuses is not None:
        named = [status.value for status in query.statuses if status is not None]
        condition = last.c.status.in_(named)
        if None in query.statuses:
            condition = or_(condition, last.c.status.is_(None))
        statement = statement.where(condition)
    column = _SORT_COLUMNS.get(query.sort_by, THREADS.c.updated_at)
    order = (column.desc(), THREADS.c.id.desc()) if query.descending else (column, THREADS.c.id)
    return statement.order_by(*order).limit(query.limit).offset(query.offset)


class ThreadSearchRepository(Repository):
    async def search(self, query: ThreadQuery) -> list[FoundThread]:
        statement = _search_query(query)
        rows = await read_rows(self._engine, statement)
        return [
            FoundThread(
                thread_from_row(row),
                RunStatus(row.last_run_status) if row.last_run_status else None,
            )
            for row in rows
        ]

    async def last_run_statuses(
        self, owner: str, thread_ids: Sequence[str]
    ) -> dict[str, RunStatus]:
        """The status of each listed thread's latest run (threads without runs are absent)."""
        if not thread_ids:
            return {}
        last = _latest_runs(owner)
        statement = select(last.c.thread_id, last.c.status).where(
            last.c.thread_id.in_(list(thread_ids))
        )
        rows = await read_rows(self._engine, statement)
        return {row.thread_id: RunStatus(row.status) for row in rows}

    async def first_messages(self, thread_ids: Sequence[str]) -> dict[str, Message]:
        """Each listed thread's first message, to label threads cheaply."""
        if not thread_ids:
            return {}
        statement = select(MESSAGES).where(
            MESSAGES.c.thread_id.in_(list(thread_ids)), MESSAGES.c.seq == 1
        )
        rows = await read_rows(self._engine, statement)
        return {row.thread_id: message_from_row(row) for row in rows}
