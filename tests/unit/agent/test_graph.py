"""The agent ⇄ tools loop, driven by a scripted provider and tools registered in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from graphchat.agent import (
    ApprovalRequest,
    Decision,
    ModelReply,
    RunContext,
    ToolResult,
)
from graphchat.agent.graph import build_graph
from graphchat.agent.state import BeforeStored
from graphchat.agent.tools import CALCULATOR, Tool, ToolContext, ToolError, ToolRegistry
from graphchat.errors import ToolsUnsupported
from graphchat.llm.base import ChatChunk, ChatMessage, ChatProvider, ChatRequest
from graphchat.llm.fake import ScriptedProvider, ScriptedReply, tool_call

NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}


async def _explode(arguments: dict[str, Any], context: ToolContext) -> str:
    raise RuntimeError("the flux capacitor broke")


async def _refuse(arguments: dict[str, Any], context: ToolContext) -> str:
    raise ToolError("no such city")


async def _sleep(arguments: dict[str, Any], context: ToolContext) -> str:
    await asyncio.sleep(30)
    return "woke up"


async def _whoami(arguments: dict[str, Any], context: ToolContext) -> dict[str, str]:
    return {"owner": context.owner, "thread": context.thread_id}


def _registry() -> ToolRegistry:
    registry = ToolRegistry([CALCULATOR], defaults=["calculator"])
    for name, run in [
        ("explode", _explode),
        ("refuse", _refuse),
        ("sleepy", _sleep),
        ("whoami", _whoami),
    ]:
        registry.register(Tool(name=name, description=name, parameters=NO_ARGS, run=run))
    return registry


@dataclass
class _Recorded:
    """The run's sink, as the service's recorder is: tokens and events in the order produced."""

    tokens: list[str] = field(default_factory=list)
    events: list[object] = field(default_factory=list)

    def token(self, text: str) -> None:
        self.tokens.append(text)

    async def event(self, item: ModelReply | ToolResult | ApprovalRequest) -> None:
        self.events.append(item)


async def _run(
    provider: ScriptedProvider, *tool_names: str, **context: Any
) -> tuple[list[ChatMessage], list[object]]:
    registry = _registry()
    graph = build_graph(provider, registry)
    recorded = _Recorded()
    run_context = RunContext(
        model="m", tools=registry.specs(tool_names), events=recorded, **context
    )
    final = await graph.ainvoke(
        {"messages": [ChatMessage(role="user", content="hi")]}, context=run_context
    )
    return final["messages"], recorded.events


async def test_two_tool_rounds_then_an_answer() -> None:
    provider = ScriptedProvider(
        replies=[
            ScriptedReply((), calls=(tool_call("c1", "calculator", expression="2 + 3"),)),
            ScriptedReply(("and",), calls=(tool_call("c2", "calculator", expression="5 * 4"),)),
            ScriptedReply(("It is 20.",)),
        ]
    )

    messages, events = await _run(provider, "calculator")

    assert [(m.role, m.content) for m in messages] == [
        ("user", "hi"),
        ("assistant", ""),
        ("tool", "5"),
        ("assistant", "and"),
        ("tool", "20"),
        ("assistant", "It is 20."),
    ]
    assert messages[2].tool_call_id == "c1"
    assert messages[2].name == "calculator"
    assert [type(e).__name__ for e in events] == [
        "ModelReply",
        "ToolResult",
        "ModelReply",
        "ToolResult",
        "ModelReply",
    ]
    # Only the answer ends the run: the recorder stores its end from there on.
    assert [e.last for e in events if isinstance(e, ModelReply)] == [False, False, True]
    assert [len(r.tools) for r in provider.requests] == [1, 1, 1]
    assert provider.requests[2].messages == tuple(messages[:5])


async def test_calls_of_one_message_run_concurrently_and_answer_in_call_order() -> None:
    provider = ScriptedProvider(
        replies=[
            ScriptedReply(
                (), calls=(tool_call("a", "sleepy"), tool_call("b", "calculator", expression="1+1"))
            ),
        ]
    )

    messages, _ = await _run(provider, "calculator", "sleepy", tool_timeout=0.2)

    assert [(m.tool_call_id, m.content) for m in messages if m.role == "tool"] == [
        ("a", "Error: tool 'sleepy' did not finish within 0.2 s"),
        ("b", "2"),
    ]


async def test_tool_failures_become_error_messages_and_the_run_goes_on() -> None:
    provider = ScriptedProvider(
        replies=[
            ScriptedReply(
                (),
                calls=(tool_call("a", "explode"), tool_call("b", "refuse"), tool_call("c", "nope")),
            ),
            ScriptedReply(("Sorry.",)),
        ]
    )

    messages, events = await _run(provider, "explode", "refuse")

    results = [e for e in events if isinstance(e, ToolResult)]
    assert [r.is_error for r in results] == [True, True, True]
    assert [r.message.content for r in results] == [
        "Error: tool 'explode' failed: RuntimeError: the flux capacitor broke",
        "Error: no such city",
        "Error: no tool named 'nope'; available: explode, refuse",
    ]
    assert messages[-1].content == "Sorry."


async def test_a_registered_tool_not_offered_on_this_run_is_not_run() -> None:
    provider = ScriptedProvider(
        replies=[ScriptedReply((), calls=(tool_call("a", "explode"),)), ScriptedReply(("ok",))]
    )

    messages, _ = await _run(provider, "calculator")

    assert messages[2].content == "Error: no tool named 'explode'; available: calculator"


async def test_the_round_limit_ends_with_one_call_without_tools() -> None:
    provider = ScriptedProvider(
        replies=[
            ScriptedReply((), calls=(tool_call(f"c{i}", "calculator", expression="1"),))
            for i in range(5)
        ]
    )

    messages, events = await _run(provider, "calculator", max_tool_rounds=2)

    assert [len(r.tools) for r in provider.requests] == [1, 1, 0]
    assert [m.role for m in messages] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    # The last reply's calls can never be answered, so they are dropped.
    assert messages[-1].tool_calls == ()
    last_reply = [e for e in events if isinstance(e, ModelReply)][-1]
    assert last_reply.finish_reason == "stop"


async def test_zero_rounds_never_offers_tools() -> None:
    provider = ScriptedProvider(replies=[ScriptedReply(("plain",))])

    messages, _ = await _run(provider, "calculator", max_tool_rounds=0)

    assert provider.requests[0].tools == ()
    assert messages[-1].content == "plain"


async def test_a_model_without_tool_support_is_asked_again_without_tools() -> None:
    provider = ScriptedProvider(
        replies=[
            ScriptedReply(error=ToolsUnsupported("model 'm' does not support tools")),
            ScriptedReply(("plain answer",)),
        ]
    )

    messages, _ = await _run(provider, "calculator")

    assert [len(r.tools) for r in provider.requests] == [1, 0]
    assert messages[-1].content == "plain answer"


async def test_tools_see_the_run_context() -> None:
    provider = ScriptedProvider(
        replies=[ScriptedReply((), calls=(tool_call("a", "whoami"),)), ScriptedReply(("ok",))]
    )

    messages, _ = await _run(
        provider, "whoami", tool_context=ToolContext(owner="alice", thread_id="t1")
    )

    assert messages[2].content == '{"owner":"alice","thread":"t1"}'


async def test_a_call_needing_approval_ends_the_graph_at_review_with_nothing_run() -> None:
    provider = ScriptedProvider(
        replies=[
            ScriptedReply(
                (),
                calls=(
                    tool_call("c1", "calculator", expression="1 + 1"),
                    tool_call("c2", "whoami"),
                ),
            )
        ]
    )

    messages, events = await _run(
        provider, "calculator", "whoami", require_approval=frozenset({"calculator"})
    )

    assert [m.role for m in messages] == ["user", "assistant"]  # no tool message: nothing ran
    [reply] = [e for e in events if isinstance(e, ModelReply)]
    assert not reply.last  # the run ends paused, for a person's review
    [request] = [e for e in events if isinstance(e, ApprovalRequest)]
    assert [c.id for c in request.calls] == ["c1"]  # whoami needs no approval
    assert not any(isinstance(e, ToolResult) for e in events)
    assert len(provider.requests) == 1


async def test_resuming_at_the_tools_node_applies_each_decision_in_order() -> None:
    provider = ScriptedProvider(replies=[ScriptedReply(("ok",))])
    registry = _registry()
    asked = ChatMessage(
        role="assistant",
        content="",
        tool_calls=(
            tool_call("c1", "calculator", expression="1 + 1"),
            tool_call("c2", "whoami"),
            tool_call("c3", "calculator", expression="2 + 2"),
        ),
    )
    state = {
        "messages": [ChatMessage(role="user", content="hi"), asked],
        "decisions": (Decision("edit", args={"expression": "3 * 3"}), Decision("reject")),
    }
    context = RunContext(
        model="m",
        tools=registry.specs(["calculator", "whoami"]),
        require_approval=frozenset({"calculator"}),
    )

    final = await build_graph(provider, registry).ainvoke(state, context=context)

    tools = [m for m in final["messages"] if m.role == "tool"]
    assert [m.tool_call_id for m in tools] == ["c1", "c2", "c3"]
    assert tools[0].content.endswith("\n9")
    assert tools[1].content.startswith("{")
    assert tools[2].content == "Error: the user rejected this tool call"
    assert final["messages"][-1].content == "ok"
    assert final["tool_rounds"] == 1


async def test_tokens_reach_the_run_sink_as_the_model_streams_them() -> None:
    recorded = _Recorded()
    graph = build_graph(ScriptedProvider(replies=[ScriptedReply(("hel", "lo"))]), ToolRegistry())

    final = await graph.ainvoke(
        {"messages": [ChatMessage(role="user", content="hi")]},
        context=RunContext(model="m", events=recorded),
    )

    assert recorded.tokens == ["hel", "lo"]
    assert [type(e).__name__ for e in recorded.events] == ["ModelReply"]
    assert final["messages"][-1].content == "hello"


async def test_a_one_reply_turn_is_one_graph_step() -> None:
    """The input starts the agent node itself: a `StateGraph` runs a `__start__` step first."""
    graph = build_graph(ScriptedProvider(replies=[ScriptedReply(("hi",))]), ToolRegistry())

    final = await graph.ainvoke(
        {"messages": [ChatMessage(role="user", content="hi")]},
        {"recursion_limit": 1},
        context=RunContext(model="m"),
    )

    assert [m.content for m in final["messages"]] == ["hi", "hi"]


class _ChainStarts(BaseCallbackHandler):
    """The names of the callback runs LangGraph starts, called inline."""

    run_inline = True

    def __init__(self) -> None:
        self.names: list[str | None] = []

    def on_chain_start(self, *args: Any, name: str | None = None, **kwargs: Any) -> None:
        self.names.append(name)


async def test_the_nodes_run_without_a_callback_run_of_their_own() -> None:
    """Only the graph's run is a callback run: a node's own (start, end, child managers, and
    an end shielded in a task of its own) was ~0.1 ms of CPU per step (`bench.graph_cost`)."""
    registry = _registry()
    provider = ScriptedProvider(
        replies=[
            ScriptedReply((), calls=(tool_call("c1", "calculator", expression="2 + 3"),)),
            ScriptedReply(("It is 5.",)),
        ]
    )
    starts = _ChainStarts()

    final = await build_graph(provider, registry).ainvoke(
        {"messages": [ChatMessage(role="user", content="hi")]},
        {"callbacks": [starts]},
        context=RunContext(model="m", tools=registry.specs(["calculator"])),
    )

    assert starts.names == ["graphchat-agent"]  # agent, tools and agent ran: three steps
    assert [m.role for m in final["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert final["messages"][-1].content == "It is 5."


class _AtGraphStart(BaseCallbackHandler):
    """Counts the provider's requests when LangGraph starts the run, before any node; called
    inline (no task, no thread), so the count is what the run's own steps did."""

    run_inline = True

    def __init__(self, provider: ScriptedProvider) -> None:
        self.provider = provider
        self.requests_then: list[int] = []

    def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
        self.requests_then.append(len(self.provider.requests))


