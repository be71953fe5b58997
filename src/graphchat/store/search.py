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
# Private-use characters mark the hits in the database's snippet; they become <mark> after the
# text around them is HTML-escaped, so a message's own markup can never reach a page as HTML.
_START, _STOP = "\ue000", "\ue001"
_ELLIPSIS = "…"
_SNIPPET_TOKENS = 16
_HEADLINE_OPTIONS = (
    f"StartSel={_START}, StopSel={_STOP}, MaxWords=24, MinWords=8, ShortWord=2, "
    f'MaxFragments=2, FragmentDelimiter=" {_ELLIPSIS} "'
)
_HEADLINE_CHARS = 20_000  # ts_headline re-parses the text: bound its work per hit
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


def highlighted(raw: str) -> str:
    """The database's snippet as safe HTML: escaped, with the hits in <mark>."""
    escaped = html.escape(raw, quote=False)
    return escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")


def _message_columns() -> list[Any]:
    return [*_MESSAGE.c, _THREAD.c.title.label("thread_title")]


def _sqlite_messages(terms: Sequence[str], owner: str) -> Select[Any]:
    fts = table("messages_fts", column("rowid"))
    name = _sql("messages_fts")
    snippet = func.snippet(name, 0, _START, _STOP, _ELLIPSIS, _SNIPPET_TOKENS)
    return (
        select(*_message_columns(), snippet.label("snippet"))
        .select_from(fts)
        .join(_MESSAGE, _sql("messages.rowid") == fts.c.rowid)
        .join(_THREAD, _THREAD.c.id == _MESSAGE.c.thread_id)
        .where(name.op("MATCH")(_fts5_query(terms)), _THREAD.c.owner == owner)
        .order_by(func.bm25(name), _MESSAGE.c.created_at.desc(), _MESSAGE.c.id)
    )


def _postgres_messages(terms: Sequence[str], owner: str) -> Select[Any]:
    query = func.to_tsquery(_CONFIG, _tsquery(terms))
    vector = _sql("messages.search_vector")
    rank = func.ts_rank(vector, query)
    return (
        select(*_message_columns(), literal_column("NULL").label("snippet"), rank.label("score"))
        .join(_THREAD, _THREAD.c.id == _MESSAGE.c.thread_id)
        .where(vector.op("@@")(query), _THREAD.c.owner == owner)
        .order_by(rank.desc(), _MESSAGE.c.created_at.desc(), _MESSAGE.c.id)
    )


def _with_headlines(ranked: Select[Any], terms: Sequence[str]) -> Select[Any]:
    """PostgreSQL: headlines for the page's rows only (ts_headline is the costly part)."""
    page = ranked.subquery("page")
    text = func.left(page.c.content, _HEADLINE_CHARS)
    query = func.to_tsquery(_CONFIG, _tsquery(terms))
    headline = func.ts_headline(_CONFIG, text, query, _HEADLINE_OPTIONS)
    columns = [c for c in page.c if c.name != "snippet"]
    order = (page.c.score.desc(), page.c.created_at.desc(), page.c.id)
    return select(*columns, headline.label("snippet")).order_by(*order)


async def matching_messages(
    connection: AsyncConnection,
    owner: str,
    text: str,
    *,
    limit: int,
    offset: int = 0,
    exclude_run_id: str | None = None,
) -> Sequence[Row[Any]]:
    """`owner`'s messages matching `text`, best first: message columns, thread_title, snippet."""
    terms = search_terms(text)
    if not terms:
        return []
    sqlite = connection.dialect.name == "sqlite"
    statement = _sqlite_messages(terms, owner) if sqlite else _postgres_messages(terms, owner)
    if exclude_run_id is not None:
        statement = statement.where(
            _MESSAGE.c.run_id.is_(None) | (_MESSAGE.c.run_id != exclude_run_id)
        )
    statement = statement.limit(limit).offset(offset)
    if not sqlite:
        statement = _with_headlines(statement, terms)
    return list((await connection.execute(statement)).all())


def _titles(terms: Sequence[str], owner: str, dialect: str) -> Select[Any]:
    columns = [_THREAD.c.id, _THREAD.c.title, _THREAD.c.updated_at]
    rank: ColumnElement[Any]
    if dialect == "sqlite":
        fts = table("threads_fts", column("rowid"))
        name = _sql("threads_fts")
        snippet = func.snippet(name, 0, _START, _STOP, _ELLIPSIS, _SNIPPET_TOKENS)
        statement = (
            select(*columns, snippet.label("snippet"))
            .select_from(fts)
            .join(_THREAD, _sql("threads.rowid") == fts.c.rowid)
            .where(name.op("MATCH")(_fts5_query(terms)))
        )
        rank = func.bm25(name)
    else:
        query = func.to_tsquery(_CONFIG, _tsquery(terms))
        vector = _sql("threads.title_vector")
        snippet = func.ts_headline(_CONFIG, _THREAD.c.title, query, _HEADLINE_OPTIONS)
        statement = select(*columns, snippet.label("snippet")).where(vector.op("@@")(query))
        rank = func.ts_rank(vector, query).desc()
    return statement.where(_THREAD.c.owner == owner).order_by(rank, _THREAD.c.updated_at.desc())


class SearchRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def messages(
        self, owner: str, text: str, *, limit: int, offset: int = 0
    ) -> Page[MessageHit]:
        """A page of hits, best first."""
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
                snippet=highlighted(row.snippet or ""),
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
            TitleHit(row.id, row.title, highlighted(row.snippet or ""), row.updated_at)
            for row in rows
        ]
