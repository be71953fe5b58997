"""Limits on what a request may ask and send, page sizes, and the cadence of event streams."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, NonNegativeInt, PositiveFloat, model_validator

from graphchat.settings.base import Count, Group


class LimitsSettings(Group):
    title: ClassVar[str] = "Limits"

    max_body_bytes: int = Field(1_048_576, ge=1024)
    """Largest request body accepted (413 above)."""
    body_read_timeout_seconds: PositiveFloat = 30.0
    """Longest a request body may take to arrive (408 after)."""
    body_discard_max_bytes: NonNegativeInt = 16 * 1_048_576
    """Most bytes of a refused body read and dropped so the client gets the answer."""
    max_message_chars: Count = 32_000
    """Longest user message accepted, in characters (422 above)."""
    max_tokens_limit: Count = 16_384
    """Upper bound accepted for a request's `max_tokens`."""
    max_page_size: Count = Field(200, le=10_000)
    """Largest `limit` of a page."""
    default_page_size: Count = 50
    """Page size when `limit` is not given."""
    sse_heartbeat_seconds: PositiveFloat = 10.0
    """Cadence of `: heartbeat` comments on open event streams."""
    sse_retry_ms: NonNegativeInt = 3000
    """Reconnection delay hinted to SSE clients (`retry:`)."""

    @model_validator(mode="after")
    def _check_page_sizes(self) -> LimitsSettings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("GRAPHCHAT_DEFAULT_PAGE_SIZE must not exceed GRAPHCHAT_MAX_PAGE_SIZE")
        return self