async def test_the_first_request_leaves_before_langgraph_sets_the_run_up() -> None:
    provider = ScriptedProvider(replies=[ScriptedReply(("hel", "lo"))])
    at_start = _AtGraphStart(provider)

    final = await build_graph(provider, ToolRegistry()).ainvoke(
        {"messages": [ChatMessage(role="user", content="hi")]},
        {"callbacks": [at_start]},
        context=RunContext(model="m"),
    )

    assert at_start.requests_then[0] == 1  # already sent when the graph's run started
    assert len(provider.requests) == 1  # and the node took that one: no second request
    assert final["messages"][-1].content == "hello"


class _SlowGraphStart(BaseCallbackHandler):
    """LangGraph's set-up of a run taking `seconds`: called inline when the graph's run starts."""

    run_inline = True

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
        time.sleep(self.seconds)


async def test_a_reply_asked_before_langgraph_set_up_counts_its_latency_from_then() -> None:
    recorded = _Recorded()
    graph = build_graph(ScriptedProvider(replies=[ScriptedReply(("hi",))]), ToolRegistry())

    await graph.ainvoke(
        {"messages": [ChatMessage(role="user", content="hi")]},
        {"callbacks": [_SlowGraphStart(0.05)]},
        context=RunContext(model="m", events=recorded),
    )

    [reply] = [e for e in recorded.events if isinstance(e, ModelReply)]
    assert reply.latency_ms >= 50  # the set-up ran while the model was asked


