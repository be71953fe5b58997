"""What JSON has no text for: a NUL character (SQLite stores it; PostgreSQL cannot, and the
client gets 422, never a 500) and a non-finite number (stored as null, as the answer shows it)."""

from __future__ import annotations

import httpx
import pytest

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


def test_a_non_finite_number_in_metadata_is_stored_as_null_and_the_thread_stays_searchable(
    api: httpx.Client,
) -> None:
    # Python's JSON parser reads NaN and Infinity, which JSON itself has no text for.
    body = '{"thread_id": "nan", "metadata": {"x": NaN, "y": Infinity, "kind": "odd"}}'
    created = api.post("/threads", content=body, headers={"content-type": "application/json"})
    found = api.post("/threads/search", json={"metadata": {"kind": "odd"}})

    assert created.status_code == 201, created.text
    assert created.json()["metadata"] == {"x": None, "y": None, "kind": "odd"}
    assert api.get("/threads/nan").json()["metadata"] == {"x": None, "y": None, "kind": "odd"}
    # Written as the standard library writes it (`NaN`), SQLite's search then failed (503) and
    # PostgreSQL refused the thread (500).
    assert found.status_code == 200, found.text
    assert [thread["thread_id"] for thread in found.json()] == ["nan"]


# Each a JSON body naming half of a surrogate pair (`\\ud800`), which no UTF-8 text can hold,
# the code it is refused with and what its message says: a free-form object (metadata, a
# schema) fails validation, a string the API takes as text is refused where it would be stored
# or searched for.
_LONE_SURROGATE_BODIES = [
    (
        "/threads",
        '{"thread_id": "lone", "metadata": {"x": "a\\ud800b"}}',
        "validation_error",
        "surrogate",
    ),
    (
        "/threads",
        '{"thread_id": "lone", "metadata": {"a\\udc00": 1}}',
        "validation_error",
        "surrogate",
    ),
    ("/threads/search", '{"metadata": {"x": "a\\ud800b"}}', "invalid_text", "surrogate"),
    (
        "/chat",
        '{"message": "hi", "response_format": {"type": "json_schema", "json_schema":'
        ' {"name": "a", "schema": {"description": "a\\ud800b"}}}}',
        "validation_error",
        "surrogate",
    ),
    (
        "/v1/chat/completions",
        '{"model": "llama3.2:latest", "messages": [{"role": "user", "content": "a\\ud800b"}]}',
        "invalid_text",
        "surrogate",
    ),
    (
        "/v1/chat/completions",
        '{"model": "llama3.2:latest", "messages": [{"role": "user", "content": "hi"}],'
        ' "tools": [{"type": "function", "function": {"name": "f",'
        ' "parameters": {"description": "a\\ud800b"}}}]}',
        "validation_error",
        "tools.0.function.parameters",  # OpenAI's error names the field only
    ),
]


@pytest.mark.parametrize(("path", "body", "code", "said"), _LONE_SURROGATE_BODIES)
def test_a_lone_surrogate_is_refused_with_422_and_nothing_is_stored(
    api: httpx.Client, database_url: str, path: str, body: str, code: str, said: str
) -> None:
    before = snapshot(database_url)
    response = api.post(path, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert said in response.text
    assert snapshot(database_url) == before


def test_a_surrogate_pair_is_one_character_and_is_stored(api: httpx.Client) -> None:
    # How Python's json.dumps (ensure_ascii) sends an emoji: both halves, escaped.
    body = '{"thread_id": "pair", "metadata": {"mood": "\\ud83d\\ude00", "city": "Z\\u00fcrich"}}'
    created = api.post("/threads", content=body, headers={"content-type": "application/json"})

    assert created.status_code == 201, created.text
    assert api.get("/threads/pair").json()["metadata"] == {"mood": "\U0001f600", "city": "Zürich"}
