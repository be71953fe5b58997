"""Helpers for the OpenAI API tests: an `openai` SDK client pointed at a live graphchat."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from openai import OpenAI

from support.fake_ollama import Reply
from support.server import LiveServer

MODEL = "llama3.2"  # the Ollama test server serves it as `llama3.2:latest`


def sdk(server: LiveServer, api_key: str = "no-key-needed", **options: Any) -> OpenAI:
    """The official client, with retries off so a refused request surfaces at once."""
    return OpenAI(base_url=f"{server.url}/v1", api_key=api_key, max_retries=0, **options)


@contextmanager
def raw_stream(
    server: LiveServer, messages: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> Iterator[httpx.Response]:
    """A streamed completion over plain HTTP, to read its SSE lines (or leave it half-read)."""
    body = {"model": MODEL, "messages": messages, "stream": True}
    with (
        server.client() as api,
        api.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        yield response


def calculator_call(expression: str) -> Reply:
    """The model asking graphchat's own `calculator` tool."""
    call = {"id": "c1", "function": {"name": "calculator", "arguments": {"expression": expression}}}
    return Reply(tokens=[], tool_calls=[call])


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}
