"""Protocols: the first streamed token through each client protocol graphchat speaks.

`bench streaming` times graphchat's own `POST /stream`. Most clients speak another protocol:
agent-chat-ui and the LangGraph SDK stream runs from `/threads/{id}/runs/stream`, Open WebUI and
LibreChat post the whole conversation to `/v1/chat/completions`, bound to a thread by a header.
Each protocol streams on a conversation of its own that grows turn by turn (a new one after
`--turns`), each stream after one from the backend alone, as `bench streaming` times; rounds go
through the protocols in turn, so a slow phase of the machine is spread over all of them.
Prints, per protocol, the time added to the first token over the backend alone (p50 per round).
Not a target: how far each protocol's view of the turn is from graphchat's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench import databases, procs
from bench.load import backend_body, backend_stream, check, client, graphchat_stream, stream_body

_TEXT = "Hello there, how are you?"


@dataclass
class Conversation:
    """One protocol's conversation: its thread, and what a client holding it keeps."""

    thread_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    messages: list[dict[str, str]] = field(default_factory=list)  # OpenAI clients send it all
    turns: int = 0


Timer = Callable[[httpx.AsyncClient, Conversation], Awaitable[float]]


async def _native(http: httpx.AsyncClient, conversation: Conversation) -> float:
    return (await graphchat_stream(http, stream_body(conversation.thread_id))).first


def _has_content(data: str) -> bool:
    """Whether a `messages` event's chunk carries text (its first is the message's start)."""
    return bool(json.loads(data)[0].get("content"))


def _langgraph(*, as_agent_chat_ui: bool) -> Timer:
    """agent-chat-ui's run: values, messages-tuple and custom, from the thread's checkpoint
    (`useStream` sends the history head's); or the SDK's plain messages-tuple stream."""
    modes = ["values", "messages-tuple", "custom"] if as_agent_chat_ui else ["messages-tuple"]

    async def timed(http: httpx.AsyncClient, conversation: Conversation) -> float:
        path = f"/threads/{conversation.thread_id}"
        body: dict[str, Any] = {
            "assistant_id": "agent",
            "input": {
                "messages": [{"type": "human", "content": [{"type": "text", "text": _TEXT}]}]
            },
            "stream_mode": modes,
            "if_not_exists": "create",
        }
        if as_agent_chat_ui and conversation.turns:
            state = (await http.get(f"{path}/state")).json()
            body["checkpoint"] = {"checkpoint_id": state["checkpoint"]["checkpoint_id"]}
        began, first = time.perf_counter(), 0.0
        async with http.stream("POST", f"{path}/runs/stream", json=body) as response:
            check(response)
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif not first and event == "messages" and line.startswith("data:"):
                    first = time.perf_counter() - began if _has_content(line[5:]) else 0.0
        if not first:
            raise RuntimeError("the run streamed no token")
        return first

    return timed


def _openai(*, bound: bool) -> Timer:
    """Open WebUI's call: the whole conversation, bound to its chat by a header; or an
    unbound call with one message (stored on a new thread each time)."""

    async def timed(http: httpx.AsyncClient, conversation: Conversation) -> float:
        asked = {"role": "user", "content": _TEXT}
        messages = [*conversation.messages, asked] if bound else [asked]
        body = {"model": procs.BACKEND_MODEL, "stream": True, "messages": messages}
        headers = {"X-OpenWebUI-Chat-Id": conversation.thread_id} if bound else {}
        began, first, text = time.perf_counter(), 0.0, []
        async with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
            check(r)
            async for line in r.aiter_lines():
                if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                    continue
                choices = json.loads(line[5:]).get("choices") or [{}]
                if delta := choices[0].get("delta", {}).get("content"):
                    first = first or time.perf_counter() - began
                    text.append(delta)
        if not first:
            raise RuntimeError("the completion streamed no token")
        conversation.messages = [*messages, {"role": "assistant", "content": "".join(text)}]
        return first

    return timed


PROTOCOLS: dict[str, Timer] = {
    "graphchat /stream": _native,
    "LangGraph runs/stream, as agent-chat-ui": _langgraph(as_agent_chat_ui=True),
    "LangGraph runs/stream, messages-tuple (SDK)": _langgraph(as_agent_chat_ui=False),
    "OpenAI chat completions, bound (Open WebUI)": _openai(bound=True),
    "OpenAI chat completions, one message": _openai(bound=False),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--streams", type=int, default=30, help="timed streams per round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds through the protocols")
    parser.add_argument("--turns", type=int, default=60, help="turns before a new conversation")


async def _round(
    backend: httpx.AsyncClient,
    server: httpx.AsyncClient,
    timer: Timer,
    talk: Conversation,
    streams: int,
    turns: int,
) -> tuple[float, Conversation]:
    """Added ms to the first token over the backend alone, p50 of `streams` (after 3 more)."""
    direct: list[float] = []
    through: list[float] = []
    for index in range(streams + 3):
        if talk.turns >= turns:
            talk = Conversation()
        one = (await backend_stream(backend, backend_body())).first
        two = await timer(server, talk)
        talk.turns += 1
        if index >= 3:
            direct.append(one)
            through.append(two)
    return (statistics.median(through) - statistics.median(direct)) * 1000, talk


async def _measured(backend_url: str, server_url: str, args: argparse.Namespace) -> dict[str, Any]:
    added: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
    talks = {name: Conversation() for name in PROTOCOLS}
    async with client(backend_url, 4) as backend, client(server_url, 4) as server:
        for _ in range(args.rounds):
            for name, timer in PROTOCOLS.items():
                found, talks[name] = await _round(
                    backend, server, timer, talks[name], args.streams, args.turns
                )
                added[name].append(round(found, 3))
    return {
        name: {
            "added_ms_p50_per_round": rounds,
            "added_ms_p50": round(statistics.median(rounds), 3),
        }
        for name, rounds in added.items()
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"parameters": vars(args)}
    with procs.backend(tokens=20, token_delay=0.005) as backend_url:
        for kind in databases.available(args.databases):
            with (
                databases.scratch(kind) as url,
                procs.graphchat(procs.server_env(url, backend_url), f"protocols-{kind}") as server,
            ):
                results[kind] = asyncio.run(_measured(backend_url, server.url, args))
            for name, found in results[kind].items():
                print(f"  {kind:8} {name:45} +{found['added_ms_p50']:.2f} ms", flush=True)
    return results


def section(result: dict[str, Any]) -> str:
    """The protocols' part of docs/performance.md."""
    from bench.report import table  # report imports this module for its sections

    parameters = result["parameters"]
    out = "## 9. The first token through each client's protocol\n\n`python -m bench protocols`:"
    out += " the same turn as `bench streaming`'s, streamed through each protocol graphchat"
    out += " speaks, each on a conversation of its own that grows to"
    out += f" {parameters['turns']} turns, {parameters['rounds']} rounds of"
    out += f" {parameters['streams']} streams each. Time added to the first token over the"
    out += " backend alone, p50 of each round, and their median. Not a target (section 2"
    out += " judges `/stream`); how far each client's view of a turn is from graphchat's own.\n"
    for kind in (k for k in databases.KINDS if k in result):
        rows = [
            (
                name,
                found["added_ms_p50"],
                ", ".join(f"{v:.2f}" for v in found["added_ms_p50_per_round"]),
            )
            for name, found in result[kind].items()
        ]
        out += f"\n**{kind}**\n\n" + table(("protocol", "added ms", "per round"), rows)
    return out
