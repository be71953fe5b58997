"""Branches in the web UI: regenerate a reply, edit a message, switch between versions."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from support.fake_ollama import FakeOllama, Reply

pytestmark = pytest.mark.browser

ASSISTANT = "#message-list .message.assistant"
USER = "#message-list .message.user"


def _send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def _texts(page: Page, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(f"{selector} .message-body").all_inner_texts()]


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_regenerate_then_switch_between_the_two_replies(page: Page, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["First ", "answer."]), Reply(tokens=["Second ", "answer."]))
    page.goto("/")
    _send(page, "Tell me something")
    reply = page.locator(ASSISTANT).last
    expect(reply.locator(".message-body")).to_have_text("First answer.")

    reply.get_by_role("button", name="Regenerate this reply").click()
    expect(page.locator(f"{ASSISTANT} .message-body")).to_have_text(["Second answer."])
    switcher = page.locator(ASSISTANT).last.get_by_role("group", name="Version 2 of 2")
    expect(switcher).to_contain_text("2 / 2")

    switcher.get_by_role("button", name="Previous version").click()
    expect(page.locator(f"{ASSISTANT} .message-body")).to_have_text(["First answer."])
    expect(page.locator(ASSISTANT).last.locator(".branch-position")).to_have_text("1 / 2")
    # The branch shown is the one a reload shows: it is the thread's, not the page's.
    page.reload()
    expect(page.locator(f"{ASSISTANT} .message-body")).to_have_text(["First answer."])
    page.locator(ASSISTANT).last.get_by_role("button", name="Next version").click()
    expect(page.locator(f"{ASSISTANT} .message-body")).to_have_text(["Second answer."])


def test_edit_a_message_and_go_back_to_the_original(page: Page, ollama: FakeOllama) -> None:
    page.goto("/")
    _send(page, "Hello there")
    expect(page.locator(f"{ASSISTANT} .message-body")).to_have_text(["You said: Hello there"])
    _send(page, "What is 2+2?")
    expect(page.locator(f"{ASSISTANT} .message-body").last).to_have_text("You said: What is 2+2?")

    question = page.locator(USER).last
    question.get_by_role("button", name="Edit this message").click()
    question.get_by_label("Edited message").fill("What is 3+3?")
    question.get_by_role("button", name="Save and send").click()

    expect(page.locator(f"{USER} .message-body")).to_have_text(["Hello there", "What is 3+3?"])
    expect(page.locator(f"{ASSISTANT} .message-body")).to_have_text(
        ["You said: Hello there", "You said: What is 3+3?"]
    )
    edited = page.locator(USER).last
    expect(edited.locator(".branch-position")).to_have_text("2 / 2")
    edited.get_by_role("button", name="Previous version").click()
    expect(page.locator(f"{USER} .message-body")).to_have_text(["Hello there", "What is 2+2?"])
    assert _texts(page, ASSISTANT) == ["You said: Hello there", "You said: What is 2+2?"]
