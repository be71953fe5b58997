"""LangGraph runs: start one in the background, streamed or waited for, join it; stateless runs.

A run is a graphchat turn (`ChatService`); these routes only translate its body and results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from sse_starlette import EventSourceResponse

from graphchat.api.chat import IdempotencyKey, keyed, turn_request
from graphchat.api.deps import (
    ChatDep,
    OwnerDep,
    RunsDep,
    SettingsDep,
    ThreadDep,
    ThreadIdPath,
    ThreadsDep,
    ThreadStateDep,
)
from graphchat.api.langgraph.body import json_body
from graphchat.api.langgraph.schemas import RunCreate
from graphchat.api.langgraph.shapes import langchain_messages, resolve_assistant
from graphchat.api.langgraph.stream import LangGraphRenderer, stream_modes
from graphchat.api.runs import run_out
from graphchat.api.schemas import RunOut
from graphchat.api.sse import event_stream_response
from graphchat.errors import NotFound, ValidationFailed
from graphchat.service.chat import ChatService, TurnRequest
from graphchat.service.runs import RunService
from graphchat.service.thread_state import ThreadStateService
from graphchat.service.threads import ThreadService
from graphchat.settings import Settings
from graphchat.store.records import Run

router = APIRouter(tags=["langgraph"])
Body = Annotated[RunCreate, Depends(json_body(RunCreate))]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such thread, assistant or checkpoint"},
    409: {"description": "The thread is busy, or the checkpoint is not the latest"},
    422: {"description": "Invalid body"},
}
_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}},
    **_ERRORS,
}


def _location(response: Response, run: Run, suffix: str = "") -> None:
    base = f"/threads/{run.thread_id}/runs/{run.id}"
    response.headers["Content-Location"] = base
    if suffix:
        response.headers["Location"] = base + suffix


@dataclass(frozen=True, slots=True)
class _Views:
    """The services the run routes use."""

    chat: ChatService
    runs: RunService
    states: ThreadStateService
    threads: ThreadService
    settings: Settings


async def _views(
    chat: ChatDep,
    runs: RunsDep,
    states: ThreadStateDep,
    threads: ThreadsDep,
    settings: SettingsDep,
) -> _Views:
    return _Views(chat, runs, states, threads, settings)


Views = Annotated[_Views, Depends(_views)]


async def _check_thread(
    thread_id: ThreadIdPath, owner: OwnerDep, threads: ThreadsDep, request: Request
) -> str:
    """The path's thread id, if the caller's thread or to be created: checked before the body,
    so another owner's thread is a 404 whatever the body, exactly as a missing one."""
    try:
        await threads.get(owner, thread_id)
    except NotFound:
        try:
            creates = orjson.loads(await request.body()).get("if_not_exists") == "create"
        except (orjson.JSONDecodeError, AttributeError):
            creates = False
        if not creates:
            raise
    return thread_id


RunThreadId = Annotated[str, Depends(_check_thread)]


async def _request(
    body: RunCreate, thread_id: str | None, owner: str, views: _Views, route: str, key: str | None
) -> TurnRequest:
    """The turn a LangGraph run body asks for, checked like a native one."""
    resolve_assistant(body.assistant_id)
    if body.command is not None:
        raise ValidationFailed(
            "`command` (resuming an interrupt) is not supported: this graph never pauses",
            details=[{"loc": ["body", "command"], "msg": "unsupported", "type": "value_error"}],
        )
    if thread_id is not None:
        await views.states.check_head(owner, thread_id, body.checkpoint_named())
    inputs = body.input.messages if body.input is not None else []
    configurable = body.config.configurable
    request = turn_request(inputs, configurable, owner, views.settings, views.chat.tools)
    strategy = body.multitask_strategy
    request = replace(
        request,
        thread_id=thread_id,
        create_thread=thread_id is None or body.if_not_exists == "create",
        # graphchat keeps what a stopped run said, so `rollback` stops it as `interrupt` does.
        multitask="interrupt" if strategy == "rollback" else strategy,
    )
    return keyed(request, route, body, key)


