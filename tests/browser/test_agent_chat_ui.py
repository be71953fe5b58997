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


def test_a_message_streams_and_the_thread_survives_a_reload(
    chat_page: Page, ollama: FakeOllama, ui_server: LiveServer, acu_url: str
) -> None:
    ollama.queue(Reply(tokens=["Hello ", "from ", "graphchat"], token_delay=0.05))

    _send(chat_page, "hi there")

    expect(chat_page.get_by_text("Hello from graphchat")).to_be_visible()
    expect(chat_page.get_by_text("hi there").first).to_be_visible()
    chat_page.wait_for_url("**threadId=*")
    thread_id = chat_page.url.split("threadId=")[1].split("&")[0]
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
    thread_id = chat_page.url.split("threadId=")[1].split("&")[0]

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
    approve.click()

    expect(chat_page.get_by_text("It is fifty-one.")).to_be_visible()
    thread_id = chat_page.url.split("threadId=")[1].split("&")[0]
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
