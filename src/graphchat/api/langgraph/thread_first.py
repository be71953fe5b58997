"""Run routes on a path's thread: a missing thread, or another owner's, is a 404 whatever the
body, as a LangGraph server answers.

The thread is not read before a run starts: the turn's begin refuses it (`thread_not_found`)
unless the body asks to create it, and reading it first cost every run a transaction. Only a
request refused on the way there (an invalid body, an unknown assistant or checkpoint…) reads
the thread, so that the 404 still comes first.
"""

from __future__ import annotations

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError

from graphchat.api.deps import get_caller
from graphchat.api.langgraph.body import Handler, JsonBodyRoute
from graphchat.errors import InvalidRequest, NotFound

_THREAD_NOT_FOUND = "thread_not_found"


class ThreadRunRoute(JsonBodyRoute):
    """A `JsonBodyRoute` whose refusals become the path thread's 404 when it is not found."""

    async def serve(self, handler: Handler, request: Request) -> Response:
        try:
            return await handler(request)
        # What refuses a request before its turn begins; not a database or model failure,
        # which a read would only wait on a second time.
        except (RequestValidationError, InvalidRequest, NotFound) as refused:
            if getattr(refused, "code", None) != _THREAD_NOT_FOUND:
                await _check_thread(request)
            raise


async def _check_thread(request: Request) -> None:
    """Raise the path thread's `NotFound` unless the caller has it or the body creates it."""
    thread_id = request.path_params.get("thread_id")
    if thread_id is None:
        return
    caller = await get_caller(request)
    try:
        await caller.services.threads.get(caller.owner, thread_id)
    except NotFound:
        try:
            # Read already: Starlette keeps the body on the request FastAPI was given.
            creates = orjson.loads(await request.body()).get("if_not_exists") == "create"
        except (orjson.JSONDecodeError, AttributeError):
            creates = False
        if not creates:
            raise