@dataclass(frozen=True, slots=True)
class _Call:
    """What every run-starting route takes: the body, the caller, the services, the key."""

    body: RunCreate
    owner: str
    views: _Views
    key: str | None


async def _call(body: Body, owner: OwnerDep, views: Views, key: IdempotencyKey = None) -> _Call:
    return _Call(body, owner, views, key)


Call = Annotated[_Call, Depends(_call)]


async def _values(views: _Views, run: Run) -> dict[str, Any]:
    thread = await views.threads.get(run.owner, run.thread_id)
    return {"messages": langchain_messages((await views.states.state(thread)).messages)}


async def _forget(views: _Views, run: Run) -> None:
    """Delete a stateless run's throwaway thread."""
    await views.threads.delete(await views.threads.get(run.owner, run.thread_id))


async def _stream(call: _Call, thread_id: str | None) -> EventSourceResponse:
    body, views = call.body, call.views
    request = await _request(body, thread_id, call.owner, views, "/runs/stream", call.key)
    opened = await views.chat.open_stream(request)
    run = opened.run
    history = await views.states.before_run(run)

    async def cancel() -> None:
        await views.runs.cancel(run, wait=False)

    async def forget() -> None:
        await _forget(views, run)

    modes = stream_modes(body.stream_mode, legacy_messages=True)
    return event_stream_response(
        run,
        LangGraphRenderer(modes, views.settings.limits.sse_retry_ms, history),
        opened.events,
        views.settings,
        on_abandon=cancel if body.on_disconnect == "cancel" else None,
        on_close=forget if thread_id is None and body.on_completion == "delete" else None,
    )


async def _wait(call: _Call, thread_id: str | None, response: Response) -> dict[str, Any]:
    body, views = call.body, call.views
    request = await _request(body, thread_id, call.owner, views, "/runs/wait", call.key)
    result = await views.chat.complete(request)
    _location(response, result.run, "/join")
    values = await _values(views, result.run)
    if thread_id is None and body.on_completion == "delete":
        await _forget(views, result.run)
    return values


@router.post("/threads/{thread_id}/runs", responses=_ERRORS)
async def create_run(thread_id: RunThreadId, call: Call, response: Response) -> RunOut:
    """Start a run in the background; follow it with `join` or its `stream`."""
    request = await _request(call.body, thread_id, call.owner, call.views, "/runs", call.key)
    run = await call.views.chat.launch(request)
    _location(response, run)
    return run_out(run)


@router.post(
    "/threads/{thread_id}/runs/stream", response_class=EventSourceResponse, responses=_STREAM
)
async def stream_run(thread_id: RunThreadId, call: Call) -> EventSourceResponse:
    """Start a run and stream its events in the requested `stream_mode`s."""
    return await _stream(call, thread_id)


@router.post("/threads/{thread_id}/runs/wait", responses=_ERRORS)
async def wait_run(thread_id: RunThreadId, call: Call, response: Response) -> dict[str, Any]:
    """Run to the end; the thread's state values (`{messages: [...]}`, bounded)."""
    return await _wait(call, thread_id, response)


@router.get("/threads/{thread_id}/runs/{run_id}/join", responses=_ERRORS)
async def join_run(
    thread: ThreadDep, run_id: str, views: Views, response: Response
) -> dict[str, Any]:
    """Wait for a run to end; the thread's state values then (the run's error if it failed)."""
    result = await views.runs.result(await views.runs.get(thread, run_id))
    _location(response, result.run)
    return await _values(views, result.run)


@router.post("/runs/stream", response_class=EventSourceResponse, responses=_STREAM)
async def stream_stateless(call: Call) -> EventSourceResponse:
    """A run on a new thread, deleted at the end unless `on_completion` is `keep`."""
    return await _stream(call, None)


@router.post("/runs/wait", responses=_ERRORS)
async def wait_stateless(call: Call, response: Response) -> dict[str, Any]:
    """A run on a new thread, waited for; the thread is deleted unless `on_completion: keep`."""
    return await _wait(call, None, response)
