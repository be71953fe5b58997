"""The chat turn over HTTP: `POST /chat`, `POST /invoke` and the streaming `POST /stream`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel
from sse_starlette import EventSourceResponse

from graphchat.agent.tools import ToolRegistry
from graphchat.api.deps import ChatDep, OwnerDep, RunsDep, SettingsDep
from graphchat.api.media import require_json
from graphchat.api.schemas import (
    ChatIn,
    ChatOut,
    InvokeIn,
    InvokeOut,
    InvokeOutput,
    MessageOut,
    SamplingIn,
    StreamIn,
    UsageOut,
)
from graphchat.api.sse import parse_stream_modes, run_stream_response
from graphchat.errors import ValidationFailed
from graphchat.llm.base import SamplingParams
from graphchat.service.approvals import pending_of
from graphchat.service.chat import TurnRequest
from graphchat.service.payloads import message_payload, usage_payload
from graphchat.service.runs import RunResult
from graphchat.service.tool_use import check_tool_names
from graphchat.settings import Settings
from graphchat.store.records import NewMessage

router = APIRouter(tags=["chat"], dependencies=[Depends(require_json)])

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


def _too_long(field: str, limit: int) -> ValidationFailed:
    return ValidationFailed(
        f"{field} is longer than {limit} characters",
        details=[
            {
                "loc": ["body", *field.split(".")],
                "msg": f"at most {limit} characters",
                "type": "string_too_long",
            }
        ],
    )


def _sampling(body: SamplingIn, settings: Settings) -> SamplingParams:
    if body.max_tokens is not None and body.max_tokens > settings.max_tokens_limit:
        raise ValidationFailed(
            f"max_tokens may be at most {settings.max_tokens_limit}",
            details=[
                {"loc": ["body", "max_tokens"], "msg": "too large", "type": "less_than_equal"}
            ],
        )
    return SamplingParams(
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_tokens,
        seed=body.seed,
        stop=tuple(body.stop or ()),
        num_ctx=body.num_ctx,
    )


def _user_message(text: str, field: str, settings: Settings) -> NewMessage:
    if len(text) > settings.max_message_chars:
        raise _too_long(field, settings.max_message_chars)
    return NewMessage(role="user", content=text)


def _messages_out(messages: list[Any]) -> list[MessageOut]:
    return [MessageOut.model_validate(message_payload(message)) for message in messages]


_CONFIGURABLE_TOOLS_LOC = ("body", "config", "configurable", "tools")


def _run_request(
    body: InvokeIn, owner: str, settings: Settings, tools: ToolRegistry
) -> TurnRequest:
    """A turn from a LangGraph-style body; a `system` message overrides the system prompt."""
    configurable = body.config.configurable
    system = configurable.system
    messages: list[NewMessage] = []
    for index, message in enumerate(body.input.messages):
        role, text = message.normalized_role(), message.text()
        if role == "system":
            system = text
        elif role == "assistant":
            messages.append(NewMessage(role="assistant", content=text))
        else:
            messages.append(_user_message(text, f"input.messages.{index}.content", settings))
    if not any(message.role == "user" for message in messages):
        raise ValidationFailed(
            "input.messages needs at least one user message",
            details=[
                {"loc": ["body", "input", "messages"], "msg": "no user message", "type": "missing"}
            ],
        )
    return TurnRequest(
        owner=owner,
        messages=tuple(messages),
        thread_id=body.input.thread_id or configurable.thread_id,
        tools=check_tool_names(tools, configurable.tools, _CONFIGURABLE_TOOLS_LOC),
        require_approval=tuple(configurable.require_approval),
        model=configurable.model,
        params=_sampling(configurable, settings),
        system=system,
        multitask=body.multitask_strategy,
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


def _keyed(request: TurnRequest, route: str, body: BaseModel, key: str | None) -> TurnRequest:
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
        usage=UsageOut(**usage_payload(run.prompt_tokens, run.completion_tokens)),
        finish_reason=replies[-1].finish_reason if replies else None,
        status=run.status.value,
        pending=pending_of(run),
    )


@router.post("/chat", responses=ERROR_RESPONSES)
async def chat(
    body: ChatIn, owner: OwnerDep, chat: ChatDep, settings: SettingsDep, key: IdempotencyKey = None
) -> ChatOut:
    """Send one message and wait for the whole reply."""
    request = TurnRequest(
        owner=owner,
        messages=(_user_message(body.message, "message", settings),),
        thread_id=body.thread_id,
        tools=check_tool_names(chat.tools, body.tools, ("body", "tools")),
        require_approval=tuple(body.require_approval),
        model=body.model,
        params=_sampling(body, settings),
        system=body.system,
        multitask=body.multitask_strategy,
    )
    return chat_out(await chat.complete(_keyed(request, "/chat", body, key)))


@router.post("/invoke", responses=ERROR_RESPONSES)
async def invoke(
    body: InvokeIn,
    owner: OwnerDep,
    chat: ChatDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> InvokeOut:
    """Run the agent on the given messages and return the messages the run added."""
    request = _keyed(_run_request(body, owner, settings, chat.tools), "/invoke", body, key)
    result = await chat.complete(request)
    return InvokeOut(
        output=InvokeOutput(messages=_messages_out(result.output_messages)),
        thread_id=result.run.thread_id,
        run_id=result.run.id,
    )


@router.post(
    "/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **ERROR_RESPONSES},
)
async def stream(
    body: StreamIn,
    owner: OwnerDep,
    chat: ChatDep,
    runs: RunsDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> EventSourceResponse:
    """Run the agent and stream its events (`metadata`, `messages`, `updates`, `values`, `end`).

    Failures before the run starts are plain JSON errors; after it, an `error` event ends the
    stream. The run goes on if the client disconnects (unless `on_disconnect` is `cancel`);
    `Location` names the URL that rejoins it.
    """
    request = _keyed(_run_request(body, owner, settings, chat.tools), "/stream", body, key)
    opened = await chat.open_stream(request)
    run = opened.run

    async def cancel_run() -> None:
        await runs.cancel(run, wait=False)

    return run_stream_response(
        run,
        opened.input_messages,
        opened.events,
        parse_stream_modes(body.stream_mode),
        settings,
        on_abandon=cancel_run if body.on_disconnect == "cancel" else None,
    )
