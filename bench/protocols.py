"""Protocols: the first streamed token through each client protocol graphchat speaks.

`bench streaming` times graphchat's own `POST /stream`. Most clients speak another protocol:
agent-chat-ui and the LangGraph SDK stream runs from `/threads/{id}/runs/stream`, Open WebUI and
LibreChat post the whole conversation to `/v1/chat/completions`, bound to a thread by a header.
Each protocol streams on a conversation of its own that grows turn by turn (a new one after
`--turns`), each stream after one from the backend alone, as `bench streaming` times; rounds go
through the protocols in turn, so a slow phase of the machine is spread over all of them.
Prints, per protocol, the time added to the first token over the backend alone (p50 per round),
and the server's CPU per turn with the reads its client makes around the run (agent-chat-ui
reads the thread's history after each run, and starts the next from its head's checkpoint).
Not a target: how far each protocol's view of the turn is from graphchat's own.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
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
from bench.markdown import table

_TEXT = "Hello there, how are you?"


@dataclass
class Conversation:
    """One protocol's conversation: its thread, and what a client holding it keeps."""

    thread_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    messages: list[dict[str, str]] = field(default_factory=list)  # OpenAI clients send it all
    checkpoint: str | None = None  # agent-chat-ui's: its history's head
    turns: int = 0


Timer = Callable[[httpx.AsyncClient, Conversation], Awaitable[float]]
CpuClock = Callable[[], float]  # the server's CPU seconds so far


async def _native(http: httpx.AsyncClient, conversation: Conversation) -> float:
    return (await graphchat_stream(http, stream_body(conversation.thread_id))).first


def _has_content(data: str) -> bool:
    """Whether a `messages` event's chunk carries text (its first is the message's start)."""
    return bool(json.loads(data)[0].get("content"))


def _langgraph(*, as_agent_chat_ui: bool) -> Timer:
    """agent-chat-ui's run: values, messages-tuple and custom, from the thread's checkpoint
    (`useStream` sends the history head's), then the thread's history of 10 states, as
    `useStream` reads it after each run; or the SDK's plain messages-tuple stream."""
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
        if as_agent_chat_ui and conversation.checkpoint:
            body["checkpoint"] = {"checkpoint_id": conversation.checkpoint}
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
        if as_agent_chat_ui:
            history = await http.post(f"{path}/history", json={"limit": 10})
            check(history)
            conversation.checkpoint = history.json()[0]["checkpoint"]["checkpoint_id"]
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


@dataclass
class _Round:
    added_ms: float  # to the first token over the backend alone, p50
    cpu_ms: float | None  # the server's, per turn
    talk: Conversation


async def _round(
    backend: httpx.AsyncClient,
    server: httpx.AsyncClient,
    timer: Timer,
    talk: Conversation,
    args: argparse.Namespace,
    cpu: CpuClock | None,
) -> _Round:
    """`args.streams` turns (after 3 more) and as many backend-alone streams, in turn. The
    server's CPU is read over all of them: with the backend's streams, its idle share (~1 % of a
    core here), as `bench turn` counts it, and whatever a turn does after its stream."""
    direct: list[float] = []
    through: list[float] = []
    began = 0.0
    for index in range(args.streams + 3):
        if talk.turns >= args.turns:
            talk = Conversation()
        if index == 3 and cpu is not None:
            began = cpu()
        one = (await backend_stream(backend, backend_body())).first
        two = await timer(server, talk)
        talk.turns += 1
        if index >= 3:
            direct.append(one)
            through.append(two)
    cpu_ms = (cpu() - began) * 1000 / args.streams if cpu is not None else None
    return _Round((statistics.median(through) - statistics.median(direct)) * 1000, cpu_ms, talk)


async def _measured(
    backend_url: str, server_url: str, args: argparse.Namespace, cpu: CpuClock | None = None
) -> dict[str, Any]:
    rounds: dict[str, list[_Round]] = {name: [] for name in PROTOCOLS}
    talks = {name: Conversation() for name in PROTOCOLS}
    async with client(backend_url, 4) as backend, client(server_url, 4) as server:
        for _ in range(args.rounds):
            for name, timer in PROTOCOLS.items():
                found = await _round(backend, server, timer, talks[name], args, cpu)
                talks[name] = found.talk
                rounds[name].append(found)
    return {name: _summary(found) for name, found in rounds.items()}


def _summary(rounds: list[_Round]) -> dict[str, Any]:
    added = [round(found.added_ms, 3) for found in rounds]
    summary: dict[str, Any] = {
        "added_ms_p50_per_round": added,
        "added_ms_p50": round(statistics.median(added), 3),
    }
    cpu = [found.cpu_ms for found in rounds if found.cpu_ms is not None]
    if cpu:
        summary["server_cpu_ms_per_turn_per_round"] = [round(ms, 3) for ms in cpu]
        summary["server_cpu_ms_per_turn"] = round(statistics.median(cpu), 3)
    return summary


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"parameters": vars(args)}
    with procs.backend(tokens=20, token_delay=0.005) as backend_url:
        for kind in databases.available(args.databases):
            with (
                databases.scratch(kind) as url,
                procs.graphchat(procs.server_env(url, backend_url), f"protocols-{kind}") as server,
            ):
                procs.in_service(server, url)
                cpu = functools.partial(procs.cpu_seconds, server)
                results[kind] = asyncio.run(_measured(backend_url, server.url, args, cpu))
            for name, found in results[kind].items():
                said = f"+{found['added_ms_p50']:.2f} ms"
                said += f", server CPU {found['server_cpu_ms_per_turn']:.2f} ms per turn"
                print(f"  {kind:8} {name:45} {said}", flush=True)
    return results


def section(result: dict[str, Any]) -> str:
    """The protocols' part of docs/performance.md."""
    parameters = result["parameters"]
    out = "## 9. The first token through each client's protocol\n\n`python -m bench protocols`:"
    out += " the same turn as `bench streaming`'s, streamed through each protocol graphchat"
    out += " speaks, each on a conversation of its own that grows to"
    out += f" {parameters['turns']} turns, {parameters['rounds']} rounds of"
    out += f" {parameters['streams']} streams each. Time added to the first token over the"
    out += " backend alone, p50 of each round, and their median; and the server's CPU per"
    out += " turn (median of the rounds), with the reads the client makes around its run:"
    out += " agent-chat-ui reads the thread's history of 10 states after each. The reply is"
    out += " 20 tokens 5 ms apart, each its own event and write, and the count includes the"
    out += " server's idle share while the backend alone streams. Not a target"
    out += " (section 2 judges `/stream`); how far each client's view of a turn is from"
    out += " graphchat's own.\n"
    for kind in (k for k in databases.KINDS if k in result):
        rows = [
            (
                name,
                found["added_ms_p50"],
                ", ".join(f"{v:.2f}" for v in found["added_ms_p50_per_round"]),
                found.get("server_cpu_ms_per_turn", "—"),
            )
            for name, found in result[kind].items()
        ]
        header = ("protocol", "added ms", "per round", "server CPU ms per turn")
        out += f"\n**{kind}**\n\n" + table(header, rows)
    return out
