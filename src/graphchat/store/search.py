"""Full-text search over an owner's messages and thread titles (FTS5 on SQLite, tsvector on
PostgreSQL; the indexes come from migrations 0004, 0007 and 0008).

A search engine's bound: only the caller's `RANKED_CANDIDATES` newest matching messages are
ranked, found newest first and no further (SQLite: FTS5 walks its index by rowid; PostgreSQL:
search_postgres.py), so a word in a third of all messages costs about what a rarer one does.
Only the returned page is read in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import text

from graphchat.store.database import run_transaction
from graphchat.store.records import Page
from graphchat.store.search_index import SearchIndex
from graphchat.store.search_postgres import CONFIG, postgres_ranked, unexcluded
from graphchat.store.search_text import (
    RANKED_CANDIDATES,
    folded,
    fts5_query,
    search_terms,
    snippet,
    tsquery,
)
from graphchat.store.tables import MESSAGES, THREADS

# A last word that starts more indexed words than this is matched as an FTS5 prefix instead.
_PREFIX_WORDS = 32
# BM25's usual constants: how fast repeats stop counting, how much a long message is discounted.
_K1 = 1.2
_B = 0.75


# Each step seeks the next word above the last one (an indexed word holds no control character).
_NEXT_WORDS = text(
    "WITH RECURSIVE words(term) AS ("
    " SELECT (SELECT term FROM messages_fts_words WHERE term >= :low AND term < :high LIMIT 1)"
    " UNION ALL SELECT (SELECT term FROM messages_fts_words"
    "  WHERE term >= words.term || char(1) AND term < :high LIMIT 1)"
    " FROM words WHERE words.term IS NOT NULL LIMIT :most"
    ") SELECT term FROM words WHERE term IS NOT NULL"
)


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


def _owned(statement: Select[Any], owner: str, exclude_run_id: str | None) -> Select[Any]:
    statement = statement.join(THREADS, THREADS.c.id == MESSAGES.c.thread_id)
    return unexcluded(statement.where(THREADS.c.owner == owner), exclude_run_id)


def _prefix_words(connection: Connection, prefix: str) -> list[str]:
    """The indexed words that start with `prefix`, skipping from one to the next in the FTS5
    vocabulary (0007); empty when there are more than `_PREFIX_WORDS` of them."""
    if not prefix:  # a word that folds to nothing, e.g. U+FF9E
        return []
    ceiling = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    bounds = {"low": prefix, "high": ceiling, "most": _PREFIX_WORDS + 1}
    words = list(connection.execute(_NEXT_WORDS, bounds).scalars())
    return words if len(words) <= _PREFIX_WORDS else []


def _bm25(content: ColumnElement[Any], average: ColumnElement[Any], terms: Sequence[str]) -> Any:
    """BM25 of `content` computed from its text, every term weighted alike (a term's count is
    how often it occurs in the lower-cased text): among candidates that all hold every term,
    document frequency barely ranks, and FTS5's bm25() would count every match to find it."""
    lowered = func.lower(content)
    norm = _K1 * (1 - _B + _B * func.length(content) / average)
    total: Any = 0.0
    for term in terms:
        count = (func.length(lowered) - func.length(func.replace(lowered, term, ""))) / len(term)
        total = total + count * (_K1 + 1) / (count + norm)
    return total


def _sqlite_ranked(
    connection: Connection, terms: Sequence[str], owner: str, exclude: str | None, count: int
) -> list[str]:
    """The ids of the best `count` among the newest `RANKED_CANDIDATES` matches: FTS5 walks its
    index newest first and stops there; each candidate is scored on its own text (`_bm25`)."""
    fts = table("messages_fts", column("rowid"))
    name = _sql("messages_fts")
    match = fts5_query(terms, _prefix_words(connection, folded(terms[-1])))
    statement = (
        select(MESSAGES.c.id, fts.c.rowid, MESSAGES.c.content)
        .select_from(fts)
        .join(MESSAGES, _sql("messages.rowid") == fts.c.rowid)
        .where(name.op("MATCH")(match))
    )
    newest = (
        _owned(statement, owner, exclude)
        .order_by(fts.c.rowid.desc())
        .limit(RANKED_CANDIDATES)
        .subquery("newest")
    )
    average = func.avg(func.length(newest.c.content)).over()  # over the candidates only
    candidates = select(*newest.c, average.label("average")).subquery("candidates")
    rank = _bm25(candidates.c.content, candidates.c.average, [folded(term) for term in terms])
    best = select(candidates.c.id).order_by(rank.desc(), candidates.c.rowid.desc()).limit(count)
    return list(connection.execute(best).scalars())


