"""The composition root: every process-wide object, built from its settings group at start-up.

One small function per concern; `open_services` puts them together and `Services.close` takes
them apart in reverse. Nothing here runs at import.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from graphchat import __version__
from graphchat.agent import DeferredGraph
from graphchat.agent.tools import ToolRegistry, build_registry
from graphchat.llm.base import ChatProvider
from graphchat.llm.factory import build_router
from graphchat.llm.router import ModelRouter
from graphchat.observability.metrics import Metrics
from graphchat.observability.model_calls import InstrumentedProvider
from graphchat.service.archive import ArchiveService
from graphchat.service.branches import BranchService
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
from graphchat.settings import AgentSettings, McpSettings, RunsSettings, Settings, ToolsSettings
from graphchat.store import Store
from graphchat.store.replies import ReplyRepository

if TYPE_CHECKING:
    from graphchat.agent.tools.mcp import McpToolSource


@dataclass
class Services:
    """What the routes use, reached only through `api.deps`."""

    settings: Settings
    metrics: Metrics
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
    branches: BranchService
    background: list[asyncio.Task[None]] = field(default_factory=list)
    mcp: McpToolSource | None = None
    titles: TitleWriter | None = None

    async def close(self) -> None:
        await self.live_runs.shutdown(self.settings.server.shutdown_grace_seconds)
        if self.titles is not None:
            await self.titles.close()
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.router.aclose()
        await self.store.close()


def _tool_registry(tools: ToolsSettings) -> ToolRegistry:
    try:
        return build_registry(tools.enabled)
    except ValueError as exc:
        raise ValueError(f"GRAPHCHAT_TOOLS_ENABLED: {exc}") from exc


async def _open_mcp(mcp: McpSettings, tools: ToolRegistry) -> McpToolSource | None:
    """Connect the configured MCP servers (imported only when some are: it costs start-up)."""
    if not mcp.servers:
        return None
    from graphchat.agent.tools.mcp import McpToolSource

    source = McpToolSource(
        mcp.servers, tools, retry_seconds=mcp.retry_seconds, list_timeout=mcp.connect_timeout
    )
    await source.connect_all()
    return source


def _event_writer(runs: RunsSettings, store: Store, live_runs: LiveRuns) -> EventWriter:
    return EventWriter(
        store.run_events,
        live_runs,
        interval_seconds=runs.event_flush_ms / 1000,
        max_per_run=runs.events_max,
    )


def _monitor(runs: RunsSettings, store: Store, live_runs: LiveRuns, worker_id: str) -> RunMonitor:
    return RunMonitor(
        store,
        live_runs,
        worker_id,
        heartbeat_seconds=runs.heartbeat_seconds,
        stale_seconds=runs.stale_seconds,
        retention=timedelta(hours=runs.event_retention_hours),
    )


def _title_writer(agent: AgentSettings, store: Store, model: ChatProvider) -> TitleWriter | None:
    if not agent.titles_from_model:
        return None
    return TitleWriter(
        store, model, max_tokens=agent.title_max_tokens, timeout=agent.title_timeout_seconds
    )


def _turn_limits(settings: Settings) -> TurnLimits:
    return TurnLimits(
        context_max_messages=settings.agent.context_max_messages,
        context_max_tokens=settings.agent.context_max_tokens,
        system_prompt=settings.agent.system_prompt,
        max_tool_rounds=settings.tools.max_rounds,
        tool_timeout=settings.tools.timeout_seconds,
        require_approval=tuple(settings.tools.require_approval),
    )


def _instrumented(
    router: ModelRouter, settings: Settings, metrics: Metrics
) -> InstrumentedProvider:
    """The router as the graph sees it: every model call timed and logged."""
    return InstrumentedProvider(
        router,
        metrics,
        log_content=settings.observability.log_content,
        count_cache=settings.llm.cache == "on",
    )


def _system(
    settings: Settings, store: Store, router: ModelRouter, mcp: McpToolSource | None
) -> SystemService:
    return SystemService(
        store,
        router,
        mcp,
        version=__version__,
        build=settings.server.build or "dev",
        database="sqlite" if settings.database.is_sqlite else "postgresql",
    )


def _start_background(
    events: EventWriter, monitor: RunMonitor, search: SearchService, mcp: McpToolSource | None
) -> list[asyncio.Task[None]]:
    background = [
        asyncio.create_task(events.run_forever(), name="run-event-writer"),
        asyncio.create_task(monitor.run_forever(), name="run-monitor"),
    ]
    if search.indexes_later:
        background.append(asyncio.create_task(search.index_forever(), name="search-indexer"))
    if mcp is not None:
        background.append(asyncio.create_task(mcp.run_forever(), name="mcp-retry"))
    return background


async def open_services(settings: Settings, metrics: Metrics) -> Services:
    """Open the store, the model backends and the tools, and start the background tasks."""
    tools = _tool_registry(settings.tools)
    mcp = await _open_mcp(settings.mcp, tools)
    store = await Store.open(settings.database)
    router = await build_router(settings.llm, ReplyRepository(store.engine))
    router.start_model_processes()
    live_runs = LiveRuns()
    worker_id = new_worker_id()
    runs = RunService(store, live_runs)
    events = _event_writer(settings.runs, store, live_runs)
    monitor = _monitor(settings.runs, store, live_runs, worker_id)
    await monitor.recover()  # runs a crashed process left behind: interrupted, thread freed
    model = _instrumented(router, settings, metrics)
    titles = _title_writer(settings.agent, store, model)
    graph = DeferredGraph(model, tools)
    chat = ChatService(
        store,
        graph,
        live_runs,
        _turn_limits(settings),
        router,
        tools,
        runs=runs,
        events=events,
        worker_id=worker_id,
        enqueue_timeout=settings.runs.enqueue_timeout_seconds,
        titles=titles,
    )
    search = SearchService(store)
    graph.start()  # last: the import it runs in a thread competes with start-up for the GIL
    return Services(
        settings=settings,
        metrics=metrics,
        store=store,
        router=router,
        live_runs=live_runs,
        chat=chat,
        threads=ThreadService(store, live_runs),
        tools=tools,
        runs=runs,
        thread_state=ThreadStateService(store, VALUES_MAX_MESSAGES),
        system=_system(settings, store, router, mcp),
        search=search,
        archive=ArchiveService(store),
        branches=BranchService(store),
        background=_start_background(events, monitor, search, mcp),
        mcp=mcp,
        titles=titles,
    )
