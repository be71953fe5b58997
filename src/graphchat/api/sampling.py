"""Request checks shared by the chat surfaces (native and OpenAI): sampling and message sizes."""

from __future__ import annotations

from graphchat.api.schemas import SamplingIn
from graphchat.errors import ValidationFailed
from graphchat.service.records import SamplingParams
from graphchat.settings import Settings


def too_long(field: str, limit: int) -> ValidationFailed:
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


def check_length(text: str, field: str, settings: Settings) -> str:
    """`text`, or `ValidationFailed` when it is over the message size limit."""
    if len(text) > settings.limits.max_message_chars:
        raise too_long(field, settings.limits.max_message_chars)
    return text


def sampling_params(body: SamplingIn, settings: Settings) -> SamplingParams:
    """The body's sampling parameters; `max_tokens` is also bounded by the server."""
    if body.max_tokens is not None and body.max_tokens > settings.limits.max_tokens_limit:
        raise ValidationFailed(
            f"max_tokens may be at most {settings.limits.max_tokens_limit}",
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
