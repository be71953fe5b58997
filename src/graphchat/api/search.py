"""`GET /search`: full-text search across the caller's threads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from graphchat.api.deps import OwnerDep, ServicesDep
from graphchat.service.search import MAX_LIMIT, MAX_OFFSET, MessageHit, SearchService, TitleHit

router = APIRouter(tags=["search"])

_SNIPPET = "Each `snippet` is HTML-escaped text around the hits, each hit in <mark>…</mark>."


class SearchOut(BaseModel):
    query: str
    titles: list[TitleHit] = Field(
        description="Threads whose title matches (first page). " + _SNIPPET
    )
    messages: list[MessageHit] = Field(description="Matching messages, best first. " + _SNIPPET)
    next_offset: int | None = Field(description="Pass as `offset` for the next page.")


async def get_search(services: ServicesDep) -> SearchService:
    return services.search


SearchDep = Annotated[SearchService, Depends(get_search)]


@router.get("/search")
async def search(
    owner: OwnerDep,
    service: SearchDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="Words to look for.")],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SearchOut:
    """Search the caller's thread titles and messages (all words, the last also as a prefix)."""
    found = await service.search(owner, q, limit=limit, offset=offset)
    return SearchOut(
        query=q, titles=found.titles, messages=found.messages, next_offset=found.next_offset
    )
