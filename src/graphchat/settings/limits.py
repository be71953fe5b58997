"""Limits on what a request may ask and send, page sizes, and the cadence of event streams."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, NonNegativeInt, PositiveFloat, model_validator

from graphchat.settings.base import Count, Group


class LimitsSettings(Group):
    title: ClassVar[str] = "Limits"

    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    body_read_timeout_seconds: PositiveFloat = Field(
        30.0, description="Longest a request body may take to arrive (408 after)."
    )
    body_discard_max_bytes: NonNegativeInt = Field(
        16 * 1_048_576,
        description="Most bytes of a refused body read and dropped so the client gets the answer.",
    )
    max_message_chars: Count = Field(
        32_000, description="Longest user message accepted, in characters (422 above)."
    )
    max_tokens_limit: Count = Field(
        16_384, description="Upper bound accepted for a request's `max_tokens`."
    )
    max_page_size: Count = Field(200, le=10_000, description="Largest `limit` of a page.")
    default_page_size: Count = Field(50, description="Page size when `limit` is not given.")
    sse_heartbeat_seconds: PositiveFloat = Field(
        10.0, description="Cadence of `: heartbeat` comments on open event streams."
    )
    sse_retry_ms: NonNegativeInt = Field(
        3000, description="Reconnection delay hinted to SSE clients (`retry:`)."
    )

    @model_validator(mode="after")
    def _check_page_sizes(self) -> LimitsSettings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("GRAPHCHAT_DEFAULT_PAGE_SIZE must not exceed GRAPHCHAT_MAX_PAGE_SIZE")
        return self
