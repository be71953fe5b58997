"""agent-chat-ui (LangChain's Next.js chat app) in Chromium, talking to graphchat directly.

graphchat does not ship agent-chat-ui: build it outside the repository (docs/langgraph-api.md)
and point `GRAPHCHAT_TEST_AGENT_CHAT_UI` at the checkout (default /work/.cache/agent-chat-ui).
Without a build (`.next/BUILD_ID`) these tests skip.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from support.fake_ollama import FakeOllama, Reply, tool_calls
from support.process import free_port, wait_until_serving
from support.server import LiveServer

ACU = Path(os.environ.get("GRAPHCHAT_TEST_AGENT_CHAT_UI") or "/work/.cache/agent-chat-ui")
pytestmark = pytest.mark.skipif(
    not (ACU / ".next" / "BUILD_ID").exists(), reason=f"agent-chat-ui is not built in {ACU}"
)


@pytest.fixture
def acu_url() -> Iterator[str]:
    """agent-chat-ui's production server (`next start`) on a free port."""
    port = free_port()
    process = subprocess.Popen(
        [str(ACU / "node_modules" / ".bin" / "next"), "start", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ACU,
        env={**os.environ, "NEXT_TELEMETRY_DISABLED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def ui_server(start_server: Callable[..., LiveServer], acu_url: str) -> LiveServer:
    """graphchat, letting the UI's origin call it (agent-chat-ui's direct mode); calls to the
    calculator wait for approval."""
    return start_server(rate_limit="", cors_origins=acu_url, tools_require_approval="calculator")


def _ui(acu_url: str, server: LiveServer, extra: str = "") -> str:
    """The UI's address, with graphchat as its API (the query overrides the built-in default)."""
    return f"{acu_url}/?apiUrl={quote(server.url)}&assistantId=agent{extra}"


@pytest.fixture
def chat_page(browser: Browser, ui_server: LiveServer, acu_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    calls: list[str] = []
    opened.on("request", lambda r: calls.append(f"{r.method} {r.url.removeprefix(ui_server.url)}"))
    opened.calls = calls  # type: ignore[attr-defined]
    opened.goto(_ui(acu_url, ui_server))
    yield opened
    context.close()


def _send(page: Page, text: str) -> None:
    box = page.get_by_placeholder("Type your message...")
    box.fill(text)
    box.press("Enter")


def _send_and_settle(page: Page, text: str) -> None:
    """Sends `text`, then waits until agent-chat-ui has read the thread's history again after
    the run: its edit and regenerate buttons take their checkpoints from that history."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/history")
    ) as history:
        _send(page, text)
    assert history.value.ok


def _thread_id(page: Page) -> str:
    page.wait_for_url("**threadId=*")
    return page.url.split("threadId=")[1].split("&")[0]


def _current_branch(server: LiveServer, thread_id: str) -> list[dict[str, Any]]:
    """The thread's current branch, read through graphchat's native API."""
    with server.client() as api:
        found: list[dict[str, Any]] = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    return found


def _switch(server: LiveServer, thread_id: str, message_id: str) -> list[dict[str, Any]]:
    """Makes the branch through `message_id` current (native API); returns it."""
    with server.client() as api:
        api.put(f"/threads/{thread_id}/leaf", json={"message_id": message_id}).raise_for_status()
    return _current_branch(server, thread_id)


def _unchanged(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message without its sibling fields (which grow as branches are added)."""
    return {k: v for k, v in message.items() if not k.startswith("sibling")}


def _run_sent_by(page: Page, action: Callable[[], None]) -> dict[str, Any]:
    """The body of the run agent-chat-ui starts on `action` (not its CORS preflight)."""
    with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith("/runs/stream")
    ) as run:
        action()
    body = run.value.post_data_json
    assert isinstance(body, dict)
    return body


def _checkpoint(seq: int) -> str:
    """graphchat's checkpoint id for the state ending at message `seq` (0: before the first)."""
    return str(seq).zfill(20)


def _switch_shown(page: Page, shown: str, step: str) -> None:
    """Clicks the previous (`step` "previous") or next ("next") arrow of the branch switcher
    showing `shown` (e.g. "2 / 2"): the icon buttons either side of that text."""
    buttons = page.get_by_text(shown, exact=True).locator("xpath=..").get_by_role("button")
    (buttons.first if step == "previous" else buttons.last).click()


def test_a_message_streams_and_the_thread_survives_a_reload(
    chat_page: Page, ollama: FakeOllama, ui_server: LiveServer, acu_url: str
) -> None:
    ollama.queue(Reply(tokens=["Hello ", "from ", "graphchat"], token_delay=0.05))

    _send(chat_page, "hi there")

    expect(chat_page.get_by_text("Hello from graphchat")).to_be_visible()
    expect(chat_page.get_by_text("hi there").first).to_be_visible()
    thread_id = _thread_id(chat_page)
    calls: list[str] = chat_page.calls  # type: ignore[attr-defined]
    assert f"POST /threads/{thread_id}/runs/stream" in calls
    calls.clear()
    chat_page.reload()
    expect(chat_page.get_by_text("Hello from graphchat")).to_be_visible()
    assert f"POST /threads/{thread_id}/history" in calls and "POST /threads/search" in calls
    # On a new chat, the history sidebar lists the thread by its first message; it reopens it.
    chat_page.goto(
        f"{acu_url}/?apiUrl={quote(ui_server.url)}&assistantId=agent&chatHistoryOpen=true"
    )
    chat_page.get_by_role("button", name="hi there").click()
    expect(chat_page.get_by_text("Hello from graphchat")).to_be_visible()
    assert f"threadId={thread_id}" in chat_page.url


def test_the_stop_button_ends_the_stream(
    chat_page: Page, ollama: FakeOllama, ui_server: LiveServer
) -> None:
    ollama.queue(Reply(tokens=[f"w{i} " for i in range(40)], token_delay=0.1))

    _send(chat_page, "long answer please")
    expect(chat_page.get_by_text("w3", exact=False).first).to_be_visible()
    chat_page.get_by_role("button", name="Cancel").click()

    expect(chat_page.get_by_role("button", name="Cancel")).to_be_hidden()
    expect(chat_page.get_by_text("w39", exact=False)).to_have_count(0)
    # agent-chat-ui only stops listening (`on_disconnect: continue`): the run ends and is stored.
    thread_id = _thread_id(chat_page)

    def stored() -> list[str]:
        with ui_server.client() as api:
            found = api.get(f"/threads/{thread_id}/messages").json()["messages"]
        return [m["content"] for m in found]

    deadline = time.monotonic() + 20
    while len(stored()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stored()[1].endswith("w39 ")


def test_the_approval_card_resumes_a_paused_call_and_the_reply_streams(
    chat_page: Page, ollama: FakeOllama, ui_server: LiveServer
) -> None:
    ollama.queue(
        tool_calls(("c1", "calculator", {"expression": "17 * 3"})),
        Reply(tokens=["It is ", "fifty", "-one."], token_delay=0.05),
    )

    _send(chat_page, "What is 17*3?")
    # agent-chat-ui's card for LangChain's HITL request: the call's arguments, then Approve;
    # after a reload it comes back from the thread's history (its pending task's interrupt).
    approve = chat_page.get_by_role("button", name="Approve", exact=True)
    expect(approve).to_be_visible()
    chat_page.wait_for_url("**threadId=*")
    chat_page.reload()
    expect(chat_page.get_by_text("17 * 3").first).to_be_visible()
    with chat_page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/runs/stream")
    ) as resumed:
        approve.click()

    expect(chat_page.get_by_text("It is fifty-one.")).to_be_visible()
    # The reply's text shows with its last token; the run is stored as finished before the
    # stream's closing event, so the stream's end is when the run's record can be read.
    resumed.value.finished()
    thread_id = _thread_id(chat_page)
    calls: list[str] = chat_page.calls  # type: ignore[attr-defined]
    assert calls.count(f"POST /threads/{thread_id}/runs/stream") == 2
    with ui_server.client() as api:
        runs = api.get(f"/threads/{thread_id}/runs").json()
        stored = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    # The approval resumed the paused run: one run, the tool ran once, the model answered.
    assert [run["graphchat_status"] for run in runs] == ["success"]
    assert [(m["role"], m["content"]) for m in stored[2:]] == [
        ("tool", "51"),
        ("assistant", "It is fifty-one."),
    ]


def test_its_regenerate_button_answers_again_beside_the_old_reply(
    chat_page: Page, ollama: FakeOllama, ui_server: LiveServer
) -> None:
    ollama.queue(Reply(tokens=["First ", "answer"]), Reply(tokens=["Second ", "answer"]))
    _send_and_settle(chat_page, "a question")
    expect(chat_page.get_by_text("First answer")).to_be_visible()
    thread_id = _thread_id(chat_page)
    question, first = _current_branch(ui_server, thread_id)

    chat_page.get_by_text("First answer").hover()
    run = _run_sent_by(chat_page, chat_page.get_by_role("button", name="Refresh").click)

    # While the run streams, agent-chat-ui can show the new reply twice for a moment (its
    # streamed copy and the state's); once settled there is one, and the old reply is gone.
    expect(chat_page.get_by_text("Second answer")).to_have_count(1, timeout=10_000)
    expect(chat_page.get_by_text("First answer")).to_have_count(0)
    # What the button sends: no input, from the state after the question.
    assert run.get("input") is None
    assert run["checkpoint"]["checkpoint_id"] == _checkpoint(question["seq"])
    assert [m["content"] for m in ollama.chat_requests()[-1]["messages"][1:]] == ["a question"]
    shown = _current_branch(ui_server, thread_id)
    assert [m["content"] for m in shown] == ["a question", "Second answer"]
    assert shown[1]["siblings"] == [first["id"], shown[1]["id"]]
    assert shown[1]["parent_id"] == first["parent_id"] == question["id"]
    # The first reply is kept as it was, on its own branch.
    old = _switch(ui_server, thread_id, first["id"])
    assert [_unchanged(m) for m in old] == [_unchanged(question), _unchanged(first)]


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_its_branch_switcher_shows_the_old_reply_and_a_message_sent_there_continues_it(
    chat_page: Page, ollama: FakeOllama, ui_server: LiveServer
) -> None:
    ollama.queue(Reply(tokens=["First ", "answer"]), Reply(tokens=["Second ", "answer"]))
    _send_and_settle(chat_page, "a question")
    thread_id = _thread_id(chat_page)
    question, first = _current_branch(ui_server, thread_id)
    chat_page.get_by_text("First answer").hover()
    with chat_page.expect_response(lambda r: r.url.endswith("/history")):
        chat_page.get_by_role("button", name="Refresh").click()
    expect(chat_page.get_by_text("Second answer")).to_have_count(1, timeout=10_000)
    regenerated = _current_branch(ui_server, thread_id)

    # The switcher comes from the fork in /history: the new reply is the second of two.
    chat_page.get_by_text("Second answer").hover()
    _switch_shown(chat_page, "2 / 2", "previous")
    expect(chat_page.get_by_text("First answer")).to_be_visible()
    expect(chat_page.get_by_text("Second answer")).to_have_count(0)
    expect(chat_page.get_by_text("1 / 2", exact=True)).to_have_count(1)
    # Viewing a branch is the page's own state: graphchat's current branch stays where it was.
    assert _current_branch(ui_server, thread_id) == regenerated

    run = _run_sent_by(chat_page, lambda: _send(chat_page, "and then?"))
    expect(chat_page.get_by_text("You said: and then?")).to_be_visible()
    # It sends from the head of the branch it shows; the model reads that branch.
    assert run["checkpoint"]["checkpoint_id"] == _checkpoint(first["seq"])
    sent = [m["content"] for m in ollama.chat_requests()[-1]["messages"][1:]]
    assert sent == ["a question", "First answer", "and then?"]
    shown = _current_branch(ui_server, thread_id)
    assert [m["content"] for m in shown] == [*sent, "You said: and then?"]
    assert shown[1]["id"] == first["id"] and shown[0]["id"] == question["id"]
    expect(chat_page.get_by_text("Second answer")).to_have_count(0)


@pytest.mark.parametrize(
    ("edited", "context"),
    [(0, ["uno"]), (1, ["one", "You said: one", "deux"])],
    ids=["first-message", "later-message"],
)
def test_its_edit_control_sends_the_new_text_on_a_new_branch(
    chat_page: Page, ollama: FakeOllama, ui_server: LiveServer, edited: int, context: list[str]
) -> None:
    _send_and_settle(chat_page, "one")
    expect(chat_page.get_by_text("You said: one")).to_be_visible()
    _send_and_settle(chat_page, "two")
    expect(chat_page.get_by_text("You said: two")).to_be_visible()
    thread_id = _thread_id(chat_page)
    before = _current_branch(ui_server, thread_id)
    original = before[2 * edited]

    chat_page.get_by_text(original["content"], exact=True).hover()
    chat_page.get_by_role("button", name="Edit").nth(edited).click()
    box = chat_page.get_by_role("textbox").first
    expect(box).to_have_value(original["content"])
    box.fill(context[-1])
    run = _run_sent_by(chat_page, chat_page.get_by_role("button", name="Submit").click)

    expect(chat_page.get_by_text(f"You said: {context[-1]}")).to_be_visible()
    expect(chat_page.get_by_text("You said: two")).to_have_count(0)
    # What the control sends: the new text, from the state before the edited message.
    assert [m["content"] for m in run["input"]["messages"]] == [context[-1]]
    before_it = before[2 * edited - 1]["seq"] if edited else 0
    assert run["checkpoint"]["checkpoint_id"] == _checkpoint(before_it)
    # The model reads the edited text after what came before the edited message, nothing else.
    assert [m["content"] for m in ollama.chat_requests()[-1]["messages"][1:]] == context
    shown = _current_branch(ui_server, thread_id)
    assert [m["content"] for m in shown] == [*context, f"You said: {context[-1]}"]
    assert shown[2 * edited]["siblings"] == [original["id"], shown[2 * edited]["id"]]
    # Its switcher, under the edited message, goes back to the old text and what followed it.
    chat_page.get_by_text(context[-1], exact=True).hover()
    _switch_shown(chat_page, "2 / 2", "previous")
    expect(chat_page.get_by_text("You said: two")).to_be_visible()
    expect(chat_page.get_by_text(f"You said: {context[-1]}")).to_have_count(0)
    _switch_shown(chat_page, "1 / 2", "next")
    expect(chat_page.get_by_text(f"You said: {context[-1]}")).to_be_visible()
    # The old branch is still stored, message for message.
    old = _switch(ui_server, thread_id, original["id"])
    assert [_unchanged(m) for m in old] == [_unchanged(m) for m in before]


def test_a_reload_shows_the_threads_current_branch(
    chat_page: Page, ollama: FakeOllama, ui_server: LiveServer, acu_url: str
) -> None:
    ollama.queue(Reply(tokens=["Old ", "reply"]), Reply(tokens=["New ", "reply"]))
    with ui_server.client() as api:
        made = api.post("/chat", json={"message": "a question"}).json()
        thread_id, old_reply = made["thread_id"], made["messages"][-1]["id"]
        regenerate = f"/threads/{thread_id}/messages/{old_reply}/regenerate"
        api.post(regenerate, json={}).raise_for_status()

    chat_page.goto(_ui(acu_url, ui_server, f"&threadId={thread_id}"))
    expect(chat_page.get_by_text("New reply")).to_be_visible()
    expect(chat_page.get_by_text("Old reply")).to_have_count(0)
    _switch(ui_server, thread_id, old_reply)
    chat_page.reload()
    expect(chat_page.get_by_text("Old reply")).to_be_visible()
    expect(chat_page.get_by_text("New reply")).to_have_count(0)

    # A message sent now continues the branch shown.
    _send(chat_page, "and then?")
    expect(chat_page.get_by_text("You said: and then?")).to_be_visible()
    sent = [m["content"] for m in ollama.chat_requests()[-1]["messages"][1:]]
    assert sent == ["a question", "Old reply", "and then?"]
    assert [m["content"] for m in _current_branch(ui_server, thread_id)] == [
        *sent,
        "You said: and then?",
    ]
