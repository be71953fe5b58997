"""LangGraph thread views: search, state and history (create/read/update/delete are shared
with the native routes in `api/threads.py`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from graphchat.api.deps import OwnerDep, ThreadDep, ThreadStateDep
from graphchat.api.json_text_response import JsonText
from graphchat.api.langgraph.body import JsonBodyRoute
from graphchat.api.langgraph.schemas import (
    CheckpointId,
    HistoryIn,
    StateAtIn,
    ThreadSearch,
    ThreadStateOut,
)
from graphchat.api.langgraph.shapes import (
    ASSISTANT_ID,
    GRAPH_ID,
    langchain_messages,
    thread_interrupts,
    thread_state,
)
from graphchat.api.schemas import ThreadOut
from graphchat.api.threads import thread_out
from graphchat.service.records import ThreadQuery
from graphchat.service.thread_state import thread_status

router = APIRouter(prefix="/threads", tags=["langgraph"], route_class=JsonBodyRoute)
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
    owner: OwnerDep,
    states: ThreadStateDep,
    body: Annotated[ThreadSearch | None, Body()] = None,
) -> list[ThreadOut]:
    """The caller's threads matching metadata, ids and status; values hold the first message."""
    body = body or ThreadSearch()
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
    paused = await states.paused_among(found)  # only a paused thread has interrupts
    out = []
    for item in found:
        first = firsts.get(item.thread.id)
        out.append(
            thread_out(
                item.thread,
                status=thread_status(item.last_run_status),
                values={"messages": langchain_messages([first])} if first else None,
                interrupts=thread_interrupts(paused.get(item.thread.id)),
            )
        )
    return out


@router.get("/{thread_id}/state", responses=_NOT_FOUND, response_model=ThreadStateOut)
async def get_state(thread: ThreadDep, states: ThreadStateDep) -> JsonText:
    """The thread's latest state (an empty thread has no checkpoint id); a paused thread's
    carries the pending `tools` task and its interrupt (LangChain's HITL request)."""
    current = await states.current(thread)
    return JsonText(thread_state(thread.id, current.state, current.paused))


@router.get(
    "/{thread_id}/state/{checkpoint_id}", responses=_NOT_FOUND, response_model=ThreadStateOut
)
async def get_state_at(
    thread: ThreadDep, states: ThreadStateDep, checkpoint_id: CheckpointId
) -> JsonText:
    """The state at a checkpoint of any branch (`0`: the empty thread before its first message)."""
    return JsonText(thread_state(thread.id, await states.state_at(thread, checkpoint_id)))


@router.post("/{thread_id}/state/checkpoint", responses=_NOT_FOUND, response_model=ThreadStateOut)
async def post_state_at(thread: ThreadDep, states: ThreadStateDep, body: StateAtIn) -> JsonText:
    """`GET …/state/{checkpoint_id}` with the checkpoint in the body (the SDKs' `getState`
    with a checkpoint object); no `checkpoint_id`: the thread's state."""
    if body.checkpoint.checkpoint_id is None:
        return await get_state(thread, states)
    return await get_state_at(thread, states, body.checkpoint.checkpoint_id)


@router.post("/{thread_id}/history", responses=_NOT_FOUND, response_model=list[ThreadStateOut])
async def get_history(
    thread: ThreadDep,
    states: ThreadStateDep,
    body: Annotated[HistoryIn | None, Body()] = None,
) -> JsonText:
    """The newest states of every branch: two per turn (after the input, after the reply),
    each before its parent, the current branch's side of a fork first (so the first is
    `/state`); the latest of a paused thread carries its interrupt, as in `/state`."""
    body = body or HistoryIn()
    before, only = body.before_id(), body.checkpoint_id()
    found = await states.history(thread, limit=body.limit, before=before, at=only)
    paused = await states.paused(thread) if found and before is None and only is None else None
    return JsonText(
        [
            thread_state(thread.id, state, paused if index == 0 else None)
            for index, state in enumerate(found)
        ]
    )


@router.get("/{thread_id}/history", responses=_NOT_FOUND, response_model=list[ThreadStateOut])
async def get_history_by_query(
    thread: ThreadDep,
    states: ThreadStateDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: Annotated[CheckpointId | None, Query()] = None,
) -> JsonText:
    """`POST …/history` with `limit` and `before` in the query."""
    return await get_history(thread, states, HistoryIn(limit=limit, before=before))
