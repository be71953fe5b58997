"""Chatting in the web UI: streaming, history, Stop, errors and hostile model output."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer

pytestmark = pytest.mark.browser

ASSISTANT = "#message-list .message.assistant .message-body"
USER = "#message-list .message.user .message-body"


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def reply_snapshots(page: Page, until: str, timeout: float = 10.0) -> list[str]:
    """The distinct texts of the last reply, sampled until it reads `until`."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = page.locator(ASSISTANT).all_inner_texts()
        text = texts[-1].strip() if texts else ""
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if text == until:
            return seen
        page.wait_for_timeout(40)
    raise AssertionError(f"reply never read {until!r}; saw {seen}")


def test_reply_streams_token_by_token(page: Page, ollama: FakeOllama) -> None:
    tokens = ["The ", "reply ", "grows ", "one ", "token ", "at ", "a ", "time."]
    ollama.queue(Reply(tokens=tokens, token_delay=0.1))
    page.goto("/")
    send(page, "Stream something")

    snapshots = reply_snapshots(page, "".join(tokens))

    assert len(snapshots) >= 4, snapshots
    assert all("".join(tokens).startswith(s.rstrip("…▍ ")) for s in snapshots), snapshots
    expect(page.locator(USER)).to_have_text("Stream something")
    expect(page.get_by_role("button", name="Send")).to_be_visible()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_history_is_shown_after_a_reload(page: Page, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["Paris ", "is ", "the ", "capital."]))
    page.goto("/")
    send(page, "What is the capital of France?")
    expect(page.locator(ASSISTANT)).to_have_text("Paris is the capital.")
    expect(page).to_have_url(re.compile(r"#/t/"))
    # The text shows as it streams; the reply is stored with the run's end, which brings Send back.
    expect(page.get_by_role("button", name="Send")).to_be_visible()

    page.reload()

    expect(page.locator(USER)).to_have_text("What is the capital of France?")
    expect(page.locator(ASSISTANT)).to_have_text("Paris is the capital.")
    expect(page.locator("#thread-title")).to_have_text("What is the capital of France?")
    active = page.locator(".thread-link[aria-current=page]")
    expect(active).to_have_text("What is the capital of France?")


def start_a_long_reply(page: Page, ollama: FakeOllama, word: str, text: str) -> str:
    """Sends `text` for a reply of 24 words (`word0 word1 …`, ~3.6 s: time for a reload on a
    loaded machine), returned once its first three words show and the thread has its address."""
    tokens = [f"{word}{i} " for i in range(24)]
    ollama.queue(Reply(tokens=tokens, token_delay=0.15))
    page.goto("/")
    send(page, text)
    expect(page.locator(ASSISTANT)).to_contain_text(f"{word}2")
    expect(page).to_have_url(re.compile(r"#/t/"))
    return "".join(tokens).strip()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_reload_while_a_reply_streams_follows_the_reply_on(
    page: Page, ollama: FakeOllama
) -> None:
    reply = start_a_long_reply(page, ollama, "word", "Tell me a long story")

    page.reload()

    expect(page.locator(USER)).to_have_text("Tell me a long story")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()  # the run is followed again
    snapshots = reply_snapshots(page, reply)
    assert len(snapshots) >= 2, snapshots  # it streamed on after the reload
    assert all(s.startswith("word0 word1 word2") for s in snapshots), snapshots  # from the start
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    # Once the run has ended, the stored reply stands in for the streamed one: one reply, with
    # its id.
    expect(page.locator("#message-list .message.assistant[data-message-id]")).to_have_count(1)
    expect(page.locator("#message-list .message.assistant")).to_have_count(1)
    assert len(ollama.chat_requests()) == 1  # the same run, not a second one


def test_a_reply_that_fails_after_a_reload_says_why(page: Page, ollama: FakeOllama) -> None:
    tokens = [f"word{i} " for i in range(24)]
    ollama.queue(Reply(tokens=tokens, token_delay=0.15, error_after=14))
    page.goto("/")
    send(page, "Tell me a long story")
    expect(page.locator(ASSISTANT)).to_contain_text("word2")
    expect(page).to_have_url(re.compile(r"#/t/"))

    page.reload()  # the run is rejoined, and fails while followed

    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("scripted mid-stream failure")  # the server's own words
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_leaving_a_streaming_thread_and_coming_back_follows_its_reply(
    page: Page, ollama: FakeOllama
) -> None:
    reply = start_a_long_reply(page, ollama, "part", "Write at length")
    thread_url = page.url

    page.get_by_role("button", name="New chat").click()

    expect(page.locator("#empty-state")).to_be_visible()
    # The composer is free at once: the run goes on, unfollowed.
    expect(page.get_by_role("button", name="Send")).to_be_visible(timeout=1000)
    page.goto(thread_url)
    snapshots = reply_snapshots(page, reply)
    assert snapshots[-1] == reply
    expect(page.locator("#message-list .message.assistant[data-message-id]")).to_have_count(1)
    expect(page.locator(USER)).to_have_text("Write at length")
    assert len(ollama.chat_requests()) == 1


