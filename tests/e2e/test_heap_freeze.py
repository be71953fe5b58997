"""A served process moves what it loaded into the collector's permanent generation once the agent
graph is built (`serving.freeze_loaded_heap`); an app in the tests' own process never does."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import Any

import httpx

from support.fake_ollama import FakeOllama
from support.process import ServerProcess, running, server_env


def _frozen_lines(server: ServerProcess) -> list[dict[str, Any]]:
    lines = server.log_path.read_text().splitlines()
    return [json.loads(line) for line in lines if '"heap_frozen"' in line]


def _wait_frozen(server: ServerProcess) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while not (frozen := _frozen_lines(server)):
        assert time.monotonic() < deadline, server.log_path.read_text()[-2000:]
        time.sleep(0.05)
    return frozen


def test_the_server_freezes_its_loaded_heap_once_and_answers_after(
    database_url: str, ollama: FakeOllama, tmp_path: Path
) -> None:
    with running(server_env(database_url, ollama.url), tmp_path / "server.log") as server:
        frozen = _wait_frozen(server)
        with server.client() as client:
            first = client.post("/chat", json={"message": "hello"})
            second = client.post(
                "/chat", json={"message": "more", "thread_id": first.json()["thread_id"]}
            )
        assert (first.status_code, second.status_code) == (200, 200), first.text + second.text
        assert second.json()["response"] == "You said: more"  # the test double's echo
        # The graph's modules (LangGraph, LangChain) are among them: the app and its services
        # hold about 145,000 objects before the graph is built, 229,000 after (lock file's pins).
        assert frozen[0]["objects"] > 190_000
        assert _frozen_lines(server) == frozen  # once, not per turn


def test_an_app_in_this_process_leaves_its_heap_alone(api: httpx.Client) -> None:
    before = gc.get_freeze_count()
    response = api.post("/chat", json={"message": "hello"})
    assert response.status_code == 200, response.text
    assert gc.get_freeze_count() == before
