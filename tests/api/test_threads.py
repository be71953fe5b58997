"""Thread routes: create, list by activity with cursors, read, rename, delete, message pages."""

from __future__ import annotations

import httpx

from support.db import query


def _turns(api: httpx.Client, thread_id: str, count: int) -> None:
    for index in range(count):
        assert api.post("/chat", json={"message": f"m{index}", "thread_id": thread_id}).is_success


def test_create_get_and_patch_a_thread(api: httpx.Client) -> None:
    created = api.post("/threads", json={"title": "Plans", "metadata": {"project": "x"}})
    assert created.status_code == 201
    thread_id = created.json()["thread_id"]

    patched = api.patch(
        f"/threads/{thread_id}",
        json={
            "title": "Renamed",
            "model": "qwen2.5:0.5b",
            "metadata": {"tag": "a", "project": None},
        },
    )

    assert patched.status_code == 200
    thread = api.get(f"/threads/{thread_id}").json()
    assert thread["title"] == "Renamed"
    assert thread["model"] == "qwen2.5:0.5b"
    assert thread["metadata"] == {"tag": "a"}
    assert thread["updated_at"] >= created.json()["updated_at"]


def test_creating_a_taken_id_is_a_conflict(api: httpx.Client) -> None:
    assert api.post("/threads", json={"thread_id": "dup"}).status_code == 201

    response = api.post("/threads", json={"thread_id": "dup"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "thread_exists"


def test_threads_are_listed_newest_activity_first_with_cursors(api: httpx.Client) -> None:
    for name in ("a", "b", "c"):
        api.post("/threads", json={"thread_id": name})
    _turns(api, "a", 1)  # the oldest thread becomes the most recently active

    first = api.get("/threads", params={"limit": 2}).json()
    second = api.get("/threads", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [t["thread_id"] for t in first["threads"]] == ["a", "c"]
    assert first["has_more"] is True
    assert [t["thread_id"] for t in second["threads"]] == ["b"]
    assert second["has_more"] is False and second["next_cursor"] is None
    by_offset = api.get("/threads", params={"limit": 1, "offset": 2}).json()
    assert [t["thread_id"] for t in by_offset["threads"]] == ["b"]


def test_a_thread_title_defaults_to_the_start_of_its_first_message(api: httpx.Client) -> None:
    long_text = "word " * 40
    thread_id = api.post("/chat", json={"message": long_text}).json()["thread_id"]

    title = api.get(f"/threads/{thread_id}").json()["title"]

    assert title.startswith("word word") and title.endswith("…") and len(title) <= 80


def test_messages_page_by_offset_and_sequence_cursors(api: httpx.Client) -> None:
    _turns(api, "p", 3)  # six messages, seq 1..6

    first = api.get("/threads/p/messages", params={"limit": 4}).json()
    rest = api.get("/threads/p/messages", params={"after": first["next_cursor"]}).json()
    newest = api.get("/threads/p/messages", params={"order": "desc", "limit": 2}).json()
    older = api.get(
        "/threads/p/messages", params={"order": "desc", "limit": 2, "before": newest["next_cursor"]}
    ).json()
    offset = api.get("/threads/p/messages", params={"offset": 5}).json()

    assert [m["seq"] for m in first["messages"]] == [1, 2, 3, 4] and first["has_more"]
    assert [m["seq"] for m in rest["messages"]] == [5, 6] and not rest["has_more"]
    assert [m["seq"] for m in newest["messages"]] == [6, 5]
    assert [m["seq"] for m in older["messages"]] == [4, 3]
    assert [m["content"] for m in offset["messages"]] == ["You said: m2"]


def test_delete_removes_the_thread_its_messages_and_runs(
    api: httpx.Client, database_url: str
) -> None:
    _turns(api, "gone", 2)
    _turns(api, "kept", 1)

    response = api.delete("/threads/gone")

    assert response.status_code == 204 and response.content == b""
    assert api.get("/threads/gone").status_code == 404
    assert query(database_url, "SELECT id FROM messages WHERE thread_id = 'gone'") == []
    assert query(database_url, "SELECT id FROM runs WHERE thread_id = 'gone'") == []
    assert len(query(database_url, "SELECT id FROM messages WHERE thread_id = 'kept'")) == 2
    assert api.delete("/threads/gone").status_code == 404


def test_numbers_beyond_64_bits_are_kept_and_answered(api: httpx.Client) -> None:
    # orjson refuses integers above 64 bits; a thread's metadata holding one made every turn after
    # the first on that thread answer 500 (found by `bench fuzz` on PostgreSQL).
    huge = 10**30
    created = api.post("/threads", json={"thread_id": "huge", "metadata": {"count": huge}})
    assert created.status_code == 201, created.text
    said = {"messages": [{"type": "human", "content": "turn 3"}]}

    turns = [api.post("/chat", json={"message": f"turn {n}", "thread_id": "huge"}) for n in (1, 2)]
    waited = api.post("/threads/huge/runs/wait", json={"assistant_id": "agent", "input": said})
    found = api.post("/threads/search", json={"metadata": {"count": huge}})

    assert [turn.status_code for turn in turns] == [200, 200], [t.text for t in turns]
    assert waited.status_code == 200, waited.text
    assert api.get("/threads/huge").json()["metadata"] == {"count": huge}
    assert found.status_code == 200, found.text
    assert [(t["thread_id"], t["metadata"]) for t in found.json()] == [("huge", {"count": huge})]
