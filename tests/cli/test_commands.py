"""`graphchat ask`, `threads` and `models` run as real processes against a live server."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cli.conftest import Stub
from cli.runner import Cli, client_env
from support.cutting_proxy import cut_stream_proxy
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _user_turns(ollama: FakeOllama) -> list[str]:
    last = ollama.chat_requests()[-1]
    return [m["content"] for m in last["messages"] if m["role"] == "user"]


def test_ask_prints_the_streamed_answer(cli: Cli, ollama: FakeOllama, api: httpx.Client) -> None:
    ollama.queue(Reply(tokens=["Hel", "lo", " there"]))

    result = cli("ask", "hi")

    assert (result.returncode, result.stdout, result.stderr) == (0, "Hello there\n", "")
    assert _user_turns(ollama) == ["hi"]
    assert len(api.get("/threads").json()["threads"]) == 1


def test_ask_rejoins_a_reply_whose_connection_dropped(
    server: LiveServer, ollama: FakeOllama, tmp_path: Path
) -> None:
    tokens = [f"w{i} " for i in range(12)]
    ollama.queue(Reply(tokens=tokens, token_delay=0.05))

    with cut_stream_proxy(server.url) as proxy:
        result = Cli(client_env(tmp_path, proxy.url))("ask", "tell me")

    assert proxy.cuts == 1
    assert result.returncode == 0, result.stderr
    assert result.stdout == "".join(tokens) + "\n"  # every token, once
    assert "rejoining the reply" in result.stderr
    rejoin = next(head for head in proxy.heads if head.startswith("GET "))
    assert "?vocabulary=graphchat&" in rejoin.splitlines()[0]
    last_id = next(line for line in rejoin.splitlines() if line.lower().startswith("last-event-id"))
    assert int(last_id.split(":")[1]) >= 3  # after what it had read
    assert len(ollama.chat_requests()) == 1  # the same run, not a second one


def test_ask_reads_the_question_from_stdin(cli: Cli, ollama: FakeOllama) -> None:
    result = cli("ask", stdin="what is\nup?\n")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: what is\nup?\n"
    assert _user_turns(ollama) == ["what is\nup?"]


def test_ask_json_prints_the_whole_turn(cli: Cli) -> None:
    result = cli("ask", "--json", "ping")

    assert result.returncode == 0, result.stderr
    turn = json.loads(result.stdout)
    assert turn["response"] == "You said: ping"
    assert turn["finish_reason"] == "stop"
    assert turn["usage"]["total_tokens"] > 0
    assert [m["role"] for m in turn["messages"]] == ["user", "assistant"]
    assert {m["thread_id"] for m in turn["messages"]} == {turn["thread_id"]}


def test_ask_continues_a_thread_with_the_given_model_and_parameters(
    cli: Cli, ollama: FakeOllama, api: httpx.Client
) -> None:
    thread_id = json.loads(cli("ask", "--json", "first").stdout)["thread_id"]

    result = cli(
        "ask",
        "--thread",
        thread_id,
        "--model",
        "qwen2.5:0.5b",
        "--temperature",
        "0.3",
        "--system",
        "Be brief.",
        "second",
    )

    assert result.returncode == 0, result.stderr
    sent = ollama.chat_requests()[-1]
    assert sent["model"] == "qwen2.5:0.5b"
    assert sent["options"]["temperature"] == 0.3
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert _user_turns(ollama) == ["first", "second"]
    stored = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    assert [m["content"] for m in stored] == [
        "first",
        "You said: first",
        "second",
        "You said: second",
    ]


def test_threads_are_listed_shown_renamed_and_deleted(cli: Cli, api: httpx.Client) -> None:
    first = api.post("/chat", json={"message": "about cats"}).json()["thread_id"]
    second = api.post("/chat", json={"message": "about dogs"}).json()["thread_id"]

    listing = cli("threads", "ls")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.index(second) < listing.stdout.index(first)  # most recent first
    as_json = json.loads(cli("threads", "ls", "--json").stdout)
    assert [t["thread_id"] for t in as_json["threads"]] == [second, first]

    renamed = cli("threads", "rename", first, "Cat facts")
    assert renamed.returncode == 0
    assert api.get(f"/threads/{first}").json()["title"] == "Cat facts"
    shown = cli("threads", "show", first)
    assert shown.returncode == 0, shown.stderr
    assert "Cat facts" in shown.stdout
    assert "You said: about cats" in shown.stdout
    assert "about dogs" not in shown.stdout

    removed = cli("threads", "rm", first)
    assert removed.returncode == 0
    assert api.get(f"/threads/{first}").status_code == 404
    again = cli("threads", "rm", first)
    assert again.returncode == 5
    assert "not found" in _one_line(again.stderr)
    assert [t["thread_id"] for t in api.get("/threads").json()["threads"]] == [second]


def test_models_lists_the_backends_models(cli: Cli) -> None:
    table = cli("models")
    listing = json.loads(cli("models", "--json").stdout)

    assert table.returncode == 0, table.stderr
    assert "llama3.2:latest (default)" in table.stdout
    assert "qwen2.5:0.5b" in table.stdout
    assert [m["name"] for m in listing["models"]] == ["llama3.2:latest", "qwen2.5:0.5b"]


def test_unknown_thread_exits_5(cli: Cli) -> None:
    result = cli("threads", "show", "no-such-thread")

    assert result.returncode == 5
    assert _one_line(result.stderr) == "graphchat: thread 'no-such-thread' was not found"


def test_a_failing_model_exits_7(cli: Cli, ollama: FakeOllama) -> None:
    ollama.down = True

    result = cli("ask", "anyone there?")

    assert result.returncode == 7
    assert _one_line(result.stderr).startswith("graphchat: ")


@pytest.mark.parametrize("command", [["ask", "hello"], ["threads", "ls"], ["models"]])
def test_unreachable_server_exits_3(offline_cli: Cli, command: list[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}"

    result = offline_cli(*command, "--url", url)

    assert result.returncode == 3
    assert result.stdout == ""
    assert _one_line(result.stderr) == (
        f"graphchat: cannot reach the graphchat server at {url} (Connection refused)"
    )


def test_url_comes_from_the_environment(offline_cli: Cli) -> None:
    url = f"http://127.0.0.1:{_free_port()}"

    result = offline_cli("models", GRAPHCHAT_URL=url)

    assert result.returncode == 3
    assert url in result.stderr


def test_malformed_url_is_a_configuration_error(offline_cli: Cli) -> None:
    result = offline_cli("models", "--url", "localhost:8000")

    assert result.returncode == 2
    assert "invalid server URL 'localhost:8000'" in _one_line(result.stderr)


def test_missing_question_is_a_usage_error(offline_cli: Cli) -> None:
    result = offline_cli("ask", "--url", "http://127.0.0.1:9", stdin="  \n")

    assert result.returncode == 2
    assert _one_line(result.stderr) == "graphchat: the question is empty"


def test_rejected_key_exits_4_and_the_key_is_sent_as_a_bearer_token(
    offline_cli: Cli, stub: Callable[..., Stub]
) -> None:
    server = stub(401, {"error": {"code": "unauthorized", "message": "invalid API key"}})

    result = offline_cli("ask", "hi", "--url", server.url, GRAPHCHAT_API_KEY="wrong-key")

    assert result.returncode == 4
    assert _one_line(result.stderr) == (
        "graphchat: not authorized (invalid API key); check --api-key / GRAPHCHAT_API_KEY"
    )
    assert server.requests[0][2]["Authorization"] == "Bearer wrong-key"


def test_rate_limit_exits_6_and_says_how_long_to_wait(
    offline_cli: Cli, stub: Callable[..., Stub]
) -> None:
    body = {"error": {"code": "rate_limited", "message": "too many requests"}}
    server = stub(429, body, {"Retry-After": "17"})

    result = offline_cli("threads", "ls", "--url", server.url)

    assert result.returncode == 6
    assert _one_line(result.stderr) == (
        "graphchat: rate limited (too many requests); try again in 17 s"
    )


def test_bad_key_against_a_server_with_auth_exits_4(
    start_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    secret = "alice-static-secret-0123456789"
    server = start_server(auth="on", api_keys=f"alice:{secret}", rate_limit="")
    cli = Cli(client_env(tmp_path, server.url))

    refused = cli("ask", "hi", "--api-key", "not-the-key")
    missing = cli("threads", "ls")
    accepted = cli("ask", "hi", GRAPHCHAT_API_KEY=secret)

    assert refused.returncode == 4
    assert "not authorized" in _one_line(refused.stderr)
    assert missing.returncode == 4
    assert accepted.returncode == 0
    assert accepted.stdout == "You said: hi\n"
