"""The process-wide objects built at start-up and torn down at shutdown (no import-time state)."""

from __future__ import annotations

from dataclasses import dataclass

from graphchat.agent import build_graph
from graphchat.agent.tools import ToolRegistry, build_registry
from graphchat.llm.factory import build_router
from graphchat.llm.router import ModelRouter
from graphchat.service.chat import ChatService, TurnLimits
from graphchat.service.live import LiveRuns
from graphchat.service.threads import ThreadService
from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.replies import ReplyRepository

SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass
class Services:
    settings: Settings
    store: Store
    router: ModelRouter
    live_runs: LiveRuns
    chat: ChatService
    threads: ThreadService
    tools: ToolRegistry

    @classmethod
    async def open(cls, settings: Settings) -> Services:
        try:
            tools = build_registry(settings.tools_enabled)
        except ValueError as exc:
            raise ValueError(f"GRAPHCHAT_TOOLS_ENABLED: {exc}") from exc
        store = await Store.open(settings)
        router = await build_router(settings, ReplyRepository(store.engine))
        live_runs = LiveRuns()
        limits = TurnLimits(
            context_max_messages=settings.context_max_messages,
            context_max_tokens=settings.context_max_tokens,
            system_prompt=settings.system_prompt,
            max_tool_rounds=settings.tool_max_rounds,
            tool_timeout=settings.tool_timeout_seconds,
        )
        chat = ChatService(
            store, build_graph(router, tools), live_runs, limits, router, tools=tools
        )
        return cls(
            settings=settings,
            store=store,
            router=router,
            live_runs=live_runs,
            chat=chat,
            threads=ThreadService(store, live_runs),
            tools=tools,
        )

    async def close(self) -> None:
        await self.live_runs.shutdown(SHUTDOWN_GRACE_SECONDS)
        await self.router.aclose()
        await self.store.close()
