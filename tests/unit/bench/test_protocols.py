"""bench/protocols.py: each client protocol's timer streams a real turn from a live server."""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.protocols import PROTOCOLS, _measured

from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer


def test_every_protocol_times_a_first_token_and_keeps_its_conversation(
    server: LiveServer, ollama: FakeOllama
) -> None:
    # Backend-alone streams and the servers' own calls share the test Ollama: all get tokens.
    ollama.queue(*[Reply(tokens=["One", " two"]) for _ in range(40)])
    args = argparse.Namespace(streams=2, rounds=1, turns=3)

    # The in-process server's CPU is this process's (the clients' too: enough to see it read).
    found = asyncio.run(_measured(ollama.url, server.url, args, time.process_time))

    assert set(found) == set(PROTOCOLS)
    for measured in found.values():
        assert len(measured["added_ms_p50_per_round"]) == 1
        assert isinstance(measured["added_ms_p50"], float)
        assert measured["server_cpu_ms_per_turn"] > 0
    with server.client() as api:
        threads = api.get("/threads", params={"limit": 100}).json()["threads"]
        lengths = sorted(
            len(api.get(f"/threads/{thread['thread_id']}/messages").json()["messages"])
            for thread in threads
        )
    # Five streams per protocol, in conversations of at most 3 turns (two messages each): four
    # protocols keep a conversation (3 turns, then 2), the unbound OpenAI call has none.
    assert lengths == [2] * 5 + [4] * 4 + [6] * 4
