"""Full-text search over an owner's messages and thread titles (FTS5 on SQLite, tsvector on
PostgreSQL; the indexes come from migration 0004).

The caller's text never reaches a query language: it is cut into words (letters and digits), each
quoted as a literal term, all required, the last one also matching as a prefix.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, column, func, literal_column, select, table
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graphchat.store.database import transaction
from graphchat.store.records import Page
from graphchat.store.tables import MessageRow, ThreadRow

_MESSAGE = cast(Table, MessageRow.__table__)
_THREAD = cast(Table, ThreadRow.__table__)
MAX_TERMS = 16
_ELLIPSIS = "…"
_SNIPPET_CHARS = 200
# bm25 is computed for this many of the newest matches at most (SQLite), see _sqlite_messages.
RANKED_CANDIDATES = 2_000
_CONFIG: ColumnElement[Any] = literal_column("'simple'::regconfig")
_WORD = re.compile(r"[^\W_]+")


def _sql(expression: str) -> ColumnElement[Any]:
    return literal_column(expression)


@dataclass(frozen=True, slots=True)
class MessageHit:
    """A matching message: where it is, and a snippet (HTML-escaped, hits in <mark>)."""

    message_id: str
    thread_id: str
    thread_title: str | None
    seq: int
    role: str
    created_at: datetime
    snippet: str


@dataclass(frozen=True, slots=True)
class TitleHit:
    thread_id: str
    title: str
    snippet: str
    updated_at: datetime


def search_terms(text: str) -> list[str]:
    """The words searched for: letters and digits only, at most `MAX_TERMS`."""
    return _WORD.findall(text)[:MAX_TERMS]


def _fts5_query(terms: Sequence[str]) -> str:
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    quoted[-1] += " *"  # a prefix, so a word still being typed matches
    return " ".join(quoted)


def _tsquery(terms: Sequence[str]) -> str:
    quoted = ["'" + term.replace("'", "''") + "'" for term in terms]
    quoted[-1] += ":*"
    return " & ".join(quoted)


def snippet(text: str, terms: Sequence[str]) -> str:
    """About `_SNIPPET_CHARS` of `text` around its first hit, HTML-escaped, hits in <mark>."""
    words = "|".join(re.escape(term) for term in terms[:-1])
    last = re.escape(terms[-1]) + r"[^\W_]*"  # the last term matches as a prefix
    pattern = re.compile(rf"(?<![^\W_])(?:{words + '|' if words else ''}{last})(?![^\W_])", re.I)
    first = pattern.search(text)
    begin = max(0, (first.start() if first else 0) - _SNIPPET_CHARS // 4)
    if begin > 0:
        begin = text.find(" ", begin, begin + 20) + 1 or begin  # start on a word
    window = text[begin : begin + _SNIPPET_CHARS]
    parts, at = [], 0
    for hit in pattern.finditer(window):
        parts += [html.escape(window[at : hit.start()], quote=False), "<mark>"]
        parts += [html.escape(hit.group(), quote=False), "</mark>"]
        at = hit.end()
    parts.append(html.escape(window[at:], quote=False))
    before = _ELLIPSIS if begin > 0 else ""
    after = _ELLIPSIS if begin + _SNIPPET_CHARS < len(text) else ""
    return before + "".join(parts).replace("\n", " ") + after


def _message_columns() -> list[Any]:
    return [*_MESSAGE.c, _THREAD.c.title.label("thread_title")]


def _owned(statement: Select[Any], owner: str, exclude_run_id: str | None) -> Select[Any]:
    statement = statement.join(_THREAD, _THREAD.c.id == _MESSAGE.c.thread_id).where(
        _THREAD.c.owner == owner
    )
    if exclude_run_id is not None:
        run = _MESSAGE.c.run_id
        statement = statement.where(run.is_(None) | (run != exclude_run_id))
    return statement


def _sqlite_messages(terms: Sequence[str], owner: str, exclude: str | None) -> Select[Any]:
    """bm25 over the newest `RANKED_CANDIDATES` matches: FTS5 walks its index newest first and
    stops there, so a very common word costs no more than a rarer one."""
    fts = table("messages_fts", column("rowid"))
    name = _sql("messages_fts")
    matches = (
        select(*_message_columns(), func.bm25(name).label("score"))
        .select_from(fts)
        .join(_MESSAGE, _sql("messages.rowid") == fts.c.rowid)
        .where(name.op("MATCH")(_fts5_query(terms)))
    )
    candidates = (
        _owned(matches, owner, exclude)
        .order_by(fts.c.rowid.desc())
        .limit(RANKED_CANDIDATES)
        .subquery("candidates")
    )
    columns = [c for c in candidates.c if c.name != "score"]
    order = (candidates.c.score, candidates.c.created_at.desc(), candidates.c.id)
    return select(*columns).order_by(*order)


def _postgres_messages(terms: Sequence[str], owner: str, exclude: str | None) -> Select[Any]:
    query = func.to_tsquery(_CONFIG, _tsquery(terms))
    vector = _sql("messages.search_vector")
    rank = func.ts_rank(vector, query)
    statement = select(*_message_columns()).where(vector.op("@@")(query))
    return _owned(statement, owner, exclude).order_by(
        rank.desc(), _MESSAGE.c.created_at.desc(), _MESSAGE.c.id
    )


async def matching_messages(
    connection: AsyncConnection,
    owner: str,
    text: str,
    *,
    limit: int,
    offset: int = 0,
    exclude_run_id: str | None = None,
) -> Sequence[Row[Any]]:
    """`owner`'s messages matching `text`, best first: message columns and thread_title."""
    terms = search_terms(text)
    if not terms:
        return []
    build = _sqlite_messages if connection.dialect.name == "sqlite" else _postgres_messages
    statement = build(terms, owner, exclude_run_id).limit(limit).offset(offset)
    return list((await connection.execute(statement)).all())