async def test_a_run_not_yet_stored_asks_nothing_until_it_is() -> None:
    provider = ScriptedProvider(replies=[ScriptedReply(("ok",))])
    loop = asyncio.get_running_loop()
    early = BeforeStored(stored=loop.create_future(), waiting=loop.create_future())
    run = asyncio.create_task(
        build_graph(provider, ToolRegistry()).ainvoke(
            {"messages": [ChatMessage(role="user", content="hi")]},
            context=RunContext(model="m", before_stored=early),
        )
    )

    await early.waiting  # the graph is waiting for the run to be stored
    for _ in range(5):
        await asyncio.sleep(0)
    assert provider.requests == []

    early.stored.set_result(None)
    final = await run
    assert len(provider.requests) == 1
    assert final["messages"][-1].content == "ok"


@dataclass
class _Watched(ScriptedProvider):
    """Counts the replies whose stream was ended (run to its end or closed); with `unfinished`,
    a reply waits after its tokens until it is closed, as a long one still being generated."""

    ended: int = 0
    unfinished: bool = False

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        try:
            async for chunk in super().stream(request):
                if chunk.done and self.unfinished:
                    await asyncio.Event().wait()
                yield chunk
        finally:
            self.ended += 1


def _asked_ahead(
    provider: ChatProvider, recorded: _Recorded
) -> tuple[BeforeStored, asyncio.Task[dict[str, Any]]]:
    """A run whose graph starts before it is stored, its request asked ahead."""
    loop = asyncio.get_running_loop()
    early = BeforeStored(stored=loop.create_future(), waiting=loop.create_future(), ask_ahead=True)
    run = asyncio.create_task(
        build_graph(provider, ToolRegistry()).ainvoke(
            {"messages": [ChatMessage(role="user", content="hi")]},
            context=RunContext(model="m", events=recorded, before_stored=early),
        )
    )
    return early, run