def test_markdown_renders_with_highlighted_code_and_copy(page: Page, ollama: FakeOllama) -> None:
    markdown = "Here is **bold** and code:\n\n```python\ndef add(a, b):\n    return a + b\n```\n"
    ollama.queue(Reply(tokens=[markdown]))
    page.goto("/")
    send(page, "Show me code")

    reply = page.locator(ASSISTANT)
    expect(reply.locator("strong")).to_have_text("bold")
    expect(reply.locator("pre code.hljs .hljs-keyword").first).to_have_text("def")
    expect(reply.get_by_role("button", name="Copy code to the clipboard")).to_be_visible()


def test_hostile_markup_in_a_reply_is_rendered_harmless(page: Page, ollama: FakeOllama) -> None:
    hostile = (
        "Look: <img src=x onerror=\"window.__pwned = 'img'; alert(1)\"> and "
        "<script>window.__pwned = 'script'; alert(2)</script> "
        '<a href="javascript:alert(3)">click</a> done'
    )
    ollama.queue(Reply(tokens=[hostile[:30], hostile[30:]], token_delay=0.05))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto("/")
    send(page, "Be nasty")

    reply = page.locator(ASSISTANT)
    expect(reply).to_contain_text("done")
    expect(page.locator(".message.streaming")).to_have_count(0)
    page.wait_for_timeout(300)  # give an injected handler time to fire
    assert page.locator("img[onerror]").count() == 0
    assert page.locator("#message-list script").count() == 0
    assert page.locator("#message-list a[href^='javascript']").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def test_stop_ends_a_reply(page: Page, ollama: FakeOllama, ui_server: LiveServer) -> None:
    ollama.queue(Reply(tokens=[f"word{i} " for i in range(60)], token_delay=0.1))
    cancels: list[str] = []
    page.on("request", lambda r: cancels.append(r.url) if r.url.endswith("/cancel") else None)
    page.goto("/")
    send(page, "Talk for a long time")
    expect(page.locator(ASSISTANT)).to_contain_text("word2")

    page.get_by_role("button", name="Stop").click()

    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.locator("#message-list .message.assistant .status-note")).to_have_text("Stopped.")
    shown = page.locator(ASSISTANT).inner_text()
    page.wait_for_timeout(500)
    assert page.locator(ASSISTANT).inner_text() == shown
    assert "word59" not in shown
    # The run is cancelled on the server too (the UI copes with servers that cannot cancel).
    thread_id = page.url.rsplit("/", 1)[-1]
    assert [url.split("/runs/")[0] for url in cancels] == [f"{ui_server.url}/threads/{thread_id}"]
    # The composer works again: the next turn streams normally.
    ollama.queue(Reply(tokens=["Back ", "again."]))
    send(page, "Are you there?")
    expect(page.locator(ASSISTANT).last).to_have_text("Back again.")


def test_backend_down_shows_an_error_and_loses_nothing(
    page: Page, ollama: FakeOllama, ui_server: LiveServer
) -> None:
    page.goto("/")
    expect(page.locator("#model-select option")).not_to_have_count(0)
    ollama.down = True
    send(page, "Is anyone home?")

    banner = page.get_by_role("alert")
    expect(banner).to_be_visible()
    expect(banner).not_to_contain_text("Traceback")
    expect(banner.get_by_role("button", name="Retry")).to_be_visible()

    ollama.down = False
    ollama.queue(Reply(tokens=["Yes, ", "I am."]))
    banner.get_by_role("button", name="Retry").click()
    expect(page.locator(ASSISTANT).last).to_have_text("Yes, I am.")
    expect(page.get_by_role("alert")).to_be_hidden()

    page.reload()
    expect(page.locator(USER).first).to_have_text("Is anyone home?")
    with httpx.Client(base_url=ui_server.url) as api:
        threads = api.get("/threads").json()["threads"]
    assert [thread["title"] for thread in threads] == ["Is anyone home?"]
