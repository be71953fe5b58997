"""Export and import: lossless JSON round trips, Markdown, ChatGPT and Open WebUI archives,
malformed archives failing per conversation and never leaving half a thread."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from support.db import query
from support.fake_ollama import FakeOllama, Reply, tool_calls

FIXTURES = Path(__file__).parent / "fixtures"


def _import(api: httpx.Client, body: bytes | str) -> dict[str, Any]:
    content = body.encode() if isinstance(body, str) else body
    response = api.post("/import", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _tool_thread(api: httpx.Client, ollama: FakeOllama) -> str:
    ollama.queue(
        tool_calls(("c1", "calculator", {"expression": "6 * 7"})),
        Reply(tokens=["It ", "is 42."]),
    )
    created = api.post(
        "/threads", json={"thread_id": "maths", "title": "Sums", "metadata": {"tag": "x"}}
    )
    assert created.status_code == 201
    assert api.post("/chat", json={"message": "6*7?", "thread_id": "maths"}).is_success
    return "maths"


def _export(api: httpx.Client, path: str = "/threads/maths/export") -> dict[str, Any]:
    response = api.get(path, params={"format": "json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def test_export_then_import_is_the_identity(api: httpx.Client, ollama: FakeOllama) -> None:
    _tool_thread(api, ollama)
    before = _export(api)
    roles = [m["role"] for m in before["threads"][0]["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert before["threads"][0]["messages"][1]["tool_calls"][0]["id"] == "c1"
    assert api.delete("/threads/maths").status_code == 204

    result = _import(api, json.dumps(before))

    assert result["failed"] == []
    assert [(i["thread_id"], i["renamed"], i["messages"]) for i in result["imported"]] == [
        ("maths", False, 4)
    ]
    after = _export(api)
    assert after["threads"] == before["threads"]


def test_importing_over_existing_ids_gives_new_ones(api: httpx.Client, ollama: FakeOllama) -> None:
    _tool_thread(api, ollama)
    before = _export(api)["threads"][0]

    result = _import(api, json.dumps([before]))

    copy_id = result["imported"][0]["thread_id"]
    assert copy_id != "maths" and result["imported"][0]["renamed"] is True
    copy = _export(api, f"/threads/{copy_id}/export")["threads"][0]
    strip = ("id", "run_id", "parent_id")
    assert [{k: v for k, v in m.items() if k not in strip} for m in copy["messages"]] == [
        {k: v for k, v in m.items() if k not in strip} for m in before["messages"]
    ]
    pairs = zip(before["messages"], copy["messages"], strict=True)
    renamed = {old["id"]: new["id"] for old, new in pairs}
    assert [m.get("parent_id") for m in copy["messages"]] == [
        renamed.get(m.get("parent_id")) for m in before["messages"]
    ]
    assert copy["leaf_message_id"] == renamed[before["leaf_message_id"]]
    assert copy["title"] == "Sums" and copy["metadata"] == {"tag": "x"}


def test_markdown_export_reads_as_a_conversation(api: httpx.Client, ollama: FakeOllama) -> None:
    _tool_thread(api, ollama)

    response = api.get("/threads/maths/export", params={"format": "markdown"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert 'filename="graphchat-maths.md"' in response.headers["content-disposition"]
    text = response.text
    assert text.startswith("# Sums\n")
    assert "## User" in text and "6*7?" in text and "It is 42." in text
    assert '- calls `calculator` with `{"expression": "6 * 7"}`' in text


def test_export_all_streams_every_thread_of_the_caller(api: httpx.Client) -> None:
    for index in range(3):
        assert api.post("/chat", json={"message": f"hello {index}", "thread_id": f"t{index}"})

    with api.stream("GET", "/export", params={"format": "json"}) as response:
        assert response.status_code == 200
        body = json.loads(b"".join(response.iter_bytes()))

    assert body["format"] == "graphchat" and body["version"] == 1
    assert sorted(t["thread_id"] for t in body["threads"]) == ["t0", "t1", "t2"]
    markdown = api.get("/export", params={"format": "markdown"}).text
    assert markdown.count("\n---\n") == 2


def test_a_chatgpt_export_imports_its_current_branch(api: httpx.Client) -> None:
    result = _import(api, (FIXTURES / "chatgpt_conversations.json").read_bytes())

    assert result["failed"] == []
    [imported] = result["imported"]
    assert imported["title"] == "Sourdough starter" and imported["messages"] == 2
    messages = api.get(f"/threads/{imported['thread_id']}/messages").json()["messages"]
    assert [(m["role"], m["content"], m["model"]) for m in messages] == [
        ("user", "How often do I feed a sourdough starter?", None),
        ("assistant", "Once a day at room temperature.", "gpt-4o"),
    ]
    assert messages[0]["created_at"].startswith("2024-06-10T06:13:30")


def test_an_open_webui_export_imports(api: httpx.Client) -> None:
    result = _import(api, (FIXTURES / "openwebui_export.json").read_bytes())

    assert result["failed"] == []
    [imported] = result["imported"]
    thread = api.get(f"/threads/{imported['thread_id']}").json()
    messages = api.get(f"/threads/{imported['thread_id']}/messages").json()["messages"]
    assert thread["title"] == "Rust lifetimes"
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "What does 'a mean in Rust?"),
        ("assistant", "It names a lifetime parameter."),
    ]
    assert messages[1]["model"] == "llama3.1:8b"


def _conversation(thread_id: str, *contents: Any) -> dict[str, Any]:
    stamp = "2026-01-01T00:00:00Z"
    return {
        "thread_id": thread_id,
        "created_at": stamp,
        "updated_at": stamp,
        "messages": [
            {"id": f"{thread_id}-{i}", "seq": i, "role": "user", "content": c, "created_at": stamp}
            for i, c in enumerate(contents, start=1)
        ],
    }


def test_a_bad_conversation_fails_alone_and_leaves_nothing(
    api: httpx.Client, database_url: str
) -> None:
    archive = [
        _conversation("good-1", "fine"),
        _conversation("bad", "fine", 42),  # the second message's content is not text
        _conversation("good-2", "also fine"),
    ]

    result = _import(api, json.dumps(archive))

    assert [i["thread_id"] for i in result["imported"]] == ["good-1", "good-2"]
    [failed] = result["failed"]
    assert failed["index"] == 1 and failed["source_id"] == "bad"
    assert "messages.1.content" in failed["error"]
    assert query(database_url, "SELECT id FROM threads WHERE id = 'bad'") == []
    assert query(database_url, "SELECT id FROM messages WHERE thread_id = 'bad'") == []


def test_a_conversation_repeating_a_message_id_is_malformed(
    api: httpx.Client, database_url: str
) -> None:
    conversation = _conversation("twice", "one", "two")
    conversation["messages"][1]["id"] = conversation["messages"][0]["id"]

    result = _import(api, json.dumps([conversation]))

    # Refused as malformed, not as "ids taken" (importing it again could never succeed).
    [failed] = result["failed"]
    assert failed["source_id"] == "twice" and "share an `id`" in failed["error"]
    assert query(database_url, "SELECT id FROM threads WHERE id = 'twice'") == []


def test_a_truncated_archive_keeps_the_whole_conversations_before_the_break(
    api: httpx.Client, database_url: str
) -> None:
    text = json.dumps([_conversation("first", "one"), _conversation("cut", "two", "three")])

    result = _import(api, text[: text.index('"three"')])

    assert [i["thread_id"] for i in result["imported"]] == ["first"]
    [failed] = result["failed"]
    assert failed["index"] == 1 and "JSON" in failed["error"]
    assert query(database_url, "SELECT id FROM threads WHERE id = 'cut'") == []


def test_something_that_is_no_archive_is_reported(api: httpx.Client) -> None:
    result = _import(api, '{"hello": "world"}')

    assert result["imported"] == []
    assert result["failed"][0]["error"] == "not a JSON array nor a graphchat export"


def test_an_archive_over_the_body_limit_is_refused(start_server: Any) -> None:
    server = start_server(max_body_bytes=2048)
    with server.client() as api:
        body = json.dumps([_conversation("big", "x" * 4096)])
        response = api.post("/import", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_an_imported_thread_id_must_be_one_the_api_can_address(api: httpx.Client) -> None:
    result = _import(api, json.dumps([_conversation("no/slashes", "x")]))

    assert result["imported"] == []
    assert result["failed"][0]["error"].startswith("thread_id: String should match pattern")


def test_json_the_api_would_refuse_fails_its_conversation_alone(
    api: httpx.Client, database_url: str
) -> None:
    deep: Any = []
    for _ in range(299):
        deep = [deep]
    lone = _conversation("lone", "fine")
    lone["messages"][0] |= {"role": "assistant", "tool_calls": [{"id": "c", "args": "a\ud800"}]}
    archive = [
        {**_conversation("deep", "fine"), "metadata": {"x": deep}},
        lone,
        _conversation("good", "fine"),
    ]

    # ensure_ascii: the lone surrogate travels as its escape, as a client's would.
    result = _import(api, json.dumps(archive))

    assert [i["thread_id"] for i in result["imported"]] == ["good"]
    errors = {failed["source_id"]: failed["error"] for failed in result["failed"]}
    assert "metadata" in errors["deep"] and "deeper than 32 levels" in errors["deep"]
    assert "tool_calls" in errors["lone"] and "surrogate" in errors["lone"]
    assert query(database_url, "SELECT id FROM threads ORDER BY id") == [{"id": "good"}]
    # A thread stored 300 levels deep made every listing of its owner's threads a 500.
    assert api.get("/threads").status_code == 200