async def test_a_request_asked_ahead_is_ended_at_once_when_the_run_is_dropped() -> None:
    provider = _Watched(replies=[ScriptedReply(("never", "shown"))], unfinished=True)
    early, run = _asked_ahead(provider, recorded := _Recorded())
    await early.waiting  # asked ahead: the request left, its reply held until stored
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(provider.requests) == 1 and provider.ended == 0

    run.cancel()  # the run was not stored after all
    with pytest.raises(asyncio.CancelledError):
        await run

    assert provider.ended == 1  # closed with the run, not left to the garbage collector
    assert recorded.tokens == []  # nothing of a run that was not stored went out


async def test_a_reply_asked_ahead_is_read_while_the_run_is_stored_and_told_once_it_is() -> None:
    provider = _Watched(replies=[ScriptedReply(("one ", "two ", "three"))])
    early, run = _asked_ahead(provider, recorded := _Recorded())
    for _ in range(100):  # the whole reply is read before the run is stored
        if provider.ended:
            break
        await asyncio.sleep(0)
    assert provider.ended == 1
    assert recorded.tokens == [] and recorded.events == []

    early.stored.set_result(None)
    final = await run

    assert recorded.tokens == ["one ", "two ", "three"]
    assert final["messages"][-1].content == "one two three"
