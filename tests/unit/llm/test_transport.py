"""Model calls to plain-HTTP backends, sent to httpcore's pool directly (llm/transport.py's
`ChatEndpoint`), against the Ollama-protocol test server."""

from __future__ import annotations

import asyncio
import sys

import pytest

from graphchat.errors import (
    ContextTooLong,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from graphchat.llm.base import ChatChunk, ChatMessage, ChatRequest
from graphchat.llm.http_provider import HttpProvider
from graphchat.llm.ollama import OllamaProvider
from graphchat.llm.openai_compat import OpenAICompatProvider
from graphchat.llm.plain_tcp import CoreReply
from graphchat.llm.timeouts import Timeouts
from graphchat.llm.transport import (
    ChatEndpoint,
    direct_transport,
    make_client,
    status_error,
)
from support.fake_ollama import FakeOllama, Reply
from support.process import free_port

_REQUEST = ChatRequest("llama3.2", (ChatMessage("user", "hi"),))


async def _chunks(provider: HttpProvider, into: list[ChatChunk] | None = None) -> list[ChatChunk]:
    chunks = [] if into is None else into
    try:
        async for chunk in provider.stream(_REQUEST):
            chunks.append(chunk)
    finally:
        await provider.aclose()
    return chunks


async def test_a_call_sends_the_host_its_length_and_asks_for_no_content_coding(
    ollama: FakeOllama,
) -> None:
    chunks = await _chunks(OllamaProvider(ollama.url, timeouts=Timeouts()))

    assert "".join(chunk.content for chunk in chunks) == "You said: hi"
    sent = ollama.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/api/chat")
    assert sent.body is not None and sent.body["messages"] == [{"role": "user", "content": "hi"}]
    assert sent.headers["host"] == f"127.0.0.1:{ollama.port}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["accept-encoding"] == "identity"  # httpcore's stream does not decode
    assert "transfer-encoding" not in sent.headers  # the server read its Content-Length


async def test_the_clients_default_headers_go_with_a_call_and_a_404_is_model_not_found(
    ollama: FakeOllama,
) -> None:
    provider = OpenAICompatProvider(ollama.url, timeouts=Timeouts(), api_key="s3cret")

    with pytest.raises(ModelNotFound):  # the test server has no `/v1/chat/completions`
        await _chunks(provider)

    assert ollama.requests[-1].headers["authorization"] == "Bearer s3cret"


async def test_an_error_status_is_read_and_the_connection_kept_for_the_next_call(
    ollama: FakeOllama,
) -> None:
    ollama.queue(Reply(tokens=["a"]), Reply(status=400, error="num_ctx is not a number"))
    provider = OllamaProvider(ollama.url, timeouts=Timeouts())
    try:
        assert [chunk.content async for chunk in provider.stream(_REQUEST)] == ["a", ""]
        with pytest.raises(ProviderError, match="num_ctx is not a number"):
            await anext(provider.stream(_REQUEST))
        assert [chunk.content async for chunk in provider.stream(_REQUEST)][-2:] == ["hi", ""]
    finally:
        await provider.aclose()

    ports = {sent.client_port for sent in ollama.requests}
    assert len(ollama.requests) == 3 and len(ports) == 1  # one kept-alive connection


async def test_a_connection_dropped_mid_reply_is_a_provider_error_after_its_tokens(
    ollama: FakeOllama,
) -> None:
    ollama.queue(Reply(tokens=["a", "b", "c"], drop_after=2))
    chunks: list[ChatChunk] = []

    with pytest.raises(ProviderError) as raised:
        await _chunks(OllamaProvider(ollama.url, timeouts=Timeouts()), chunks)

    assert type(raised.value) is ProviderError  # neither unavailable nor a timeout
    assert [chunk.content for chunk in chunks] == ["a", "b"]


async def test_a_refused_connection_is_unavailable() -> None:
    provider = OllamaProvider(f"http://127.0.0.1:{free_port()}", timeouts=Timeouts())

    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        await _chunks(provider)


async def test_a_stalled_reply_times_out(ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["a", "b"], stall_after=1, stall_seconds=1.0))
    chunks: list[ChatChunk] = []

    with pytest.raises(ProviderTimeout, match="stalled"):
        await _chunks(OllamaProvider(ollama.url, timeouts=Timeouts(stall=0.2)), chunks)

    assert [chunk.content for chunk in chunks] == ["a"]


async def test_the_body_is_not_held_once_sent(ollama: FakeOllama) -> None:
    """While the reply's first token is awaited, only the caller refers to the request's body."""
    ollama.queue(Reply(tokens=["a"], first_token_delay=0.5))
    timeouts = Timeouts()
    transport = direct_transport(None, ollama.url)
    client = make_client(ollama.url, timeouts, transport=transport)
    endpoint = ChatEndpoint(client, "/api/chat", transport, timeouts)
    body = b'{"model": "llama3.2", "messages": [{"role": "user", "content": "%d"}]}' % id(client)
    held = sys.getrefcount(body)

    replying = asyncio.ensure_future(endpoint.post(body))
    while not ollama.requests:
        await asyncio.sleep(0.01)
    sent_and_waiting = sys.getrefcount(body)
    reply = await replying
    await reply.aclose()
    await client.aclose()

    assert isinstance(reply, CoreReply) and reply.status_code == 200
    assert sent_and_waiting == held


@pytest.mark.parametrize(
    "said",
    [
        # OpenAI, vLLM and llama-cpp-python's server (this one's own words, non-streaming)
        "This model's maximum context length is 512 tokens. However, you requested 875 tokens "
        "(871 in the messages, 4 in the completion). Please reduce the length of the messages.",
        # llama.cpp's server
        "the request exceeds the available context size, try increasing it",
    ],
)
def test_a_400_about_the_context_window_is_context_too_long(said: str) -> None:
    error = status_error("openai", 400, said, "m")
    assert isinstance(error, ContextTooLong) and error.code == "context_length_exceeded"


def test_another_400_is_not_context_too_long() -> None:
    error = status_error("openai", 400, "temperature must be at most 2", "m")
    assert not isinstance(error, ContextTooLong)
