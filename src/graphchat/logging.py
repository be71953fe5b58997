"""Structured logs: JSON lines (or console for development), with the request's ids bound."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.contextvars import get_contextvars
from structlog.typing import Processor

from graphchat.settings import ObservabilitySettings


def current_request_id() -> str | None:
    value = get_contextvars().get("request_id")
    return str(value) if value is not None else None


def configure_logging(settings: ObservabilitySettings) -> None:
    """Route structlog and the standard library (uvicorn, sqlalchemy…) through one renderer."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        # The level first: below it, a call costs a level check, not the processors (a
        # timestamp per request's access line at the default `warning`).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Our own access line replaces uvicorn's; other libraries only speak up on warnings.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "sqlalchemy", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
