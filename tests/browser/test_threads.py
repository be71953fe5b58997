"""Threads in the web UI: the sidebar, scrolling back, rename, delete, settings and the model."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from support.fake_ollama import FakeOllama
from support.server import LiveServer

pytestmark = pytest.mark.browser

MESSAGES = "#message-list .message .message-body"


@pytest.fixture
def api(ui_server: LiveServer) -> httpx.Client:
    with ui_server.client() as client:
        yield client


def seed_turns(api: httpx.Client, count: int) -> str:
    """A thread of `count` turns (the test Ollama echoes): 2 × count messages."""
    thread_id = api.post("/threads", json={}).json()["thread_id"]
    for index in range(count):
        response = api.post("/chat", json={"thread_id": thread_id, "message": f"message {index}"})
        assert response.status_code == 200, response.text
    return thread_id


def test_an_older_thread_opens_at_the_end_and_scrolls_back(page: Page, api: httpx.Client) -> None:
    thread_id = seed_turns(api, 40)
    page.goto(f"/#/t/{thread_id}")
    expect(page.locator(MESSAGES).last).to_have_text("You said: message 39")
    shown = page.locator(MESSAGES).count()
    assert shown < 80
    assert (
        page.evaluate(
            "() => { const s = document.getElementById('messages');"
            " return s.scrollHeight - s.scrollTop - s.clientHeight; }"
        )
        < 5
    )

    for _ in range(10):
        if page.locator(MESSAGES).count() == 80:
            break
        page.locator("#messages").evaluate("element => { element.scrollTop = 0; }")
        page.wait_for_timeout(250)

    texts = page.locator(MESSAGES).all_inner_texts()
    expected = [text for i in range(40) for text in (f"message {i}", f"You said: message {i}")]
    assert texts == expected


def test_sidebar_lists_newest_first_and_loads_more_on_scroll(page: Page, api: httpx.Client) -> None:
    for index in range(35):
        api.post("/threads", json={"title": f"Thread {index:02d}"})
    page.goto("/")
    links = page.locator(".thread-link")
    expect(links.first).to_have_text("Thread 34")
    expect(links).to_have_count(30)

    page.locator("#thread-scroller").evaluate("e => { e.scrollTop = e.scrollHeight; }")

    expect(links).to_have_count(35)
    assert links.all_inner_texts() == [f"Thread {index:02d}" for index in range(34, -1, -1)]


def test_rename_and_delete_a_thread(page: Page, api: httpx.Client) -> None:
    keep = api.post("/threads", json={"title": "Keep me"}).json()["thread_id"]
    doomed = api.post("/threads", json={"title": "Old name"}).json()["thread_id"]
    page.goto(f"/#/t/{doomed}")
    expect(page.locator("#thread-title")).to_have_text("Old name")

    page.get_by_role("button", name="Rename “Old name”").click()
    title = page.get_by_label("Title")
    expect(title).to_be_focused()
    title.fill("New name")
    title.press("Enter")
    expect(page.locator(".thread-link[aria-current=page]")).to_have_text("New name")
    expect(page.locator("#thread-title")).to_have_text("New name")
    assert api.get(f"/threads/{doomed}").json()["title"] == "New name"

    page.get_by_role("button", name="Delete “New name”").click()
    dialog = page.get_by_role("dialog", name="Delete conversation?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator(".thread-link", has_text="New name")).to_be_visible()
    page.get_by_role("button", name="Delete “New name”").click()
    dialog.get_by_role("button", name="Delete").click()

    expect(page.locator(".thread-link")).to_have_text(["Keep me"])
    expect(page.locator("#thread-title")).to_have_text("New chat")
    assert api.get(f"/threads/{doomed}").status_code == 404
    assert api.get(f"/threads/{keep}").status_code == 200


def _open_held(page: Page, thread_id: str) -> Route:
    """Open the thread's page with its `GET /threads/{id}` held; the caller lets it through."""
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(f"**/threads/{thread_id}", hold)
    page.goto(f"/#/t/{thread_id}")
    while not held:
        page.wait_for_timeout(10)
    return held[0]


def test_settings_opened_while_the_thread_loads_show_the_threads_settings(
    page: Page, api: httpx.Client
) -> None:
    thread_id = api.post("/threads", json={"title": "Slow"}).json()["thread_id"]
    settings = {"temperature": 0.7, "system": "Be brief."}
    patched = api.patch(f"/threads/{thread_id}", json={"metadata": {"settings": settings}})
    assert patched.status_code == 200, patched.text
    thread_request = _open_held(page, thread_id)

    page.get_by_role("button", name="Settings").click()  # before the thread has arrived
    thread_request.continue_()

    expect(page.get_by_label("Temperature")).to_have_value("0.7")
    expect(page.get_by_label("System prompt")).to_have_value("Be brief.")
    expect(page.locator("#thread-title")).to_have_text("Slow")


def test_a_message_sent_while_the_thread_loads_goes_to_that_thread(
    page: Page, api: httpx.Client
) -> None:
    thread_id = seed_turns(api, 1)
    thread_request = _open_held(page, thread_id)

    box = page.get_by_label("Message", exact=True)
    box.fill("still here?")
    box.press("Enter")  # before the thread has arrived
    thread_request.continue_()

    expect(page.locator("#message-list .message.assistant")).to_have_count(2)
    expect(page.locator("#message-list .message.streaming")).to_have_count(0)
    stored = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    assert [(m["role"], m["content"]) for m in stored][2] == ("user", "still here?")
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert [t["thread_id"] for t in api.get("/threads").json()["threads"]] == [thread_id]


def test_settings_and_model_are_kept_per_thread_and_used(
    page: Page, api: httpx.Client, ollama: FakeOllama
) -> None:
    thread_id = api.post("/threads", json={"title": "Tuned"}).json()["thread_id"]
    page.goto(f"/#/t/{thread_id}")
    expect(page.locator("#thread-title")).to_have_text("Tuned")
    page.get_by_label("Model").select_option("qwen2.5:0.5b")
    page.get_by_role("button", name="Settings").click()
    page.get_by_label("Temperature").fill("0.3")
    page.get_by_label("Max tokens").fill("64")
    page.get_by_label("System prompt").fill("Answer briefly.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("dialog")).to_be_hidden()

    box = page.get_by_label("Message", exact=True)
    box.fill("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second line")
    assert box.input_value() == "first line\nsecond line"  # Shift+Enter did not send
    box.press("Enter")
    expect(page.locator("#message-list .message.assistant")).to_have_count(1)
    expect(page.locator("#message-list .message.streaming")).to_have_count(0)

    thread = api.get(f"/threads/{thread_id}").json()
    assert thread["model"] == "qwen2.5:0.5b"
    assert thread["metadata"]["settings"] == {
        "temperature": 0.3,
        "max_tokens": 64,
        "system": "Answer briefly.",
    }
    sent = ollama.chat_requests()[-1]
    assert sent["model"] == "qwen2.5:0.5b"
    assert sent["options"]["temperature"] == 0.3
    assert sent["options"]["num_predict"] == 64
    assert sent["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert sent["messages"][-1]["content"] == "first line\nsecond line"

    page.reload()  # the settings come back with the thread
    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_label("Temperature")).to_have_value("0.3")
    expect(page.get_by_label("Model")).to_have_value("qwen2.5:0.5b")
