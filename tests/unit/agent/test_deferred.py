"""The agent graph built off the start-up path: once, for every waiter, and never cancelled."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from graphchat.agent import DeferredGraph, RunContext
from graphchat.agent.deferred import ShortGILSwitches
from graphchat.agent.tools import ToolRegistry
from graphchat.llm.fake import ScriptedProvider, ScriptedReply

HEAVY = ("langgraph", "langchain_core", "langsmith")


def test_importing_the_app_and_the_cli_leaves_langgraph_unloaded() -> None:
    code = (
        "import sys, graphchat.app, graphchat.cli.main, graphchat.wiring\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


async def test_waiters_share_one_build_and_the_graph_answers() -> None:
    provider = ScriptedProvider().script(ScriptedReply(("hel", "lo")))
    graph = DeferredGraph(provider, ToolRegistry())
    first, second = await asyncio.gather(graph.ready(), graph.ready())
    assert first is second
    assert await graph.ready() is first
    final = await first.ainvoke(
        {"messages": [], "tool_rounds": 0, "decisions": None}, context=RunContext(model="m")
    )
    assert len(provider.requests) == 1
    assert final["messages"][-1].content == "hello", "the built graph answers the scripted reply"


async def test_a_cancelled_waiter_does_not_cancel_the_build() -> None:
    graph = DeferredGraph(ScriptedProvider(), ToolRegistry())
    waiter = asyncio.ensure_future(graph.ready())
    await asyncio.sleep(0)
    waiter.cancel()
    built = await graph.ready()
    assert built is await graph.ready()


def test_switches_are_short_while_any_build_runs_and_as_before_after() -> None:
    before = sys.getswitchinterval()
    switches = ShortGILSwitches(before / 10)

    with switches.held():
        assert sys.getswitchinterval() == before / 10
        with switches.held():
            assert sys.getswitchinterval() == before / 10
        assert sys.getswitchinterval() == before / 10, "one build still runs"

    assert sys.getswitchinterval() == before


def test_switches_are_restored_when_a_build_fails() -> None:
    before = sys.getswitchinterval()
    switches = ShortGILSwitches(before / 10)

    with pytest.raises(ImportError), switches.held():
        raise ImportError("a module of the graph failed to load")

    assert sys.getswitchinterval() == before
