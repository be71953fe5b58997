"""`graphchat chat` driven through a pseudo-terminal, as a person would use it."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest

from cli.runner import COMMAND_TIMEOUT, client_env
from support.cutting_proxy import cut_stream_proxy
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer

PROMPT = "you> "
CANCEL_ROUTE = "/threads/{thread_id}/runs/{run_id}/cancel"


def _interruptible() -> None:
    """In the child before it runs: Ctrl-C interrupts, as on a person's terminal, even when the
    test run itself was started with SIGINT ignored (a background job of a script inherits
    that, and Python then never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def spawn(server: LiveServer, tmp_path: Path) -> Iterator[Any]:
    """`spawn(*args, **env)` starts `graphchat chat` on a terminal and waits for its prompt."""
    children: list[pexpect.spawn] = []

    def start(*args: str, **env: str) -> pexpect.spawn:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "graphchat", "chat", "--url", server.url, *args],
            env={**client_env(tmp_path), **env},
            encoding="utf-8",
            timeout=COMMAND_TIMEOUT,
            dimensions=(40, 160),
            preexec_fn=_interruptible,
        )
        children.append(child)
        child.expect_exact(PROMPT)
        return child

    yield start
    for child in children:
        child.close(force=True)


def _say(child: pexpect.spawn, line: str, *expected: str) -> str:
    """Sends a line, waits for each expected text and the next prompt; returns what was shown."""
    child.sendline(line)
    shown = ""
    for text in expected:
        child.expect_exact(text)
        shown += f"{child.before}{child.after}"
    child.expect_exact(PROMPT)
    return shown + str(child.before)


def _thread_ids(api: httpx.Client) -> list[str]:
    return [t["thread_id"] for t in api.get("/threads").json()["threads"]]


def _contents(api: httpx.Client, thread_id: str) -> list[str]:
    messages = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    return [m["content"] for m in messages]


def test_replies_stream_in_and_new_and_open_switch_threads(
    spawn: Any, ollama: FakeOllama, api: httpx.Client
) -> None:
    ollama.queue(Reply(tokens=["Hello", " from", " the model"]))
    child = spawn()

    _say(child, "first question", "Hello from the model")
    [first] = _thread_ids(api)
    _say(child, "/new", "new thread")
    _say(child, "second question", "You said: second question")
    [second] = [t for t in _thread_ids(api) if t != first]
    _say(child, f"/open {first}", f"opened thread {first}", "Hello from the model")
    _say(child, "third question", "You said: third question")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    assert _contents(api, first) == [
        "first question",
        "Hello from the model",
        "third question",
        "You said: third question",
    ]
    assert _contents(api, second) == ["second question", "You said: second question"]


def test_a_reply_whose_connection_dropped_is_rejoined_where_it_broke(
    spawn: Any, server: LiveServer, ollama: FakeOllama, api: httpx.Client
) -> None:
    tokens = [f"t{i} " for i in range(12)]
    ollama.queue(Reply(tokens=tokens, token_delay=0.05))

    with cut_stream_proxy(server.url) as proxy:
        child = spawn("--url", proxy.url)  # the last --url is the one used
        shown = _say(child, "tell me", "connection lost: rejoining the reply", "t11 ")
        child.sendline("/quit")
        child.expect(pexpect.EOF)

    assert proxy.cuts == 1
    assert re.findall(r"\bt\d+\b", shown) == [f"t{i}" for i in range(12)]  # each shown once
    [thread_id] = _thread_ids(api)
    assert _contents(api, thread_id) == ["tell me", "".join(tokens)]
    assert len(ollama.chat_requests()) == 1  # the same run, not a second one


def test_ctrl_c_stops_a_slow_reply_and_the_prompt_returns(
    spawn: Any, server: LiveServer, ollama: FakeOllama, api: httpx.Client
) -> None:
    tokens = [f"word{i} " for i in range(20)]
    ollama.queue(Reply(tokens=tokens, token_delay=0.3))
    child = spawn()

    child.sendline("tell me a long story")
    child.expect_exact("word1 ")
    child.sendintr()
    child.expect_exact("[stopped]")
    assert "word19" not in str(child.before)
    child.expect_exact(PROMPT)

    # The chat goes on: the next message gets its own reply on the same thread.
    _say(child, "and now?", "You said: and now?")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    [thread_id] = _thread_ids(api)
    assert _contents(api, thread_id)[-2:] == ["and now?", "You said: and now?"]
    if any(getattr(r, "path", "") == CANCEL_ROUTE for r in server.app.routes):
        stopped = api.get(f"/threads/{thread_id}/messages").json()["messages"][1]
        assert stopped["status"] == "cancelled"
        assert stopped["content"].startswith("word0 word1 ")
        assert "word19" not in stopped["content"]


