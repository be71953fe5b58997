"""Request bodies of the LangGraph routes: JSON whatever the declared content type.

agent-chat-ui's proxy forwards JSON as `text/plain`; these routes parse it all the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

B = TypeVar("B", bound=BaseModel)


def json_body(model: type[B]) -> Callable[[Request], Awaitable[B]]:
    """A dependency that validates the body as `model` (an empty body is `{}`)."""

    async def parse(request: Request) -> B:
        raw = await request.body()
        try:
            return model.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
            raise RequestValidationError(errors) from None

    return parse
