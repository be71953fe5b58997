"""The chat turn over HTTP: `POST /chat`, `POST /invoke` and the streaming `POST /stream`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel
from sse_starlette import EventSourceResponse

from graphchat.api.deps import ChatDep, JsonCallerDep, SettingsDep
from graphchat.api.openapi import state_dependent
from graphchat.api.sampling import check_length, sampling_params
from graphchat.api.schemas import (
    ChatIn,
    ChatOut,
    Configurable,
    InputMessage,
    InvokeIn,
    InvokeOut,
    InvokeOutput,
    MessageOut,
    StreamIn,
    UsageOut,
)
from graphchat.api.sse import parse_stream_modes, run_stream_response
from graphchat.api.turn_route import TurnRoute
from graphchat.errors import ValidationFailed
from graphchat.service.approvals import pending_of
from graphchat.service.chat import TurnRequest
from graphchat.service.records import Decision, Message, NewMessage, Run
from graphchat.service.runs import RunResult
from graphchat.service.tool_use import ToolRegistry, check_tool_names
from graphchat.service.turn_request import RunStream
from graphchat.settings import Settings

# Each route takes `JsonCallerDep` (the 415 for a body that is not JSON, and the caller) rather
# than a router-wide `require_json` besides a caller: one dependency fewer to solve per turn, and
# the shape a `TurnRoute` answers without FastAPI's solving.
router = APIRouter(tags=["chat"], route_class=TurnRoute)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description}
    for status, description in {
        400: "Unknown model or invalid parameter combination",
        404: "Thread belongs to another owner",
        409: "A run is already active on the thread (`thread_busy`), or is not paused",
        413: "Body too large",
        422: "Invalid field",
        502: "The model backend failed",
        503: "The model backend or the database is unavailable",
        504: "The model backend timed out",
    }.items()
}
# An unknown model depends on the backends; a reused key on the requests made before.
# `invalid_text`: a NUL character, which PostgreSQL cannot store (SQLite can).
_STATE_DEPENDENT = state_dependent(
    "model_not_found", "idempotency_key_reused", "thread_busy", "invalid_text"
)


def _user_message(text: str, field: str, settings: Settings) -> NewMessage:
    return NewMessage(role="user", content=check_length(text, field, settings))


def _messages_out(messages: list[Message]) -> list[MessageOut]:
    return [MessageOut.model_validate(message) for message in messages]


_CONFIGURABLE_TOOLS_LOC = ("body", "config", "configurable", "tools")


def _run_request(
    body: InvokeIn, owner: str, settings: Settings, tools: ToolRegistry
) -> TurnRequest:
    request = turn_request(body.input.messages, body.config.configurable, owner, settings, tools)
    return replace(
        request,
        thread_id=body.input.thread_id or request.thread_id,
        multitask=body.multitask_strategy,
    )


def turn_request(
    inputs: list[InputMessage],
    configurable: Configurable,
    owner: str,
    settings: Settings,
    tools: ToolRegistry,
    *,
    answer_again: bool = False,
) -> TurnRequest:
    """A turn from LangGraph-style messages; a `system` message overrides the system prompt.

    With `answer_again` (a run forked from a checkpoint), no new user message is needed."""
    system = configurable.system
    messages: list[NewMessage] = []
    for index, message in enumerate(inputs):
        role, text = message.normalized_role(), message.text()
        if role == "system":
            system = text
        elif role == "assistant":
            messages.append(NewMessage(role="assistant", content=text))
        else:
            messages.append(_user_message(text, f"input.messages.{index}.content", settings))
    if not answer_again and not any(message.role == "user" for message in messages):
        raise ValidationFailed(
            "input.messages needs at least one user message",
            details=[
                {"loc": ["body", "input", "messages"], "msg": "no user message", "type": "missing"}
            ],
        )
    return TurnRequest(
        owner=owner,
        messages=tuple(messages),
        thread_id=configurable.thread_id,
        tools=check_tool_names(tools, configurable.tools, _CONFIGURABLE_TOOLS_LOC),
        require_approval=tuple(configurable.require_approval),
        model=configurable.model,
        params=sampling_params(configurable, settings),
        system=system,
    )


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Retries with the same key return or rejoin the original run.",
    ),
]


def _request_hash(route: str, body: BaseModel) -> str:
    # stdlib json: orjson refuses integers beyond 64 bits, which a client may send (was a 500).
    payload = body.model_dump(mode="json")
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(route.encode() + b"\0" + canonical.encode()).hexdigest()


def keyed(request: TurnRequest, route: str, body: BaseModel, key: str | None) -> TurnRequest:
    """The request with its Idempotency-Key and a hash that tells a retry from a new request."""
    if key is None:
        return request
    return replace(request, idempotency_key=key, request_hash=_request_hash(route, body))


def chat_out(result: RunResult) -> ChatOut:
    """A finished (or paused) run as `/chat` answers it."""
    run = result.run
    replies = [m for m in result.output_messages if m.role == "assistant"]
    return ChatOut(
        thread_id=run.thread_id,
        run_id=run.id,
        response=replies[-1].content if replies else "",
        model=run.model,
        messages=_messages_out([*result.input_messages, *result.output_messages]),
        usage=UsageOut.model_validate(run.usage),
        finish_reason=replies[-1].finish_reason if replies else None,
        status=run.status.value,
        pending=pending_of(run),
    )


StreamModes = Annotated[list[str] | None, Query()]


async def _stream_modes(
    stream: bool = False, stream_mode: StreamModes = None
) -> frozenset[str] | None:
    """What to stream with `stream=true`; None to answer like `/chat`."""
    return parse_stream_modes(stream_mode or ["messages", "updates"]) if stream else None


_StreamModesDep = Annotated[frozenset[str] | None, Depends(_stream_modes)]


class Answer:
    """How a route that runs a turn answers: like `/chat`, or with `stream=true` like `/stream`."""

    def __init__(self, chat: ChatDep, settings: SettingsDep, modes: _StreamModesDep) -> None:
        self.chat, self.settings, self.modes = chat, settings, modes

    async def turn(self, request: TurnRequest) -> ChatOut | EventSourceResponse:
        if self.modes is None:
            return chat_out(await self.chat.complete(request))
        return self._streamed(await self.chat.open_stream(request), self.modes)

    async def resume(
        self, run: Run, decisions: tuple[Decision, ...]
    ) -> ChatOut | EventSourceResponse:
        if self.modes is None:
            return chat_out(await self.chat.complete_resume(run, decisions))
        return self._streamed(await self.chat.open_resume_stream(run, decisions), self.modes)

    def _streamed(self, opened: RunStream, modes: frozenset[str]) -> EventSourceResponse:
        return run_stream_response(
            opened.run, opened.input_messages, opened.events, modes, self.settings
        )


async def _answer(chat: ChatDep, settings: SettingsDep, modes: _StreamModesDep) -> Answer:
    # A class given to Depends() is called in a worker thread (FastAPI runs sync callables
    # there): a thread hop per regenerate, edit or resume. Built here on the event loop instead.
    return Answer(chat, settings, modes)


AnswerDep = Annotated[Answer, Depends(_answer)]


@router.post("/chat", responses=ERROR_RESPONSES, openapi_extra=_STATE_DEPENDENT)
async def chat(body: ChatIn, caller: JsonCallerDep, key: IdempotencyKey = None) -> ChatOut:
    """Send one message and wait for the whole reply."""
    chat, settings = caller.services.chat, caller.services.settings
    request = TurnRequest(
        owner=caller.owner,
        messages=(_user_message(body.message, "message", settings),),
        thread_id=body.thread_id,
        tools=check_tool_names(chat.tools, body.tools, ("body", "tools")),
        require_approval=tuple(body.require_approval),
        model=body.model,
        params=sampling_params(body, settings),
        system=body.system,
        multitask=body.multitask_strategy,
        response_format=body.response_format.wanted() if body.response_format else None,
    )
    return chat_out(await chat.complete(keyed(request, "/chat", body, key)))


@router.post("/invoke", responses=ERROR_RESPONSES, openapi_extra=_STATE_DEPENDENT)
async def invoke(body: InvokeIn, caller: JsonCallerDep, key: IdempotencyKey = None) -> InvokeOut:
    """Run the agent on the given messages and return the messages the run added."""
    chat = caller.services.chat
    request = _run_request(body, caller.owner, caller.services.settings, chat.tools)
    result = await chat.complete(keyed(request, "/invoke", body, key))
    return InvokeOut(
        output=InvokeOutput(messages=_messages_out(result.output_messages)),
        thread_id=result.run.thread_id,
        run_id=result.run.id,
    )


@router.post(
    "/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **ERROR_RESPONSES},
    openapi_extra=_STATE_DEPENDENT,
)
async def stream(
    body: StreamIn, caller: JsonCallerDep, key: IdempotencyKey = None
) -> EventSourceResponse:
    """Run the agent and stream its events (`metadata`, `messages`, `updates`, `values`, `end`).

    Failures before the run starts are plain JSON errors; after it, an `error` event ends the
    stream. The run goes on if the client disconnects (unless `on_disconnect` is `cancel`);
    `Location` names the URL that rejoins it.
    """
    services = caller.services
    request = _run_request(body, caller.owner, services.settings, services.chat.tools)
    opened = await services.chat.open_stream(keyed(request, "/stream", body, key))
    run = opened.run

    async def cancel_run() -> None:
        await services.runs.cancel(run, wait=False)

    return run_stream_response(
        run,
        opened.input_messages,
        opened.events,
        parse_stream_modes(body.stream_mode),
        services.settings,
        on_abandon=cancel_run if body.on_disconnect == "cancel" else None,
    )
