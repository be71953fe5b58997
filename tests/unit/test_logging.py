"""One renderer for every line: graphchat's own (written by structlog) and the libraries' (through
the standard library) come out alike, with the level, logger name, time and request context."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from graphchat.logging import configure_logging
from graphchat.settings import Settings

_TOUCHED = ("uvicorn.access", "httpx", "httpcore", "sqlalchemy", "aiosqlite", "asyncio", "alembic")


@pytest.fixture
def configured() -> Iterator[None]:
    """Logging as it was, afterwards (the test configures it itself, so that both writers take
    the `sys.stderr` capsys has put there)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    others = {
        name: (logging.getLogger(name).level, logging.getLogger(name).disabled) for name in _TOUCHED
    }
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    root.handlers[:], root.level = handlers, level
    for name, (was_level, was_disabled) in others.items():
        logging.getLogger(name).setLevel(was_level)
        logging.getLogger(name).disabled = was_disabled


def _configure() -> None:
    configure_logging(Settings(log_level="info", log_format="json").observability)
    structlog.contextvars.bind_contextvars(request_id="req-1")


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]


def test_our_lines_and_the_libraries_carry_the_same_fields(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure()
    structlog.get_logger("graphchat.access").info("request", status=200)
    logging.getLogger("uvicorn.error").warning("library line")

    ours, theirs = _lines(capsys)

    assert ours["event"] == "request" and ours["status"] == 200
    assert ours["logger"] == "graphchat.access" and theirs["logger"] == "uvicorn.error"
    assert (ours["level"], theirs["level"]) == ("info", "warning")
    assert ours["request_id"] == theirs["request_id"] == "req-1"
    assert {"timestamp"} <= ours.keys() & theirs.keys()


def test_below_the_level_nothing_is_written_and_an_exception_keeps_its_traceback(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure()
    log = structlog.get_logger("graphchat.test")
    log.debug("hidden")
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("failed")

    (line,) = _lines(capsys)

    assert line["event"] == "failed" and line["level"] == "error"
    assert "ValueError: broken" in str(line["exception"])