def _titles(terms: Sequence[str], owner: str, dialect: str) -> Select[Any]:
    statement = select(_THREAD.c.id, _THREAD.c.title, _THREAD.c.updated_at)
    rank: ColumnElement[Any]
    if dialect == "sqlite":
        fts = table("threads_fts", column("rowid"))
        name = _sql("threads_fts")
        statement = (
            statement.select_from(fts)
            .join(_THREAD, _sql("threads.rowid") == fts.c.rowid)
            .where(name.op("MATCH")(_fts5_query(terms)))
        )
        rank = func.bm25(name)
    else:
        query = func.to_tsquery(_CONFIG, _tsquery(terms))
        vector = _sql("threads.title_vector")
        statement = statement.where(vector.op("@@")(query))
        rank = func.ts_rank(vector, query).desc()
    return statement.where(_THREAD.c.owner == owner).order_by(rank, _THREAD.c.updated_at.desc())


class SearchRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def messages(
        self, owner: str, text: str, *, limit: int, offset: int = 0
    ) -> Page[MessageHit, None]:
        """A page of hits, best first."""
        terms = search_terms(text)
        async with transaction(self._engine) as connection:
            rows = await matching_messages(connection, owner, text, limit=limit + 1, offset=offset)
        hits = [
            MessageHit(
                message_id=row.id,
                thread_id=row.thread_id,
                thread_title=row.thread_title,
                seq=row.seq,
                role=row.role,
                created_at=row.created_at,
                snippet=snippet(row.content, terms),
            )
            for row in rows[:limit]
        ]
        return Page(items=hits, has_more=len(rows) > limit)

    async def titles(self, owner: str, text: str, *, limit: int) -> list[TitleHit]:
        """`owner`'s threads whose title matches `text`, best first."""
        terms = search_terms(text)
        if not terms:
            return []
        async with transaction(self._engine) as connection:
            statement = _titles(terms, owner, connection.dialect.name).limit(limit)
            rows = (await connection.execute(statement)).all()
        return [
            TitleHit(row.id, row.title, snippet(row.title, terms), row.updated_at) for row in rows
        ]
