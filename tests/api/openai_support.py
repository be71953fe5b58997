"""Helpers for the OpenAI API tests: an `openai` SDK client pointed at a live graphchat."""

from __future__ import annotations

from typing import Any

from openai import OpenAI

from support.server import LiveServer

MODEL = "llama3.2"  # the Ollama test server serves it as `llama3.2:latest`


def sdk(server: LiveServer, api_key: str = "no-key-needed", **options: Any) -> OpenAI:
    """The official client, with retries off so a refused request surfaces at once."""
    return OpenAI(base_url=f"{server.url}/v1", api_key=api_key, max_retries=0, **options)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}
