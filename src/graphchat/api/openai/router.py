"""`/v1/chat/completions` and `/v1/models`: graphchat's agent as an OpenAI model.

The conversation comes from the caller. A thread id header (ours, Open WebUI's chat id or a
conversation id) binds it to a stored thread; the response names the thread and run it used.
"""

from __future__ import annotations

import re
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sse_starlette import EventSourceResponse

from graphchat.api.deps import ChatDep, OwnerDep, RunsDep, SettingsDep, SystemDep
from graphchat.api.media import require_json
from graphchat.api.openai.completions import ChunkRenderer, chunk_stream, completion
from graphchat.api.openai.messages import turn_request
from graphchat.api.openai.schemas import (
    ChatCompletionIn,
    ChatCompletionOut,
    ModelCard,
    ModelCardList,
)
from graphchat.api.openapi import state_dependent
from graphchat.api.schemas import ID_PATTERN
from graphchat.errors import NotFound
from graphchat.service.records import Run

router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(require_json)])

# After ours, the headers other clients name a conversation with, in order of precedence; never
# the body's `user`, which LibreChat and Open WebUI send once per user, not per chat.
_ID = re.compile(ID_PATTERN)
_CLIENT_BINDING_HEADERS = ("x-openwebui-chat-id", "x-conversation-id")
ThreadHeader = Annotated[
    str | None,
    Header(
        alias="X-Graphchat-Thread-Id",
        pattern=ID_PATTERN,
        description="Store the turn in this thread (only the messages it lacks).",
    ),
]


def _bound_thread(request: Request, ours: str | None) -> str | None:
    """The thread to bind: ours (validated, 422), else the first usable id another client sent.

    Another client's unusable value (e.g. a header template it left unfilled) binds nothing.
    """
    if ours is not None:
        return ours
    for name in _CLIENT_BINDING_HEADERS:
        value = request.headers.get(name, "").strip()
        if value and len(value) <= 128 and _ID.match(value):
            return value
    return None


def _run_headers(run: Run) -> dict[str, str]:
    return {"X-Graphchat-Thread-Id": run.thread_id, "X-Graphchat-Run-Id": run.id}


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {"model": ChatCompletionOut, "content": {"text/event-stream": {}}},
        400: {"description": "Invalid request (`n` > 1, a tool result without its call, …)"},
        404: {"description": "The bound thread belongs to another owner"},
        409: {"description": "The bound thread is answering another turn"},
        422: {"description": "Invalid field"},
    },
    # Rules across fields and messages that a JSON schema does not express, and the states an
    # unknown model or a busy bound thread depend on.
    openapi_extra=state_dependent(
        "unmatched_tool_call",
        "unsupported_content",
        "invalid_request",
        "unsupported_value",
        "model_not_found",
        "thread_busy",
        "idempotency_key_reused",
        "invalid_text",
    ),
)
async def chat_completions(
    body: ChatCompletionIn,
    request: Request,
    response: Response,
    owner: OwnerDep,
    chat: ChatDep,
    runs: RunsDep,
    settings: SettingsDep,
    thread_id: ThreadHeader = None,
) -> ChatCompletionOut | EventSourceResponse:
    """Run the agent on the caller's conversation (streamed with `"stream": true`)."""
    turn = turn_request(body, owner, settings)
    turn = await chat.place(turn, _bound_thread(request, thread_id))
    if not body.stream:
        result = await chat.complete(turn)
        response.headers.update(_run_headers(result.run))
        return completion(result)
    opened = await chat.open_stream(turn)
    run = opened.run
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    renderer = ChunkRenderer(
        run, include_usage=include_usage, client_tools=turn.client_tools is not None
    )

    async def cancel_run() -> None:  # a client that stops reading wants the answer stopped
        await runs.cancel(run, wait=False)

    return chunk_stream(
        opened.events, renderer, settings, on_abandon=cancel_run, headers=_run_headers(run)
    )


@router.get("/models")
async def list_models(system: SystemDep) -> ModelCardList:
    """graphchat's models, as OpenAI lists models."""
    created = int(time.time())
    return ModelCardList(
        data=[ModelCard(id=name, created=created) for name in await system.model_names()]
    )


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, system: SystemDep) -> ModelCard:
    name = await system.find_model(model_id)
    if name is not None:
        return ModelCard(id=name, created=int(time.time()))
    raise NotFound(f"model '{model_id}' is not served here", code="model_not_found")
