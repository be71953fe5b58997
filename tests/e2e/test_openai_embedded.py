"""End to end: the `openai` SDK's structured output against the embedded model (SmolLM2), whose
reply llama.cpp constrains with a grammar built from the JSON schema."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openai import OpenAI
from pydantic import BaseModel

from graphchat.llm.embedded import DEFAULT_MODEL_NAME
from support.server import LiveServer

pytestmark = pytest.mark.embedded


class Answer(BaseModel):
    value: int
    sure: bool


def test_parse_gets_schema_conforming_json_from_the_embedded_model(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server(ollama_url="", rate_limit="")
    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=300)

    completion = client.chat.completions.parse(
        model=DEFAULT_MODEL_NAME,
        messages=[{"role": "user", "content": "What is 2 + 2? Answer in JSON."}],
        response_format=Answer,
        max_completion_tokens=64,
        temperature=0,
    )

    assert isinstance(completion.choices[0].message.parsed, Answer)
