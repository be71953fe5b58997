"""bench turn's wrk levels: each wrk client sends its own body, and wrk's report is read right."""

from __future__ import annotations

import pytest
from bench import wrk

from support.fake_ollama import FakeOllama

pytestmark = pytest.mark.skipif(wrk.available() is None, reason="wrk is not installed")


def test_each_client_posts_its_own_thread_and_every_answer_is_counted(ollama: FakeOllama) -> None:
    body = {"model": "llama3.2:latest", "messages": [{"role": "user", "content": "THREAD, hi"}]}

    measured = wrk.closed_loop(
        f"{ollama.url}/api/chat", body, connections=3, duration=1, prefix="conn"
    )

    said = [request["messages"][0]["content"] for request in ollama.chat_requests()]
    assert set(said) == {"conn-1, hi", "conn-2, hi", "conn-3, hi"}
    # Answers counted as they completed; a request still open when time ran out was not.
    assert measured["n"] <= len(said) <= measured["n"] + 3
    assert measured["errors"] == 0
    assert 0 < measured["p50_ms"] <= measured["p99_ms"]
    assert measured["throughput_rps"] > 0


def test_refused_requests_are_errors(ollama: FakeOllama) -> None:
    body = {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}

    measured = wrk.closed_loop(f"{ollama.url}/api/chat", body, connections=1, duration=1)

    assert measured["n"] > 0
    assert measured["errors"] == measured["n"]  # each one a 404
