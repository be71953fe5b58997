"""Limits on what a request may ask and send, page sizes, and the cadence of event streams."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from graphchat.settings.base import Group


class LimitsSettings(Group):
    title: ClassVar[str] = "Limits"

    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    body_read_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest a request body may take to arrive (408 after)."
    )
    body_discard_max_bytes: int = Field(
        16 * 1_048_576,
        ge=0,
        description="Most bytes of a refused body read and dropped so the client gets the answer.",
    )
    max_message_chars: int = Field(
        32_000, ge=1, description="Longest user message accepted, in characters (422 above)."
    )
    max_tokens_limit: int = Field(
        16_384, ge=1, description="Upper bound accepted for a request's `max_tokens`."
    )
    max_page_size: int = Field(200, ge=1, le=10_000, description="Largest `limit` of a page.")
    default_page_size: int = Field(50, ge=1, description="Page size when `limit` is not given.")
    sse_heartbeat_seconds: float = Field(
        10.0, gt=0, description="Cadence of `: heartbeat` comments on open event streams."
    )
    sse_retry_ms: int = Field(
        3000, ge=0, description="Reconnection delay hinted to SSE clients (`retry:`)."
    )

    @model_validator(mode="after")
    def _check_page_sizes(self) -> LimitsSettings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("GRAPHCHAT_DEFAULT_PAGE_SIZE must not exceed GRAPHCHAT_MAX_PAGE_SIZE")
        return self
