"""Threads and their messages: `/threads` and `/threads/{thread_id}/…`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from graphchat.api.deps import (
    BranchesDep,
    OwnerDep,
    SettingsDep,
    ThreadDep,
    ThreadsDep,
    ThreadStateDep,
)
from graphchat.api.langgraph.body import JsonBodyRoute
from graphchat.api.langgraph.shapes import langchain_messages, thread_interrupts
from graphchat.api.media import require_json
from graphchat.api.openapi import PAGE_SIZE, state_dependent
from graphchat.api.schemas import (
    MessageOut,
    MessagePage,
    ThreadCreate,
    ThreadOut,
    ThreadPage,
    ThreadPatch,
)
from graphchat.errors import ValidationFailed
from graphchat.service.records import MessageWindow, Thread
from graphchat.service.thread_state import ThreadStatus
from graphchat.settings import Settings

# agent-chat-ui's proxy sends these JSON bodies (create, update) as `text/plain`.
router = APIRouter(
    prefix="/threads",
    tags=["threads"],
    dependencies=[Depends(require_json)],
    route_class=JsonBodyRoute,
)

_NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "No such thread"}}
Limit = Annotated[
    int | None,
    Query(
        ge=1, description="Page size (bounded by the server).", json_schema_extra={PAGE_SIZE: True}
    ),
]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
SeqCursor = Annotated[int | None, Query(ge=0, le=2**31 - 1)]


def thread_out(
    thread: Thread,
    *,
    status: ThreadStatus = "idle",
    values: dict[str, Any] | None = None,
    interrupts: dict[str, Any] | None = None,
) -> ThreadOut:
    return ThreadOut(
        **thread.public_fields(),
        status=status,
        values=values,
        interrupts=interrupts or {},
    )


def page_size(limit: int | None, settings: Settings) -> int:
    if limit is None:
        return settings.limits.default_page_size
    if limit > settings.limits.max_page_size:
        raise ValidationFailed(
            f"limit may be at most {settings.limits.max_page_size}",
            details=[{"loc": ["query", "limit"], "msg": "too large", "type": "less_than_equal"}],
        )
    return limit


@dataclass(frozen=True, slots=True)
class Paging:
    """The page a list route is asked for: `size` items (bounded by the server) after `offset`."""

    size: int
    offset: int


async def _paging(settings: SettingsDep, limit: Limit = None, offset: Offset = 0) -> Paging:
    # An async function, not the class: FastAPI calls a class dependency in a worker thread.
    return Paging(page_size(limit, settings), offset)


PagingDep = Annotated[Paging, Depends(_paging)]


@router.post(
    "",
    status_code=201,
    responses={409: {"description": "The id is taken"}},
    openapi_extra=state_dependent("invalid_text"),
)
async def create_thread(body: ThreadCreate, owner: OwnerDep, threads: ThreadsDep) -> ThreadOut:
    """Create an empty thread (an id may be chosen; one is generated otherwise)."""
    thread = await threads.create(
        owner,
        thread_id=body.thread_id,
        title=body.title,
        model=body.model,
        metadata=body.metadata,
        if_exists=body.if_exists,
    )
    return thread_out(thread)


@router.get("", openapi_extra=state_dependent("invalid_cursor"))
async def list_threads(
    owner: OwnerDep,
    threads: ThreadsDep,
    states: ThreadStateDep,
    paging: PagingDep,
    cursor: Annotated[str | None, Query(max_length=512, pattern=r"^[A-Za-z0-9_-]*$")] = None,
) -> ThreadPage:
    """The caller's threads, most recent activity first."""
    page = await threads.page(owner, limit=paging.size, offset=paging.offset, cursor=cursor or None)
    statuses = await states.statuses(owner, [thread.id for thread in page.items])
    return ThreadPage(
        threads=[thread_out(thread, status=statuses[thread.id]) for thread in page.items],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


@router.get("/{thread_id}", responses=_NOT_FOUND)
async def get_thread(thread: ThreadDep, states: ThreadStateDep) -> ThreadOut:
    """The thread, with its LangGraph status and latest state values (bounded)."""
    current = await states.current(thread)
    values = {"messages": langchain_messages(current.state.messages)}
    interrupts = thread_interrupts(current.paused)
    return thread_out(thread, status=current.status, values=values, interrupts=interrupts)


@router.patch("/{thread_id}", responses=_NOT_FOUND, openapi_extra=state_dependent("invalid_text"))
async def update_thread(
    thread: ThreadDep,
    body: ThreadPatch,
    owner: OwnerDep,
    threads: ThreadsDep,
    states: ThreadStateDep,
) -> ThreadOut:
    """Rename, change the model, or merge metadata keys (a null value removes a key)."""
    changes = body.model_dump(exclude_unset=True)
    updated = await threads.update(owner, thread.id, changes)
    statuses = await states.statuses(owner, [thread.id])
    return thread_out(updated, status=statuses[thread.id])


@router.delete("/{thread_id}", status_code=204, responses=_NOT_FOUND)
async def delete_thread(thread: ThreadDep, threads: ThreadsDep) -> Response:
    """Delete the thread with all its messages and runs."""
    await threads.delete(thread)
    return Response(status_code=204)


@router.get("/{thread_id}/messages", responses=_NOT_FOUND)
async def list_messages(
    thread: ThreadDep,
    threads: ThreadsDep,
    branches: BranchesDep,
    paging: PagingDep,
    before: SeqCursor = None,
    after: SeqCursor = None,
    order: Literal["asc", "desc"] = "asc",
) -> MessagePage:
    """A page of the current branch by sequence number: `order=desc` starts from the newest.

    Each message tells its `siblings` (other branches from the same point).
    """
    window = MessageWindow(paging.size, paging.offset, before, after, order)
    page = await threads.messages(thread, window)
    siblings = await branches.siblings(thread.id, page.items)
    return MessagePage(
        messages=[
            MessageOut.model_validate(message).model_copy(
                update={
                    "siblings": list(info.ids),
                    "sibling_index": info.index,
                    "sibling_count": len(info.ids),
                }
            )
            for message, info in zip(page.items, siblings, strict=True)
        ],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )
