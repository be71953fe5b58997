"""The HTTP server and what it reports about itself: logs, metrics, build."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from graphchat.settings.base import Group


class ServerSettings(Group):
    title: ClassVar[str] = "Server"

    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port of the HTTP server.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes sharing the port, each a replica of the others (one per "
        "core uses them all). Above 1, rate limits need `GRAPHCHAT_REDIS_URL`, and each process "
        "runs its own embedded model.",
    )
    keep_alive_seconds: int = Field(
        75,
        gt=5,
        le=3600,
        description="Seconds an idle client connection is kept open. Above the clients' own "
        "(httpx, under the `openai` and `langgraph-sdk` clients, drops its idle ones after 5 s) "
        "and a proxy's, so that it is they who close: a server closing at the same moment as a "
        "request is sent on the connection resets that request.",
    )
    shutdown_grace_seconds: int = Field(
        15,
        ge=1,
        le=3600,
        description="Seconds a stopping server (SIGTERM, Ctrl-C) lets open requests finish, then "
        "as long again for runs still going. A request still waiting then gets 503 "
        "`shutting_down` (retry it); a run still going is stored `interrupted` with its partial "
        "reply. Keep the orchestrator's grace period above twice this.",
    )
    build: str = Field(
        "",
        max_length=200,
        description="Build identifier `/info` reports "
        "(the Docker image sets it to the git commit); empty: `dev`.",
    )


class ObservabilitySettings(Group):
    title: ClassVar[str] = "Observability"

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest log level written."
    )
    log_format: Literal["json", "console"] = Field(
        "json", description="`json`: one JSON object per line; `console`: coloured, for humans."
    )
    log_content: bool = Field(
        False, description="Log message contents and prompts (debugging only: may hold secrets)."
    )
    metrics_enabled: bool = Field(True, description="Serve Prometheus metrics at `/metrics`.")
    metrics_public: bool = Field(
        False, description="Serve `/metrics` without a key even when auth is on."
    )
