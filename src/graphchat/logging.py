"""Structured logs: JSON lines (or console for development), with the request's ids bound."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

import structlog
from structlog.contextvars import get_contextvars
from structlog.typing import Processor

from graphchat.settings import ObservabilitySettings


def current_request_id() -> str | None:
    value = get_contextvars().get("request_id")
    return str(value) if value is not None else None


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's line writer with the name it was asked for, for `add_logger_name`."""

    def __init__(self, name: str, file: TextIO) -> None:
        super().__init__(file)
        self.name = name


def _named_writer(file: TextIO) -> Callable[..., _NamedWriteLogger]:
    def make(name: str = "graphchat", *_: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(name, file)

    return make


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
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    # graphchat's own lines are rendered and written by structlog itself: through the standard
    # library (a LogRecord made twice, a handler, a formatter) a line took 2.3x the instructions
    # (200,000 against 88,000), and a turn writes two at the default `info` (bench/analysis.md,
    # round 46). Below the level, a call is a method that does nothing.
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=_named_writer(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    # The libraries' lines (uvicorn, SQLAlchemy, …) come through the standard library, rendered
    # by the same processors.
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
    root.setLevel(level)
    # Our own access line replaces uvicorn's; other libraries only speak up on warnings.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "sqlalchemy", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
