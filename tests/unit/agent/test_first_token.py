"""A streamed run's first token goes out before LangGraph sets the run up (agent/opening.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from graphchat.agent import ApprovalRequest, ModelReply, RunContext, ToolResult
from graphchat.agent.graph import build_graph
from graphchat.agent.state import BeforeStored
from graphchat.agent.tools import ToolRegistry
from graphchat.errors import ProviderUnavailable
from graphchat.llm.base import ChatChunk, ChatMessage, ChatRequest, ToolSpec
from graphchat.llm.fake import ScriptedProvider, ScriptedReply, tool_call


@dataclass
class _Sink:
    """The run's sink, logging what it gets in order: tokens, `heard`, and LangGraph's start."""

    log: list[str] = field(default_factory=list)
    events: list[object] = field(default_factory=list)

    def token(self, text: str) -> None:
        self.log.append(f"token {text}")

    async def event(self, item: ModelReply | ToolResult | ApprovalRequest) -> None:
        self.events.append(item)

    async def heard(self) -> None:
        self.log.append("heard")


class _AtGraphStart(BaseCallbackHandler):
    """Marks LangGraph's start of the run in the sink's log; called inline, in order."""

    run_inline = True

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink

    def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
        if "graph started" not in self.sink.log:
            self.sink.log.append("graph started")


def _early(*, streamed: bool, stored: bool = True) -> BeforeStored:
    loop = asyncio.get_running_loop()
    early = BeforeStored(
        stored=loop.create_future(), waiting=loop.create_future(), ask_ahead=True, streamed=streamed
    )
    if stored:
        early.stored.set_result(None)
    return early


async def _run(
    provider: ScriptedProvider, sink: _Sink, early: BeforeStored, **context: Any
) -> dict[str, Any]:
    return await build_graph(provider, ToolRegistry()).ainvoke(
        {"messages": [ChatMessage(role="user", content="hi")]},
        {"callbacks": [_AtGraphStart(sink)]},
        context=RunContext(model="m", events=sink, before_stored=early, **context),
    )


async def test_a_streamed_runs_first_token_is_heard_before_langgraph_starts_and_sent_once() -> None:
    provider = ScriptedProvider(replies=[ScriptedReply(("hel", "lo", "!"))])
    sink = _Sink()

    final = await _run(provider, sink, _early(streamed=True))

    assert sink.log == ["token hel", "heard", "graph started", "token lo", "token !"]
    assert len(provider.requests) == 1  # the node took the reply that was opened
    assert final["messages"][-1].content == "hello!"
    [reply] = [e for e in sink.events if isinstance(e, ModelReply)]
    assert reply.message.content == "hello!"


async def test_a_run_nobody_streams_sets_up_while_the_model_works() -> None:
    sink = _Sink()

    await _run(
        ScriptedProvider(replies=[ScriptedReply(("hel", "lo"))]), sink, _early(streamed=False)
    )

    assert sink.log == ["graph started", "token hel", "token lo"]


async def test_the_first_token_waits_until_the_run_is_stored() -> None:
    sink, early = _Sink(), _early(streamed=True, stored=False)
    run = asyncio.create_task(
        _run(ScriptedProvider(replies=[ScriptedReply(("a", "b"))]), sink, early)
    )
    await early.waiting  # the request has left
    for _ in range(5):
        await asyncio.sleep(0)
    assert sink.log == []  # its first chunk is in, but the run is not stored yet

    early.stored.set_result(None)
    await run

    assert sink.log == ["token a", "heard", "graph started", "token b"]


@dataclass
class _GatedProvider(ScriptedProvider):
    """A `ScriptedProvider` whose replies start once `gate` is set."""

    gate: asyncio.Future[None] | None = None

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        assert self.gate is not None
        await self.gate
        async for chunk in super().stream(request):
            yield chunk


async def test_a_first_token_read_once_the_run_is_stored_goes_out_in_the_step_that_read_it() -> (
    None
):
    provider = _GatedProvider(
        replies=[ScriptedReply(("a", "b"))], gate=asyncio.get_running_loop().create_future()
    )
    sink = _Sink()
    run = asyncio.create_task(_run(provider, sink, _early(streamed=True)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert sink.log == []  # stored and asked; its reply not yet read

    assert provider.gate is not None
    provider.gate.set_result(None)
    await asyncio.sleep(0)  # one turn of the loop: the task that reads the first chunk ran
    assert sink.log == ["token a"]

    await run
    assert sink.log == ["token a", "heard", "graph started", "token b"]
    assert len(provider.requests) == 1  # the node took the reply that was opened


async def test_a_first_chunk_without_text_is_left_to_the_node() -> None:
    provider = ScriptedProvider(replies=[ScriptedReply(("", "hi"))])
    sink = _Sink()

    final = await _run(provider, sink, _early(streamed=True))

    assert sink.log == ["graph started", "token hi"]
    assert final["messages"][-1].content == "hi"


async def test_a_first_chunk_with_only_tool_calls_is_left_to_the_node() -> None:
    call = tool_call("c1", "lookup", q="x")
    provider = ScriptedProvider(replies=[ScriptedReply((), calls=(call,))])
    sink = _Sink()

    lookup = ToolSpec(name="lookup", description="Looks up", parameters={"type": "object"})

    # The caller runs its own tools (the OpenAI API): the run ends at the call.
    final = await _run(provider, sink, _early(streamed=True), tools=(lookup,), run_tools=False)

    assert sink.log == ["graph started"]
    assert final["messages"][-1].tool_calls == (call,)


async def test_a_failed_first_chunk_fails_the_node_as_before() -> None:
    failure = ProviderUnavailable("the model server is down")
    provider = ScriptedProvider(replies=[ScriptedReply(("never",), error=failure)])
    sink = _Sink()

    with pytest.raises(ProviderUnavailable):
        await _run(provider, sink, _early(streamed=True))

    assert sink.log == ["graph started"]
