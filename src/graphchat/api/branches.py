"""Branches over HTTP: regenerate a reply, edit a user message, switch the current branch.

Regenerate and edit answer like `/chat`, or with `stream=true` stream like `/stream`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path
from sse_starlette import EventSourceResponse

from graphchat.api.chat import ERROR_RESPONSES, AnswerDep
from graphchat.api.deps import BranchesDep, OwnerDep, ThreadDep
from graphchat.api.media import require_json
from graphchat.api.openapi import state_dependent
from graphchat.api.sampling import check_length, sampling_params
from graphchat.api.schemas import ChatOut, LeafIn, LeafOut, MessageEditIn, RegenerateIn
from graphchat.service.chat import TurnRequest

router = APIRouter(prefix="/threads", tags=["branches"], dependencies=[Depends(require_json)])


_Route = TypeVar("_Route", bound=Callable[..., Any])
MessageIdPath = Annotated[str, Path(min_length=1, max_length=36)]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    200: {"content": {"application/json": {}, "text/event-stream": {}}},
    400: {"description": "The message cannot be edited or regenerated, or a bad parameter"},
    404: {"description": "No such thread or message"},
}

# What a message is (a reply, a user message) and the backends' models decide these.
_STATE_DEPENDENT = state_dependent(
    "model_not_found", "thread_busy", "invalid_text", "not_editable", "not_regenerable"
)


class _Turn:
    """What both branch turns need: the caller, the branches, and how to answer."""

    def __init__(self, owner: OwnerDep, branches: BranchesDep, answer: AnswerDep) -> None:
        self.owner, self.branches, self.answer = owner, branches, answer
        self.settings = answer.settings

    def base(self, body: RegenerateIn) -> TurnRequest:
        return TurnRequest(
            owner=self.owner,
            messages=(),
            model=body.model,
            params=sampling_params(body, self.settings),
            system=body.system,
        )


async def _turn(owner: OwnerDep, branches: BranchesDep, answer: AnswerDep) -> _Turn:
    return _Turn(owner, branches, answer)  # on the event loop: see `api.chat._answer`


TurnDep = Annotated[_Turn, Depends(_turn)]


def _turn_route(action: str) -> Callable[[_Route], _Route]:
    """`POST /threads/{thread_id}/messages/{message_id}/<action>`, answered like `/chat`."""
    return router.post(
        f"/{{thread_id}}/messages/{{message_id}}/{action}",
        responses=_RESPONSES,
        response_model=ChatOut,
        openapi_extra=_STATE_DEPENDENT,
    )


@_turn_route("regenerate")
async def regenerate(
    thread: ThreadDep, message_id: MessageIdPath, body: RegenerateIn, turn: TurnDep
) -> ChatOut | EventSourceResponse:
    """Answer again: a new reply beside `message_id`'s turn, on a new current branch.

    `message_id` is a reply (or the user message it answers). The old reply stays, as a
    sibling of the new one. 409 `thread_busy` while a run answers on the thread.
    """
    request = await turn.branches.regenerate(turn.base(body), thread.id, message_id)
    return await turn.answer.turn(request)


@_turn_route("edit")
async def edit(
    thread: ThreadDep, message_id: MessageIdPath, body: MessageEditIn, turn: TurnDep
) -> ChatOut | EventSourceResponse:
    """Send new text for user message `message_id`: a new user message beside it, answered.

    The original message and everything after it stay on their own branch.
    """
    content = check_length(body.content, "content", turn.settings)
    request = await turn.branches.edit(turn.base(body), thread.id, message_id, content)
    return await turn.answer.turn(request)


@router.put(
    "/{thread_id}/leaf",
    responses={
        404: {"description": "No such thread or message"},
        409: {"description": "A run is answering or waits for approval (`thread_busy`)"},
    },
)
async def switch_leaf(
    thread: ThreadDep, body: LeafIn, owner: OwnerDep, branches: BranchesDep
) -> LeafOut:
    """Make the branch through `message_id` the current one (what lists and turns follow)."""
    leaf = await branches.switch(owner, thread.id, body.message_id, body.descend)
    return LeafOut(thread_id=thread.id, leaf_message_id=leaf)
