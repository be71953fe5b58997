"""Runs of a thread: list, read, cancel, and rejoin a run's event stream."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from sse_starlette import EventSourceResponse

from graphchat.api.chat import ERROR_RESPONSES, AnswerDep
from graphchat.api.deps import RunsDep, SettingsDep, ThreadDep, ThreadStateDep
from graphchat.api.langgraph.shapes import ASSISTANT_ID, run_status
from graphchat.api.langgraph.stream import LangGraphRenderer, stream_modes
from graphchat.api.media import require_json
from graphchat.api.schemas import ChatOut, RejectIn, ResumeIn, RunOut
from graphchat.api.sse import (
    StreamPosition,
    event_stream_response,
    parse_stream_modes,
    run_stream_response,
)
from graphchat.api.threads import PagingDep
from graphchat.errors import ValidationFailed
from graphchat.service.approvals import pending_of
from graphchat.service.records import Decision, Run, RunStatus

router = APIRouter(prefix="/threads/{thread_id}/runs", tags=["runs"])
_NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "No such thread or run"}}
_LAST_EVENT_ID_MAX = 2**31 - 1
_REJOIN_MODES = ("messages-tuple", "updates")  # as `POST /stream`; the run's own are not kept


def run_out(run: Run) -> RunOut:
    """A run in both vocabularies: LangGraph's `status`, graphchat's `graphchat_status`."""
    return RunOut.from_record(
        run, status=run_status(run.status), assistant_id=ASSISTANT_ID, pending=pending_of(run)
    )


@router.get("", responses=_NOT_FOUND)
async def list_runs(
    thread: ThreadDep,
    runs: RunsDep,
    paging: PagingDep,
    status: RunStatus | None = None,
) -> list[RunOut]:
    """The thread's runs, newest first (`status` in graphchat's vocabulary)."""
    page = await runs.page(thread, limit=paging.size, offset=paging.offset, status=status)
    return [run_out(run) for run in page.items]


@router.get("/{run_id}", responses=_NOT_FOUND)
async def get_run(thread: ThreadDep, run_id: str, runs: RunsDep) -> RunOut:
    """Status, model, timings, usage and error of one run."""
    return run_out(await runs.get(thread, run_id))


@router.post("/{run_id}/cancel", responses={**_NOT_FOUND, 202: {"model": RunOut}})
async def cancel_run(
    thread: ThreadDep,
    run_id: str,
    runs: RunsDep,
    response: Response,
    wait: bool = False,
    action: Annotated[str, Query(pattern="^(interrupt|rollback)$")] = "interrupt",
) -> RunOut:
    """Stop generation; the partial answer is stored as `cancelled` and open streams end.

    202 while the run winds down (`wait=false`), 200 with the final run (`wait=true`).
    `action` is accepted for LangGraph SDK compatibility; both keep the partial answer.
    """
    run = await runs.cancel(await runs.get(thread, run_id), wait=wait)
    response.status_code = 200 if wait or run.status.is_final else 202
    return run_out(run)


def _decisions(body: ResumeIn) -> tuple[Decision, ...]:
    return tuple(
        Decision("reject", message=d.message)
        if isinstance(d, RejectIn)
        else Decision(d.type, args=getattr(d, "args", {}))
        for d in body.decisions
    )


@router.post(
    "/{run_id}/resume",
    dependencies=[Depends(require_json)],
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"application/json": {}, "text/event-stream": {}}},
    },
    response_model=ChatOut,
)
async def resume_run(
    thread: ThreadDep,
    run_id: str,
    body: ResumeIn,
    runs: RunsDep,
    answer: AnswerDep,
) -> ChatOut | EventSourceResponse:
    """Continue a `requires_action` run with one decision per pending call, in order.

    Answers like `/chat`, or with `stream=true` streams like `/stream`. 409 when the run is
    not paused; 422 when the decisions do not match its pending calls.
    """
    return await answer.resume(await runs.get(thread, run_id), _decisions(body))


@router.get(
    "/{run_id}/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **_NOT_FOUND},
)
async def join_stream(
    thread: ThreadDep,
    run_id: str,
    runs: RunsDep,
    states: ThreadStateDep,
    settings: SettingsDep,
    stream_mode: Annotated[list[Annotated[str, Query(max_length=64)]] | None, Query()] = None,
    vocabulary: Literal["langgraph", "graphchat"] = "langgraph",
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", max_length=24, pattern=r"^(-1|[0-9]*|[0-9]+\.[0-9]+)$"),
    ] = None,
) -> EventSourceResponse:
    """Rejoin a run: replay the frames after `Last-Event-ID` (`-1`: all), then follow it live.

    Events are LangGraph's (`messages` here means token chunks, `messages-tuple`), or with
    `vocabulary=graphchat` as `POST /stream` sends them: its `Location` asks for that.
    """
    run = await runs.get(thread, run_id)
    resumed = _stream_position(last_event_id)
    requested = [mode for mode in stream_mode or () if mode]  # the Python SDK sends `stream_mode=`
    # From the run's first event: the frames after `resumed` build on those before it. An id
    # beyond any a run can have replays nothing; the run's end still comes.
    events = runs.follow(run, resumed.after if resumed.after >= _LAST_EVENT_ID_MAX else -1)
    if vocabulary == "graphchat":
        chosen = parse_stream_modes(requested or _REJOIN_MODES)
        inputs = await runs.input_messages(run) if "values" in chosen else []
        return run_stream_response(run, inputs, events, chosen, settings, resumed=resumed)
    modes = stream_modes(requested or _REJOIN_MODES, legacy_messages=False)
    renderer = LangGraphRenderer(modes, settings.limits.sse_retry_ms, await states.before_run(run))
    return event_stream_response(run, renderer, events, settings, resumed=resumed)


def _stream_position(value: str | None) -> StreamPosition:
    if value is None or value == "" or value == "-1":
        return StreamPosition()
    try:
        position = StreamPosition.parse(value)
    except ValueError:
        raise ValidationFailed(
            "Last-Event-ID must be an event id this server sent",
            details=[
                {
                    "loc": ["header", "Last-Event-ID"],
                    "msg": "not an event id",
                    "type": "value_error",
                }
            ],
        ) from None
    # Beyond the largest id a run can have (a 32-bit sequence): nothing to replay, follow live.
    if position.after >= _LAST_EVENT_ID_MAX:
        return StreamPosition(_LAST_EVENT_ID_MAX)
    return position
