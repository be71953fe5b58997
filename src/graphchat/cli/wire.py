"""The shapes of the API's JSON as the client reads them (unknown fields are kept, so `--json`
output loses nothing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


ShapeT = TypeVar("ShapeT", bound=Shape)


class WireUsage(Shape):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class WireMessage(Shape):
    id: str
    seq: int
    role: str
    content: str
    model: str | None = None
    status: str = "complete"
    created_at: datetime


class WireThread(Shape):
    thread_id: str
    title: str | None = None
    model: str | None = None
    metadata: dict[str, Any] = {}
    created_at: datetime
    updated_at: datetime


class WireThreadPage(Shape):
    threads: list[WireThread]
    has_more: bool
    next_cursor: str | None = None


class WireMessagePage(Shape):
    messages: list[WireMessage]
    has_more: bool
    next_cursor: int | None = None


class WireModel(Shape):
    name: str
    backend: str
    available: bool
    capabilities: list[str] = []


class WireModelList(Shape):
    models: list[WireModel]
    default_model: str | None = None


class ChatResult(Shape):
    thread_id: str
    run_id: str
    response: str
    model: str | None = None
    usage: WireUsage | None = None
    finish_reason: str | None = None
