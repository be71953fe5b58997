"""Runs: how their events are kept for rejoining, and how a process keeps them alive."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, PositiveFloat

from graphchat.settings.base import Group


class RunsSettings(Group):
    title: ClassVar[str] = "Runs"

    event_flush_ms: int = Field(
        50,
        ge=1,
        le=10_000,
        alias="run_event_flush_ms",
        description="How often stream events are written for rejoining (ms).",
    )
    events_max: int = Field(
        20_000,
        ge=100,
        alias="run_events_max",
        description="Most events kept per run (token events beyond are not kept).",
    )
    event_retention_hours: PositiveFloat = Field(
        24.0,
        alias="run_event_retention_hours",
        description="Hours a finished run's events stay available for rejoining.",
    )
    heartbeat_seconds: PositiveFloat = Field(
        2.0,
        alias="run_heartbeat_seconds",
        description="How often a process marks its runs alive and checks for cancels.",
    )
    stale_seconds: PositiveFloat = Field(
        30.0,
        alias="run_stale_seconds",
        description="A run whose process was silent this long is marked interrupted.",
    )
    enqueue_timeout_seconds: PositiveFloat = Field(
        300.0, description="Longest an `enqueue`d turn waits for its thread to be free."
    )