def _matching(
    connection: Connection,
    owner: str,
    terms: Sequence[str],
    page: slice,
    exclude_run_id: str | None = None,
) -> list[Row[Any]]:
    """The `page` of `owner`'s messages matching `terms`, best first: message columns and
    thread_title, read for that page only."""
    rank = _sqlite_ranked if connection.dialect.name == "sqlite" else postgres_ranked
    ids = rank(connection, terms, owner, exclude_run_id, page.stop)[page]
    if not ids:
        return []
    columns: list[Any] = [*MESSAGES.c, THREADS.c.title.label("thread_title")]
    statement = (
        select(*columns)
        .join(THREADS, THREADS.c.id == MESSAGES.c.thread_id)
        .where(MESSAGES.c.id.in_(ids))
    )
    rows = {row.id: row for row in connection.execute(statement)}
    return [rows[message_id] for message_id in ids]


def matching_messages(
    connection: Connection,
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
    return _matching(connection, owner, terms, slice(offset, offset + limit), exclude_run_id)


def _titles(terms: Sequence[str], owner: str, dialect: str) -> Select[Any]:
    statement = select(THREADS.c.id, THREADS.c.title, THREADS.c.updated_at)
    rank: ColumnElement[Any]
    if dialect == "sqlite":
        fts = table("threads_fts", column("rowid"))
        name = _sql("threads_fts")
        statement = (
            statement.select_from(fts)
            .join(THREADS, _sql("threads.rowid") == fts.c.rowid)
            .where(name.op("MATCH")(fts5_query(terms)))
        )
        rank = func.bm25(name)
    else:
        query = func.to_tsquery(CONFIG, tsquery(terms))
        vector = _sql("threads.title_vector")
        statement = statement.where(vector.op("@@")(query))
        rank = func.ts_rank(vector, query).desc()
    return statement.where(THREADS.c.owner == owner).order_by(rank, THREADS.c.updated_at.desc())


def _message_hit(row: Row[Any], terms: Sequence[str]) -> MessageHit:
    found = {field: getattr(row, field) for field in ("thread_id", "seq", "role", "created_at")}
    title, text = row.thread_title, snippet(row.content, terms)
    return MessageHit(message_id=row.id, thread_title=title, snippet=text, **found)


class SearchRepository:
    def __init__(self, engine: AsyncEngine, index: SearchIndex) -> None:
        self._engine = engine
        self._index = index

    async def found(
        self, owner: str, text: str, *, limit: int, offset: int = 0, titles: int = 0
    ) -> tuple[list[TitleHit], Page[MessageHit, None]]:
        """Up to `titles` matching threads and a page of `limit` message hits, best first, read
        in one transaction (one round trip less each way on PostgreSQL); snippets for those
        only."""
        terms = search_terms(text)
        if not terms:
            return [], Page(items=[], has_more=False)
        page = slice(offset, offset + limit + 1)
        await self._index.catch_up()

        def body(connection: Connection) -> tuple[Sequence[Row[Any]], list[Row[Any]]]:
            title_rows: Sequence[Row[Any]] = []
            if titles:
                statement = _titles(terms, owner, connection.dialect.name).limit(titles)
                title_rows = connection.execute(statement).all()
            return title_rows, _matching(connection, owner, terms, page) if limit else []

        title_rows, rows = await run_transaction(self._engine, body)
        found = [TitleHit(r.id, r.title, snippet(r.title, terms), r.updated_at) for r in title_rows]
        hits = [_message_hit(row, terms) for row in rows[:limit]]
        return found, Page(items=hits, has_more=len(rows) > limit)

    async def messages(
        self, owner: str, text: str, *, limit: int, offset: int = 0
    ) -> Page[MessageHit, None]:
        """A page of hits, best first; snippets for that page only."""
        return (await self.found(owner, text, limit=limit, offset=offset))[1]

    async def titles(self, owner: str, text: str, *, limit: int) -> list[TitleHit]:
        """`owner`'s threads whose title matches `text`, best first."""
        return (await self.found(owner, text, limit=0, titles=limit))[0]
