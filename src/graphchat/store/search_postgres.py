"""PostgreSQL's side of message search: the caller's newest matches, found without reading every
match's row when that would cost more.

Three ways, chosen from PostgreSQL's own estimate of how many messages match:
- few matches: all of them from the GIN index, sorted by date;
- many (a common word): the caller's messages walked newest first on (owner, created_at, id),
  stopping after the candidates;
- in between: newest first in slices of time. A slice is the AND of the GIN matches and a range
  of (owner, created_at), so only the matching rows inside it are read; it starts where the
  estimate promises enough candidates and widens until it holds them or covers everything.
  Whatever ends up in the last slice, the result is the full scan's: a slice is every message
  from its start on, so its newest matches are the newest overall once it holds enough of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import text
from sqlalchemy.sql.selectable import AliasedReturnsRows

from graphchat.store.search_text import RANKED_CANDIDATES, tsquery
from graphchat.store.tables import MESSAGES

# Walk newest first from this many estimated matches: about where reading all matches costs
# what walking past the non-matching messages does.
_WALK_FROM = 30
# The first slice should hold this many times the candidates, by the estimate; then × _WIDEN.
_SLICE_MARGIN = 1.5
_WIDEN = 4
_ESTIMATE = text(
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM messages "
    "WHERE search_vector @@ to_tsquery('graphchat_search'::regconfig, :query)"
)
_SPAN = text("SELECT min(created_at), max(created_at) FROM messages WHERE owner = :owner")
# Workers and JIT compilation cost more than they save on a bounded search (measured). (A
# slice's start decides its plan: every transaction plans each execution for its own values,
# `plan_cache_mode` in store/database.py.)
_SEARCH_SETTINGS = text(
    "SELECT set_config('max_parallel_workers_per_gather', '0', true), "
    "set_config('jit', 'off', true)"
)
# `simple` with accents folded (migration 0008), as FTS5's tokenizer does on SQLite.
CONFIG: ColumnElement[Any] = literal_column("'graphchat_search'::regconfig")


def _estimated_matches(connection: Connection, query: str) -> float:
    """PostgreSQL's own estimate of how many messages match (from the vector's statistics)."""
    plan = connection.execute(_ESTIMATE, {"query": query}).scalar_one()
    return float((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])


def unexcluded(statement: Select[Any], exclude_run_id: str | None) -> Select[Any]:
    """Leave out the messages of run `exclude_run_id` (the run searching)."""
    if exclude_run_id is not None:
        run = MESSAGES.c.run_id
        statement = statement.where(run.is_(None) | (run != exclude_run_id))
    return statement


def _best_since(
    connection: Connection,
    found: Select[Any],
    query: ColumnElement[Any],
    count: int,
    walk: bool,
) -> tuple[list[str], int]:
    """The ids of the best `count` of `found`'s newest `RANKED_CANDIDATES` rows, and how many
    of those there were."""
    matches: AliasedReturnsRows = (
        found.subquery("matches") if walk else found.cte("matches").prefix_with("MATERIALIZED")
    )
    newest = (
        select(matches)
        .order_by(matches.c.created_at.desc(), matches.c.id.desc())
        .limit(RANKED_CANDIDATES)
        .cte("newest")
    )
    rank = func.ts_rank(newest.c.vector, query)
    statement = (
        select(newest.c.id, func.count().over().label("candidates"))  # before the limit
        .order_by(rank.desc(), newest.c.created_at.desc(), newest.c.id.desc())
        .limit(count)
    )
    rows = connection.execute(statement).all()
    return [row.id for row in rows], rows[0].candidates if rows else 0


def postgres_ranked(
    connection: Connection,
    terms: Sequence[str],
    owner: str,
    exclude: str | None,
    count: int,
    first_slice: float | None = None,
) -> list[str]:
    """The ids of the best `count` among `owner`'s newest `RANKED_CANDIDATES` matches, by
    ts_rank of the stored vector, computed for the candidates only (see the module docstring).
    `first_slice`: the newest share of the owner's time searched first (default: from the
    estimate, and only when slicing pays)."""
    text_query = tsquery(terms)
    query = func.to_tsquery(CONFIG, text_query)
    vector: ColumnElement[Any] = literal_column("messages.search_vector")
    columns: list[Any] = [MESSAGES.c.id, MESSAGES.c.created_at, vector.label("vector")]
    owned = (literal_column("messages.owner") == owner) & vector.op("@@")(query)
    found = unexcluded(select(*columns).where(owned), exclude)
    estimate = _estimated_matches(connection, text_query)
    connection.execute(_SEARCH_SETTINGS)
    if first_slice is None and estimate >= _WALK_FROM * RANKED_CANDIDATES:
        return _best_since(connection, found, query, count, walk=True)[0]
    fraction = first_slice or _SLICE_MARGIN * RANKED_CANDIDATES / max(estimate, 1.0)
    oldest, newest = connection.execute(_SPAN, {"owner": owner}).one()
    while True:
        since = _slice_start(oldest, newest, fraction)
        sliced = found if since is None else found.where(MESSAGES.c.created_at >= since)
        ids, candidates = _best_since(connection, sliced, query, count, walk=False)
        if since is None or since <= oldest or candidates >= RANKED_CANDIDATES:
            return ids
        fraction *= _WIDEN


def _slice_start(oldest: datetime | None, newest: datetime | None, fraction: float) -> Any:
    """Where the newest `fraction` of the time from `oldest` to `newest` begins (None: from the
    beginning), as if messages were spread evenly over it; widening corrects when they are not."""
    if oldest is None or newest is None or fraction >= 1:
        return None
    return newest - (newest - oldest) * fraction
