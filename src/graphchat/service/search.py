"""Full-text search across one owner's threads: titles and message text, best hits first."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from graphchat.service.periodic import every
from graphchat.store import Store
from graphchat.store.search import MessageHit, TitleHit
from graphchat.store.search_index import INTERVAL_SECONDS
from graphchat.store.search_text import search_terms

__all__ = ["MAX_LIMIT", "MAX_OFFSET", "MessageHit", "SearchResult", "SearchService", "TitleHit"]

MAX_LIMIT = 50
MAX_OFFSET = 1_000  # deep pages of a ranked search are never read; they only cost
TITLE_LIMIT = 10

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Matching titles (first page only) and a page of matching messages."""

    titles: list[TitleHit]
    messages: list[MessageHit]
    next_offset: int | None


class SearchService:
    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def indexes_later(self) -> bool:
        """Whether messages are indexed after their turn (SQLite), by `index_forever`."""
        return self._store.search_index.batched

    async def index_forever(self) -> None:
        """Index new messages every `INTERVAL_SECONDS`, so that a search seldom has to."""
        index = self._store.search_index
        await every(INTERVAL_SECONDS, index.catch_up, log, "search_index_skipped")

    async def search(self, owner: str, text: str, *, limit: int, offset: int = 0) -> SearchResult:
        """Search `owner`'s threads; a text without letters or digits finds nothing."""
        if not search_terms(text):
            return SearchResult(titles=[], messages=[], next_offset=None)
        limit = min(limit, MAX_LIMIT)
        first_page = TITLE_LIMIT if offset == 0 else 0  # titles come with the first page only
        titles, page = await self._store.search.found(
            owner, text, limit=limit, offset=offset, titles=first_page
        )
        more = page.has_more and offset + limit <= MAX_OFFSET
        return SearchResult(titles, page.items, offset + limit if more else None)
