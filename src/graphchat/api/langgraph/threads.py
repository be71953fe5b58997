"""LangGraph thread views: search, state and history (create/read/update/delete are shared
with the native routes in `api/threads.py`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from graphchat.api.deps import OwnerDep, ThreadDep, ThreadStateDep
from graphchat.api.langgraph.body import json_body
from graphchat.api.langgraph.schemas import HistoryIn, ThreadSearch, ThreadStateOut
from graphchat.api.langgraph.shapes import ASSISTANT_ID, GRAPH_ID, langchain_messages, thread_state
from graphchat.api.schemas import ThreadOut
from graphchat.api.threads import thread_out
from graphchat.service.records import ThreadQuery
from graphchat.service.thread_state import thread_status

router = APIRouter(prefix="/threads", tags=["langgraph"])
_NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "No such thread"}}
# Every thread belongs to the one graph: these keys match all threads, or none.
_GRAPH_KEYS = {"graph_id": GRAPH_ID, "assistant_id": ASSISTANT_ID}


def _own_metadata(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """The filter without the graph's own keys; None when it names another graph."""
    if any(metadata[key] != value for key, value in _GRAPH_KEYS.items() if key in metadata):
        return None
    return {key: value for key, value in metadata.items() if key not in _GRAPH_KEYS}


@router.post("/search")
async def search_threads(
    body: Annotated[ThreadSearch, Depends(json_body(ThreadSearch))],
    owner: OwnerDep,
    states: ThreadStateDep,
) -> list[ThreadOut]:
    """The caller's threads matching metadata, ids and status; values hold the first message."""
    metadata = _own_metadata(body.metadata or {})
    if metadata is None:
        return []
    query = ThreadQuery(
        owner=owner,
        metadata=metadata,
        ids=body.ids,
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by if body.sort_by in ("thread_id", "created_at") else "updated_at",
        descending=body.sort_order != "asc",
    )
    found, firsts = await states.search(query, body.status)
    return [
        thread_out(
            item.thread,
            status=thread_status(item.last_run_status),
            values={"messages": langchain_messages([firsts[item.thread.id]])}
            if item.thread.id in firsts
            else None,
        )
        for item in found
    ]


@router.get("/{thread_id}/state", responses=_NOT_FOUND)
async def get_state(thread: ThreadDep, states: ThreadStateDep) -> ThreadStateOut:
    """The thread's latest state (an empty thread has no checkpoint id)."""
    return thread_state(thread.id, await states.state(thread))


@router.post("/{thread_id}/history", responses=_NOT_FOUND)
async def get_history(
    thread: ThreadDep,
    states: ThreadStateDep,
    body: Annotated[HistoryIn, Depends(json_body(HistoryIn))],
) -> list[ThreadStateOut]:
    """Past states, newest first: two per turn (after the input, after the reply)."""
    found = await states.history(thread, limit=body.limit, before=body.before_id())
    return [thread_state(thread.id, state) for state in found]
