"""The approval card: a tool call that needs approval pauses the reply; Approve runs it and the
rest of the reply streams in; Edit runs it with the arguments typed in the card."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from browser.test_chat import ASSISTANT, reply_snapshots, send
from support.fake_ollama import FakeOllama, Reply, tool_calls
from support.server import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def ui_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server(rate_limit="", tools_require_approval="calculator")


def test_the_approval_card_approves_a_call_and_the_reply_streams(
    page: Page, ollama: FakeOllama, ui_server: LiveServer
) -> None:
    tokens = ["The ", "answer ", "is ", "42."]
    ollama.queue(
        tool_calls(("c1", "calculator", {"expression": "6 * 7"})),
        Reply(tokens=tokens, token_delay=0.1),
    )
    page.goto("/")
    send(page, "What is 6 times 7?")

    card = page.get_by_role("region", name="Approval needed")
    expect(card).to_be_visible()
    expect(card.locator(".approval-tool")).to_have_text("calculator")
    assert json.loads(card.locator("textarea").input_value()) == {"expression": "6 * 7"}
    assert len(ollama.chat_requests()) == 1  # nothing ran while the card waits
    card.get_by_role("button", name="Approve").click()

    snapshots = reply_snapshots(page, "The answer is 42.")
    assert len(snapshots) >= 2, snapshots  # it streamed in, token by token
    expect(card).to_have_count(0)
    assert ollama.chat_requests()[-1]["messages"][-1]["content"] == "42"


def test_edit_in_the_card_runs_the_call_with_the_typed_arguments(
    page: Page, ollama: FakeOllama
) -> None:
    ollama.queue(tool_calls(("c1", "calculator", {"expression": "1 + 1"})), Reply(tokens=["Done."]))
    page.goto("/")
    send(page, "Add something")

    card = page.get_by_role("region", name="Approval needed")
    card.locator("textarea").fill('{"expression": "20 + 22"}')
    card.get_by_role("button", name="Edit and run").click()

    expect(page.locator(ASSISTANT).last).to_have_text("Done.")
    assert ollama.chat_requests()[-1]["messages"][-1]["content"].endswith("\n42")


def test_a_reply_followed_after_a_reload_offers_its_card_when_it_pauses(
    page: Page, ollama: FakeOllama
) -> None:
    asking = tool_calls(("c1", "calculator", {"expression": "6 * 7"}))
    asking.tokens = [f"Let me work it out{'.' * i} " for i in range(12)]
    asking.token_delay = 0.15
    ollama.queue(asking, Reply(tokens=["It is 42."]))
    page.goto("/")
    send(page, "What is 6 times 7?")
    expect(page.locator(ASSISTANT)).to_contain_text("Let me work it out..")

    page.reload()

    card = page.get_by_role("region", name="Approval needed")
    expect(card).to_be_visible()  # the rejoined run paused, and its card came with it
    expect(card.locator(".approval-tool")).to_have_text("calculator")
    expect(page.locator(ASSISTANT).first).to_contain_text("Let me work it out...........")
    card.get_by_role("button", name="Approve").click()

    expect(page.locator(ASSISTANT).last).to_have_text("It is 42.")
    assert ollama.chat_requests()[-1]["messages"][-1]["content"] == "42"


def test_a_paused_run_of_a_thread_whose_id_holds_a_colon_resumes_from_its_card(
    page: Page, ollama: FakeOllama, ui_server: LiveServer
) -> None:
    # Thread ids may hold `:`, which a run's location carries encoded (`%3A`).
    ollama.queue(
        tool_calls(("c1", "calculator", {"expression": "6 * 7"})), Reply(tokens=["It is 42."])
    )
    with ui_server.client() as api:
        assert api.post("/threads", json={"thread_id": "trip:1"}).status_code == 201
        paused = api.post("/chat", json={"thread_id": "trip:1", "message": "6 times 7?"})
        assert paused.status_code == 200, paused.text
    page.goto("/#/t/trip:1")

    card = page.get_by_role("region", name="Approval needed")
    card.get_by_role("button", name="Approve").click()

    expect(page.locator(ASSISTANT).last).to_have_text("It is 42.")
    expect(card).to_have_count(0)
    assert ollama.chat_requests()[-1]["messages"][-1]["content"] == "42"
