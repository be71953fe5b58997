"""The process-wide objects built at start-up and torn down at shutdown (no import-time state)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from graphchat.agent import build_graph
from graphchat.agent.tools import ToolRegistry, build_registry
from graphchat.llm.base import ChatProvider
from graphchat.llm.factory import build_router
from graphchat.llm.router import ModelRouter
from graphchat.observability.metrics import Metrics
from graphchat.observability.model_calls import InstrumentedProvider
from graphchat.service.archive import ArchiveService
from graphchat.service.chat import ChatService, TurnLimits
from graphchat.service.event_writer import EventWriter
from graphchat.service.live import LiveRuns
from graphchat.service.monitor import RunMonitor, new_worker_id
from graphchat.service.runs import RunService
from graphchat.service.search import SearchService
from graphchat.service.system import SystemService
from graphchat.service.thread_state import VALUES_MAX_MESSAGES, ThreadStateService
from graphchat.service.threads import ThreadService
from graphchat.service.titles import TitleWriter
from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.replies import ReplyRepository

if TYPE_CHECKING:
    from graphchat.agent.tools.mcp import McpToolSource

SHUTDOWN_GRACE_SECONDS = 10.0


async def _open_mcp(settings: Settings, tools: ToolRegistry) -> McpToolSource | None:
    """Connect the configured MCP servers (imported only when some are: it costs start-up)."""
    if not settings.mcp_servers:
        return None
    from graphchat.agent.tools.mcp import McpToolSource

    source = McpToolSource(
        settings.mcp_servers,
        tools,
        retry_seconds=settings.mcp_retry_seconds,
        list_timeout=settings.mcp_connect_timeout,
    )
    await source.connect_all()
    return source


def _title_writer(settings: Settings, store: Store, model: ChatProvider) -> TitleWriter | None:
    if not settings.titles_from_model:
        return None
    return TitleWriter(
        store,
        model,
        max_tokens=settings.title_max_tokens,
        timeout=settings.title_timeout_seconds,
    )


@dataclass
class Services:
    settings: Settings
    store: Store
    router: ModelRouter
    live_runs: LiveRuns
    chat: ChatService
    threads: ThreadService
    tools: ToolRegistry
    runs: RunService
    thread_state: ThreadStateService
    system: SystemService
    search: SearchService
    archive: ArchiveService
    background: list[asyncio.Task[None]] = field(default_factory=list)
    mcp: McpToolSource | None = None
    titles: TitleWriter | None = None

    @classmethod
    async def open(cls, settings: Settings, metrics: Metrics | None = None) -> Services:
        try:
            tools = build_registry(settings.tools_enabled)
        except ValueError as exc:
            raise ValueError(f"GRAPHCHAT_TOOLS_ENABLED: {exc}") from exc
        mcp = await _open_mcp(settings, tools)
        store = await Store.open(settings)
        router = await build_router(settings, ReplyRepository(store.engine))
        router.start_model_processes()
        live_runs = LiveRuns()
        limits = TurnLimits(
            context_max_messages=settings.context_max_messages,
            context_max_tokens=settings.context_max_tokens,
            system_prompt=settings.system_prompt,
            max_tool_rounds=settings.tool_max_rounds,
            tool_timeout=settings.tool_timeout_seconds,
            require_approval=tuple(settings.tools_require_approval),
        )
        model = InstrumentedProvider(  # times and logs every model call
            router,
            metrics or Metrics(),
            log_content=settings.log_content,
            count_cache=settings.cache == "on",
        )
        worker_id = new_worker_id()
        titles = _title_writer(settings, store, model)
        runs = RunService(store, live_runs)
        events = EventWriter(
            store.run_events,
            live_runs,
            interval_seconds=settings.run_event_flush_ms / 1000,
            max_per_run=settings.run_events_max,
        )
        monitor = RunMonitor(
            store,
            live_runs,
            worker_id,
            heartbeat_seconds=settings.run_heartbeat_seconds,
            stale_seconds=settings.run_stale_seconds,
            retention=timedelta(hours=settings.run_event_retention_hours),
        )
        await monitor.recover()  # runs a crashed process left behind: interrupted, thread freed
        chat = ChatService(
            store,
            build_graph(model, tools),
            live_runs,
            limits,
            router,
            tools=tools,
            runs=runs,
            events=events,
            worker_id=worker_id,
            enqueue_timeout=settings.enqueue_timeout_seconds,
            titles=titles,
        )
        background = [
            asyncio.create_task(events.run_forever(), name="run-event-writer"),
            asyncio.create_task(monitor.run_forever(), name="run-monitor"),
        ]
        if mcp is not None:
            background.append(asyncio.create_task(mcp.run_forever(), name="mcp-retry"))
        return cls(
            settings=settings,
            store=store,
            router=router,
            live_runs=live_runs,
            chat=chat,
            threads=ThreadService(store, live_runs),
            tools=tools,
            runs=runs,
            thread_state=ThreadStateService(store, VALUES_MAX_MESSAGES),
            system=SystemService(settings, store, router, mcp),
            search=SearchService(store),
            archive=ArchiveService(store),
            background=background,
            mcp=mcp,
            titles=titles,
        )

    async def close(self) -> None:
        await self.live_runs.shutdown(SHUTDOWN_GRACE_SECONDS)
        if self.titles is not None:
            await self.titles.close()
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.router.aclose()
        await self.store.close()
