"""LangGraph runs: start one in the background, streamed or waited for, join it; stateless runs.

A run is a graphchat turn (`ChatService`); these routes only translate its body and results.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Response
from sse_starlette import EventSourceResponse

from graphchat.api.chat import IdempotencyKey, keyed, turn_request
from graphchat.api.deps import Caller, CallerDep, ThreadDep, ThreadIdPath
from graphchat.api.langgraph.command import checked_command, resume_decisions
from graphchat.api.langgraph.schemas import RunCreate
from graphchat.api.langgraph.shapes import (
    INTERRUPT_KEY,
    langchain_messages,
    resolve_assistant,
    run_interrupts,
)
from graphchat.api.langgraph.stream import LangGraphRenderer, stream_modes
from graphchat.api.langgraph.thread_first import ThreadRunRoute
from graphchat.api.openapi import state_dependent
from graphchat.api.runs import run_out
from graphchat.api.schemas import RunOut
from graphchat.api.sse import event_stream_response
from graphchat.errors import Conflict, LeafMoved, NotFound, RunNotPaused
from graphchat.service.chat import ChatService, RunStream, TurnRequest
from graphchat.service.records import Decision, Message, Run
from graphchat.service.runs import RunResult, RunService
from graphchat.service.thread_state import ThreadStateService, checkpoint_id
from graphchat.service.threads import ThreadService
from graphchat.settings import Settings

T = TypeVar("T")

router = APIRouter(tags=["langgraph"], route_class=ThreadRunRoute)
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such thread, assistant or checkpoint"},
    409: {
        "description": "The thread is busy, a `command` names an older checkpoint, or it "
        "resumes a thread with no paused run (`run_not_paused`)"
    },
    422: {"description": "Invalid body, or decisions that do not match the pending calls"},
}
# Schema-valid runs may still be refused by state: an unknown model (the backends decide),
# a reused Idempotency-Key, a NUL character PostgreSQL cannot store.
_STATE = state_dependent(
    "model_not_found", "idempotency_key_reused", "invalid_text", "checkpoint_not_found"
)
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

    @classmethod
    def of(cls, caller: Caller) -> _Views:
        services = caller.services
        return cls(
            services.chat, services.runs, services.thread_state, services.threads, services.settings
        )


async def _views(caller: CallerDep) -> _Views:
    return _Views.of(caller)


Views = Annotated[_Views, Depends(_views)]


async def _request(
    body: RunCreate, thread_id: str | None, owner: str, views: _Views, route: str, key: str | None
) -> TurnRequest:
    """The turn a LangGraph run body asks for, checked like a native one."""
    resolve_assistant(body.assistant_id)
    inputs = body.input.messages if body.input is not None else []
    checkpoint = body.checkpoint_named()
    branch = continue_at = None
    states = views.states
    if thread_id is not None:
        # The leaf this process keeps: begin checks it is still the leaf (`_started`).
        continue_at = states.kept_leaf(owner, thread_id, checkpoint) if inputs else None
        if continue_at is None:  # no input: answer again from there (regenerate), even the leaf
            branch = await states.branch_point(owner, thread_id, checkpoint, always=not inputs)
    elif checkpoint is not None:
        raise NotFound(f"checkpoint '{checkpoint}' was not found", code="checkpoint_not_found")
    configurable = body.config.configurable
    # Answering again needs a message to answer: not so before the thread's first message.
    again = branch is not None and branch.parent_id is not None
    request = turn_request(
        inputs, configurable, owner, views.settings, views.chat.tools, answer_again=again
    )
    strategy = body.multitask_strategy
    request = replace(
        request,
        thread_id=thread_id,
        branch_from=branch,
        continue_at=continue_at,
        create_thread=thread_id is None or body.if_not_exists == "create",
        # graphchat keeps what a stopped run said, so `rollback` stops it as `interrupt` does.
        multitask="interrupt" if strategy == "rollback" else strategy,
    )
    return keyed(request, route, body, key)


async def _started(
    views: _Views, request: TurnRequest, start: Callable[[TurnRequest], Awaitable[T]]
) -> T:
    """`start(request)`. A run from a checkpoint this process kept as the thread's leaf, which
    no longer is (another replica's turn came after it), is refused by begin with nothing
    stored; it starts again from the checkpoint as read: a fork there, as LangGraph does."""
    try:
        return await start(request)
    except LeafMoved:
        assert request.thread_id is not None
        assert request.continue_at is not None
        checkpoint = checkpoint_id(request.continue_at)
        branch = await views.states.branch_point(request.owner, request.thread_id, checkpoint)
        return await start(replace(request, continue_at=None, branch_from=branch))


@dataclass(frozen=True, slots=True)
class _Call:
    """What every run-starting route takes: the body, the caller, the services, the key."""

    body: RunCreate
    owner: str
    views: _Views
    key: str | None


async def _call(body: RunCreate, caller: CallerDep, key: IdempotencyKey = None) -> _Call:
    return _Call(body, caller.owner, _Views.of(caller), key)


Call = Annotated[_Call, Depends(_call)]


async def _paused(call: _Call, thread_id: str | None) -> tuple[Run, tuple[Decision, ...]]:
    """The paused run a `command` resumes, and the decisions it gives for its calls."""
    body, views = call.body, call.views
    resolve_assistant(body.assistant_id)
    command = checked_command(body)
    if thread_id is None:
        raise RunNotPaused("a run without a thread has no paused run to resume")
    thread = await views.threads.get(call.owner, thread_id)
    if await views.states.branch_point(call.owner, thread_id, body.checkpoint_named()):
        raise Conflict(
            "a paused run resumes from the thread's latest checkpoint", code="checkpoint_not_latest"
        )
    run = await views.states.paused(thread)
    if run is None:
        raise RunNotPaused(f"thread '{thread_id}' has no run waiting for approval to resume")
    return run, resume_decisions(command, run_interrupts(run)[0]["id"])


async def _values(views: _Views, result: RunResult) -> dict[str, Any]:
    """The thread's state values after the run; a paused run's interrupt under `__interrupt__`."""
    after = await views.states.after_run(result)
    values: dict[str, Any] = {"messages": langchain_messages(after)}
    found = run_interrupts(result.run)
    if found:
        values[INTERRUPT_KEY] = found
    return values


async def _forget(views: _Views, run: Run) -> None:
    """Delete a stateless run's throwaway thread."""
    await views.threads.delete(await views.threads.get(run.owner, run.thread_id))


async def _open(
    call: _Call, thread_id: str | None, values: bool
) -> tuple[RunStream, list[Message]]:
    """The run to stream (a new turn, or the resumed pause) and, for `values`, the thread as
    it found it."""
    views = call.views
    if call.body.command is not None:
        paused, decisions = await _paused(call, thread_id)
        # Read before the run goes on.
        history = await views.states.recent(paused.thread_id) if values else []
        return await views.chat.open_resume_stream(paused, decisions), history
    request = await _request(call.body, thread_id, call.owner, views, "/runs/stream", call.key)
    if values:  # the thread as the run found it, with the turn's begin
        request = replace(request, window_messages=views.states.values_max)
    opened = await _started(views, request, views.chat.open_stream)
    return opened, await views.states.before_run(opened.run, opened.window) if values else []


async def _stream(call: _Call, thread_id: str | None) -> EventSourceResponse:
    body, views = call.body, call.views
    modes = stream_modes(body.stream_mode, legacy_messages=True)
    opened, history = await _open(call, thread_id, "values" in modes)
    run = opened.run

    async def cancel() -> None:
        await views.runs.cancel(run, wait=False)

    async def forget() -> None:
        await _forget(views, run)

    return event_stream_response(
        run,
        LangGraphRenderer(modes, views.settings.limits.sse_retry_ms, history),
        opened.events,
        views.settings,
        on_abandon=cancel if body.on_disconnect == "cancel" else None,
        on_close=forget if thread_id is None and body.on_completion == "delete" else None,
    )


async def _complete(call: _Call, thread_id: str | None) -> RunResult:
    if call.body.command is not None:
        return await call.views.chat.complete_resume(*await _paused(call, thread_id))
    views = call.views
    request = await _request(call.body, thread_id, call.owner, views, "/runs/wait", call.key)
    # The thread as the run found it, read with the turn's begin: the values it returns.
    request = replace(request, window_messages=views.states.values_max)
    return await _started(views, request, views.chat.complete)


async def _wait(call: _Call, thread_id: str | None, response: Response) -> dict[str, Any]:
    body, views = call.body, call.views
    result = await _complete(call, thread_id)
    _location(response, result.run, "/join")
    values = await _values(views, result)
    if thread_id is None and body.on_completion == "delete":
        await _forget(views, result.run)
    return values


@router.post("/threads/{thread_id}/runs", responses=_ERRORS, openapi_extra=_STATE)
async def create_run(thread_id: ThreadIdPath, call: Call, response: Response) -> RunOut:
    """Start a run in the background (or resume a pause with `command`); follow it with
    `join` or its `stream`."""
    if call.body.command is not None:
        run = (await call.views.chat.resume(*await _paused(call, thread_id))).run
    else:
        request = await _request(call.body, thread_id, call.owner, call.views, "/runs", call.key)
        run = await _started(call.views, request, call.views.chat.launch)
    _location(response, run)
    return run_out(run)


@router.post(
    "/threads/{thread_id}/runs/stream",
    response_class=EventSourceResponse,
    responses=_STREAM,
    openapi_extra=_STATE,
)
async def stream_run(thread_id: ThreadIdPath, call: Call) -> EventSourceResponse:
    """Start a run and stream its events in the requested `stream_mode`s."""
    return await _stream(call, thread_id)


@router.post("/threads/{thread_id}/runs/wait", responses=_ERRORS, openapi_extra=_STATE)
async def wait_run(thread_id: ThreadIdPath, call: Call, response: Response) -> dict[str, Any]:
    """Run to the end; the thread's state values (`{messages: [...]}`, bounded)."""
    return await _wait(call, thread_id, response)


@router.get("/threads/{thread_id}/runs/{run_id}/join", responses=_ERRORS, openapi_extra=_STATE)
async def join_run(
    thread: ThreadDep, run_id: str, views: Views, response: Response
) -> dict[str, Any]:
    """Wait for a run to end; the thread's state values then (the run's error if it failed)."""
    result = await views.runs.result(await views.runs.get(thread, run_id))
    _location(response, result.run)
    return await _values(views, result)


@router.post(
    "/runs/stream", response_class=EventSourceResponse, responses=_STREAM, openapi_extra=_STATE
)
async def stream_stateless(call: Call) -> EventSourceResponse:
    """A run on a new thread, deleted at the end unless `on_completion` is `keep`."""
    return await _stream(call, None)


@router.post("/runs/wait", responses=_ERRORS, openapi_extra=_STATE)
async def wait_stateless(call: Call, response: Response) -> dict[str, Any]:
    """A run on a new thread, waited for; the thread is deleted unless `on_completion: keep`."""
    return await _wait(call, None, response)
