"""While this process's writes on threads it keeps keep landing, a turn's model request leaves
before its begin is written — on PostgreSQL while begin is on its way, on SQLite before the loop
writes it — and its answer waits for begin (service/head_start.py). Whatever this process knows
would refuse or replay the turn keeps the request back until begin has returned."""

from __future__ import annotations

import time

import httpx

from graphchat.store.window_cache import LANDED_IN_A_ROW
from support.background import in_background, wait_until
from support.db import query, thread_row_locked
from support.fake_ollama import FakeOllama, Reply


def _thread_whose_writes_land(api: httpx.Client) -> str:
    thread_id = str(api.post("/chat", json={"message": "warm up"}).json()["thread_id"])
    for number in range(LANDED_IN_A_ROW + 1):
        response = api.post("/chat", json={"message": f"warm {number}", "thread_id": thread_id})
        assert response.status_code == 200, response.text
    return thread_id


def test_the_model_is_asked_while_begin_waits_and_the_answer_waits_for_begin(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    thread_id = _thread_whose_writes_land(api)

    with thread_row_locked(database_url, thread_id):
        worker, answers = in_background(
            lambda: api.post("/chat", json={"message": "held", "thread_id": thread_id})
        )
        wait_until(lambda: ollama.asked("held"), "the model was not asked during begin")
        time.sleep(0.1)  # the model has answered: its answer must still wait for begin
        assert answers == []
        assert query(database_url, "SELECT id FROM messages WHERE content = 'held'") == []
    worker.join(30)

    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["response"] == "You said: held"
    sql = "SELECT content FROM messages WHERE thread_id = :t ORDER BY seq"
    stored = [row["content"] for row in query(database_url, sql, t=thread_id)]
    assert stored[-3:] == ["You said: warm 20", "held", "You said: held"]


def test_a_turn_that_may_replay_another_asks_only_once_begun(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    thread_id = _thread_whose_writes_land(api)
    headers = {"Idempotency-Key": "asked-once-begun"}

    with thread_row_locked(database_url, thread_id):
        worker, answers = in_background(
            lambda: api.post(
                "/chat", json={"message": "keyed", "thread_id": thread_id}, headers=headers
            )
        )
        time.sleep(0.5)  # long enough for a request sent ahead (above: a few ms)
        assert not ollama.asked("keyed")
    worker.join(30)

    assert answers[0].status_code == 200, answers[0].text
    assert ollama.asked("keyed")


def test_turns_refused_by_a_run_executing_here_never_reach_the_model(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    thread_id = _thread_whose_writes_land(api)
    ollama.queue(Reply(tokens=["slow"], first_token_delay=1.0))
    worker, answers = in_background(
        lambda: api.post("/chat", json={"message": "running", "thread_id": thread_id})
    )
    wait_until(lambda: ollama.asked("running"), "the first turn never reached the model")

    refused = [
        api.post("/chat", json={"message": "again", "thread_id": thread_id}) for _ in range(3)
    ]
    worker.join(30)

    assert [response.status_code for response in refused] == [409] * 3
    assert answers[0].status_code == 200, answers[0].text
    assert not ollama.asked("again")


def test_a_turn_sent_while_another_begins_on_its_thread_asks_only_once_begun(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    thread_id = _thread_whose_writes_land(api)
    ollama.queue(Reply(tokens=["slow"], first_token_delay=1.0))  # the first run still runs

    with thread_row_locked(database_url, thread_id):
        first, first_answers = in_background(
            lambda: api.post("/chat", json={"message": "first turn", "thread_id": thread_id})
        )
        # Sent ahead, so this turn is being begun here before the second one starts.
        wait_until(lambda: ollama.asked("first turn"), "the first turn did not ask ahead")
        second, second_answers = in_background(
            lambda: api.post("/chat", json={"message": "second", "thread_id": thread_id})
        )
        time.sleep(0.5)  # long enough for a request sent ahead (above: a few ms)
        assert not ollama.asked("second")  # the first turn's begin may refuse it
    first.join(30)
    second.join(30)

    assert first_answers[0].status_code == 200, first_answers[0].text
    assert second_answers[0].status_code == 409, second_answers[0].text  # the first one runs
    assert not ollama.asked("second")