def test_slash_commands_set_parameters_and_manage_the_thread(
    spawn: Any, ollama: FakeOllama, api: httpx.Client
) -> None:
    child = spawn("--model", "qwen2.5:0.5b")

    _say(child, "/set temperature 0.2", "temperature = 0.2")
    _say(child, "/set system Answer in French.", "system = 'Answer in French.'")
    _say(child, "/set top_p lots", "error: top_p: 'lots' is not a valid value")
    _say(child, "bonjour", "You said: bonjour")
    sent = ollama.chat_requests()[-1]
    assert sent["model"] == "qwen2.5:0.5b"
    assert sent["options"]["temperature"] == 0.2
    assert sent["messages"][0] == {"role": "system", "content": "Answer in French."}

    [thread_id] = _thread_ids(api)
    _say(child, "/rename French lessons", "renamed to: French lessons")
    assert api.get(f"/threads/{thread_id}").json()["title"] == "French lessons"
    shown = _say(child, "/threads", thread_id)
    assert "French lessons" in shown
    history = _say(child, "/history", "You said: bonjour")
    assert "user" in history
    _say(child, "/model llama3.2:latest", "model: llama3.2:latest")
    _say(child, "/frobnicate", "unknown command /frobnicate")
    _say(child, "/delete", f"deleted thread {thread_id}")
    assert api.get(f"/threads/{thread_id}").status_code == 404
    _say(child, "/rename Nope", "no thread yet")
    child.sendline("/quit")
    child.expect(pexpect.EOF)


def test_markdown_is_rendered_once_the_reply_is_complete(spawn: Any, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["Some ", "**bold**", " words"]))
    child = spawn(TERM="xterm-256color", NO_COLOR="", COLUMNS="")

    child.sendline("format please")
    child.expect_exact("\x1b[1mbold\x1b[0m")
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)


def test_an_unknown_thread_exits_5_before_the_prompt(server: LiveServer, tmp_path: Path) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "graphchat", "chat", "--url", server.url, "--thread", "missing"],
        env=client_env(tmp_path),
        encoding="utf-8",
        timeout=COMMAND_TIMEOUT,
    )
    child.expect_exact("thread 'missing' was not found")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5


def test_a_tool_call_waiting_for_approval_is_asked_at_the_prompt(
    spawn: Any, ollama: FakeOllama, api: httpx.Client
) -> None:
    thread = api.post("/threads", json={"metadata": {"require_approval": ["calculator"]}}).json()
    call = {"id": "c1", "function": {"name": "calculator", "arguments": {"expression": "1 + 1"}}}
    ollama.queue(
        Reply(tokens=[], tool_calls=[call]),
        Reply(tokens=["Edited: 42"]),
        Reply(tokens=[], tool_calls=[{**call, "id": "c2"}]),
        Reply(tokens=["Not run."]),
    )
    child = spawn("--thread", thread["thread_id"])

    child.sendline("what is 1+1?")
    child.expect_exact('tool calculator wants to run with {"expression": "1 + 1"}')
    child.expect_exact("run it?")
    child.sendline("e")
    child.expect_exact("arguments (JSON object): ")
    child.sendline('{"expression": "40 + 2"}')
    child.expect_exact("Edited: 42")
    child.expect_exact(PROMPT)
    child.sendline("again")
    child.expect_exact("run it?")
    child.sendline("n")
    child.expect_exact("reason (optional): ")
    child.sendline("no thanks")
    child.expect_exact("Not run.")
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)

    contents = _contents(api, thread["thread_id"])
    assert contents[2].endswith("\n42")
    assert "Error: the user rejected this tool call: no thanks" in contents
    assert contents[-1] == "Not run."


def test_search_and_export_from_the_chat(spawn: Any, api: httpx.Client, tmp_path: Path) -> None:
    assert api.post("/chat", json={"thread_id": "older", "message": "the platypus lays eggs"})
    child = spawn()

    shown = _say(child, "/search platypus", "older  user #1: the platypus lays eggs")
    _say(child, "/search zzzz", "no matches")
    _say(child, "/export", "no thread yet")
    _say(child, "/open older", "opened thread older")
    target = tmp_path / "older.md"
    _say(child, f"/export {target}", f"exported to {target} (markdown)")
    child.sendline("/quit")
    child.expect(pexpect.EOF)

    assert "older  title: the platypus lays eggs" in shown
    assert target.read_text().startswith("# the platypus lays eggs\n")


def test_regenerate_and_edit_keep_the_old_versions(
    spawn: Any, ollama: FakeOllama, api: httpx.Client
) -> None:
    child = spawn()
    _say(child, "/regenerate", "no thread yet")
    _say(child, "what is 2+2", "You said: what is 2+2")
    ollama.queue(Reply(tokens=["Four."]))
    _say(child, "/regenerate", "Four.")
    _say(child, "/edit what is 3+3", "You said: what is 3+3")
    _say(child, "/edit", "usage: /edit TEXT")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    [thread_id] = _thread_ids(api)
    current = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    assert [m["content"] for m in current] == ["what is 3+3", "You said: what is 3+3"]
    assert current[0]["sibling_count"] == 2
    original = api.get(f"/threads/{thread_id}/messages").json()["messages"][0]["siblings"][0]
    api.put(f"/threads/{thread_id}/leaf", json={"message_id": original})
    earlier = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    assert [m["content"] for m in earlier] == ["what is 2+2", "Four."]
    assert earlier[1]["sibling_count"] == 2  # the first reply is kept beside "Four."
