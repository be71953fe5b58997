"""The HTTP server and what it reports about itself: logs, metrics, build."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from graphchat.settings.base import Group


class ServerSettings(Group):
    title: ClassVar[str] = "Server"

    host: str = "127.0.0.1"
    """Interface the HTTP server binds to."""
    port: int = Field(8000, ge=1, le=65535)
    """TCP port of the HTTP server."""
    build: str = Field("", max_length=200)
    """Build identifier `/info` reports (the Docker image sets it to the git commit); empty:
    `dev`."""


class ObservabilitySettings(Group):
    title: ClassVar[str] = "Observability"

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest log level written."""
    log_format: Literal["json", "console"] = "json"
    """`json`: one JSON object per line; `console`: coloured, for humans."""
    log_content: bool = False
    """Log message contents and prompts (debugging only: may hold secrets)."""
    metrics_enabled: bool = True
    """Serve Prometheus metrics at `/metrics`."""
    metrics_public: bool = False
    """Serve `/metrics` without a key even when auth is on."""
