"""A NUL character: SQLite stores it; PostgreSQL cannot, and the client gets 422, never a 500."""

from __future__ import annotations

import httpx

from support.db import snapshot


def test_a_nul_character_is_stored_or_refused_with_422(
    api: httpx.Client, database_url: str
) -> None:
    before = snapshot(database_url)
    chat = api.post("/chat", json={"message": "a\u0000b", "thread_id": "nul"})
    thread = api.post("/threads", json={"title": "x\u0000y"})

    if database_url.startswith("sqlite"):
        assert (chat.status_code, thread.status_code) == (200, 201), (chat.text, thread.text)
        return
    for response in (chat, thread):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_text"
    assert snapshot(database_url) == before
