"""A turn over HTTP sends the store's planned statements (tests/support/statements.py): the
service asks the store for the cheapest plan its request allows (issue 14)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.support.server import LiveServer
from tests.support.statements import (
    BEGIN_KNOWN_THREAD,
    BEGIN_NEW_THREAD,
    FINISH,
    POSTGRES_BEGIN_KNOWN_THREAD,
    POSTGRES_BEGIN_NAMED_HERE,
    POSTGRES_BEGIN_NEW_THREAD,
    POSTGRES_FINISH,
    described_statement,
    recorded,
)

from graphchat.store import Store
from support.db import sent_statements
from support.fake_ollama import FakeOllama, Reply


@pytest.fixture
def quiet_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    """A server whose run monitor stays silent meanwhile: only the turn's statements are sent."""
    return start_server(run_heartbeat_seconds=3600, run_stale_seconds=7200)


@pytest.fixture
def titling_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    """A quiet server whose model titles each new thread after its first reply."""
    return start_server(titles_from_model=True, run_heartbeat_seconds=3600, run_stale_seconds=7200)


def _store(server: LiveServer) -> Store:
    store: Store = server.app.state.services.store
    return store


def _plan(store: Store, sqlite: list[str], postgres: list[str]) -> list[str]:
    if store.engine.dialect.name == "postgresql":
        return [statement + " (alone)" for statement in postgres]
    return sqlite


def _chat(server: LiveServer, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    with server.client() as api:
        api.post("/chat", json={"message": "warm-up"}).raise_for_status()
        with recorded(_store(server)) as sent:
            response = api.post("/chat", json=body)
    assert response.status_code == 200, response.text
    return response.json(), sent


def test_a_chat_without_a_thread_id_does_not_read_the_thread_it_names(
    quiet_server: LiveServer,
) -> None:
    answered, sent = _chat(quiet_server, {"message": "hello"})

    store = _store(quiet_server)
    assert sent == _plan(
        store, BEGIN_NEW_THREAD[1:] + FINISH, POSTGRES_BEGIN_NAMED_HERE + POSTGRES_FINISH
    )
    assert answered["thread_id"]


def test_a_chat_on_a_new_thread_it_names_reads_it_first(quiet_server: LiveServer) -> None:
    _, sent = _chat(quiet_server, {"message": "hello", "thread_id": "named-by-the-client"})

    store = _store(quiet_server)
    assert sent == _plan(
        store, BEGIN_NEW_THREAD + FINISH, POSTGRES_BEGIN_NEW_THREAD + POSTGRES_FINISH
    )


def test_a_chat_on_the_thread_this_process_answered_last_begins_from_what_it_kept(
    quiet_server: LiveServer,
) -> None:
    with quiet_server.client() as api:
        api.post("/chat", json={"message": "first", "thread_id": "kept"}).raise_for_status()

    _, sent = _chat(quiet_server, {"message": "second", "thread_id": "kept"})

    store = _store(quiet_server)
    sqlite = BEGIN_KNOWN_THREAD + FINISH
    assert sent == _plan(store, sqlite, POSTGRES_BEGIN_KNOWN_THREAD + POSTGRES_FINISH)


def test_a_model_written_title_is_one_statement_sent_as_a_turn_writes(
    titling_server: LiveServer, ollama: FakeOllama
) -> None:
    server = titling_server
    ollama.queue(Reply(tokens=["Hi."]), Reply(tokens=["Greeting"]))
    ollama.queue(Reply(tokens=["Daily."]), Reply(tokens=["Feeding sourdough"]))
    store = _store(server)
    with server.client() as api:
        api.post("/chat", json={"message": "warm-up"}).raise_for_status()
        _until_titled(server)
        with sent_statements(store.engine, mode_switches=True) as sent:
            api.post("/chat", json={"message": "How often to feed sourdough?"}).raise_for_status()
            _until_titled(server)

    described = [described_statement(s.statement) for s in sent]
    *turn, title = sent
    assert described[-1] == "UPDATE threads" and "title" in title.statement
    switches = [s.statement for s in sent if "plan_cache_mode" in s.statement]
    assert switches == []  # the session's plan mode was not switched back and forth
    if store.engine.dialect.name == "postgresql":
        assert title.connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    else:  # on the writer the turn's writes took, not a thread hop away
        turn_write = next(s for s in turn if described_statement(s.statement) == "INSERT runs")
        assert title.connection.engine is turn_write.connection.engine


def _until_titled(server: LiveServer) -> None:
    deadline = time.monotonic() + 30
    while server.app.state.services.titles.pending:
        assert time.monotonic() < deadline, "the title was never written"
        time.sleep(0.02)


def test_a_thread_the_model_titled_begins_its_next_turn_from_what_was_kept(
    titling_server: LiveServer, ollama: FakeOllama
) -> None:
    server = titling_server
    ollama.queue(Reply(tokens=["Daily."]), Reply(tokens=["Feeding sourdough"]))
    store = _store(server)
    with server.client() as api:
        first = api.post("/chat", json={"message": "How often to feed sourdough?"}).json()
        _until_titled(server)
        thread_id = first["thread_id"]
        assert api.get(f"/threads/{thread_id}").json()["title"] == "Feeding sourdough"
        with recorded(store) as sent:
            answer = api.post("/chat", json={"message": "In winter?", "thread_id": thread_id})

    assert answer.status_code == 200, answer.text
    sqlite = BEGIN_KNOWN_THREAD + FINISH
    assert sent == _plan(store, sqlite, POSTGRES_BEGIN_KNOWN_THREAD + POSTGRES_FINISH)
