"""Model calls' own connections (llm/model_connections.py): kept, bounded and given back, against
the Ollama-protocol test server (each recorded request names the client port it came from)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from graphchat.llm.plain_tcp import PlainHTTPTransport
from graphchat.llm.timeouts import Timeouts
from graphchat.llm.transport import ChatEndpoint, make_client
from support.fake_ollama import FakeOllama, Reply

_BODY = b'{"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}'


@asynccontextmanager
async def _endpoint(url: str, connections: int, idle: int) -> AsyncIterator[ChatEndpoint]:
    timeouts = Timeouts()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=idle)
    transport = PlainHTTPTransport(limits)
    client = make_client(url, timeouts, transport=transport)
    try:
        yield ChatEndpoint(client, "/api/chat", transport, timeouts)
    finally:
        await client.aclose()


async def _call(endpoint: ChatEndpoint) -> bytes:
    reply = await endpoint.post(_BODY)
    try:
        return await reply.aread()
    finally:
        await reply.aclose()


def _ports(ollama: FakeOllama, start: int = 0) -> list[int]:
    return [sent.client_port for sent in ollama.requests[start:]]


async def test_calls_at_once_each_open_a_connection_and_later_calls_take_the_kept_ones(
    ollama: FakeOllama,
) -> None:
    ollama.queue(*[Reply(tokens=["a"], first_token_delay=0.2) for _ in range(3)])
    async with _endpoint(ollama.url, connections=8, idle=8) as endpoint:
        together = await asyncio.gather(*[_call(endpoint) for _ in range(3)])
        for _ in range(3):
            await _call(endpoint)

    assert all(b'"done": true' in body for body in together)
    first, later = _ports(ollama)[:3], _ports(ollama, 3)
    assert len(set(first)) == 3
    assert set(later) <= set(first) and len(set(later)) == 1  # the one used last, each time


async def test_no_more_connections_are_kept_idle_than_allowed(ollama: FakeOllama) -> None:
    ollama.queue(*[Reply(tokens=["a"], first_token_delay=0.2) for _ in range(3)])
    async with _endpoint(ollama.url, connections=8, idle=1) as endpoint:
        await asyncio.gather(*[_call(endpoint) for _ in range(3)])
        ollama.queue(*[Reply(tokens=["a"], first_token_delay=0.2) for _ in range(2)])
        await asyncio.gather(*[_call(endpoint) for _ in range(2)])

    first, later = set(_ports(ollama)[:3]), _ports(ollama, 3)
    assert len(first & set(later)) == 1  # one was kept; the other call opened a new one


async def test_calls_past_the_bound_wait_for_a_connection_to_be_given_back(
    ollama: FakeOllama,
) -> None:
    ollama.queue(Reply(tokens=["a"], first_token_delay=0.3))
    async with _endpoint(ollama.url, connections=1, idle=1) as endpoint:
        await asyncio.gather(_call(endpoint), _call(endpoint))

    ports = _ports(ollama)
    assert len(ports) == 2 and len(set(ports)) == 1  # one after the other, on one connection


async def test_a_call_cancelled_before_its_reply_gives_its_place_back(
    ollama: FakeOllama,
) -> None:
    ollama.queue(Reply(tokens=["a"], first_token_delay=5.0))
    async with _endpoint(ollama.url, connections=1, idle=1) as endpoint:
        waiting = asyncio.ensure_future(_call(endpoint))
        while not ollama.requests:
            await asyncio.sleep(0.01)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        body = await asyncio.wait_for(_call(endpoint), 5)

    ports = _ports(ollama)
    assert b'"done": true' in body
    assert len(ports) == 2 and ports[0] != ports[1]  # the cancelled exchange's was closed
