"""Running the HTTP API: one process, or several workers sharing the port.

Workers are replicas on one machine: each opens its own services from the same settings, and
what they share goes through the database (runs, events, cancels; SQLite or PostgreSQL alike)
and Redis (rate limits), as between replicas on several machines. Uvicorn's supervisor starts
them, replaces one that dies, and stops them all on SIGTERM. The migrations run once, here,
before any worker starts; each worker then finds the schema current with one read.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog

from graphchat.collector import paused
from graphchat.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = structlog.get_logger(__name__)

# A worker rebuilds its settings from the environment: what the command line overrode must be
# there too.
_COMMAND_LINE_VARIABLES = {"host": "GRAPHCHAT_HOST", "port": "GRAPHCHAT_PORT"}


def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT; raises `GraphchatError` when the database cannot be
    migrated before several workers start."""
    import uvicorn

    from graphchat.http_protocol import TurnBatchedHttpToolsProtocol

    options: dict[str, Any] = {
        "host": settings.server.host,
        "port": settings.server.port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,  # X-Forwarded-For is trusted only from GRAPHCHAT_TRUSTED_PROXIES
        "timeout_graceful_shutdown": settings.server.shutdown_grace_seconds,
        "timeout_keep_alive": settings.server.keep_alive_seconds,
        "http": TurnBatchedHttpToolsProtocol,
    }
    if settings.server.workers == 1:
        with paused():
            from graphchat.app import create_app

            app = create_app(settings, once_loaded=freeze_loaded_heap)
        uvicorn.run(app, **options)
        return
    if settings.database.auto_migrate:
        asyncio.run(_migrate(settings))
    for name, variable in _COMMAND_LINE_VARIABLES.items():
        os.environ[variable] = str(getattr(settings.server, name))
    with _shared_metrics(settings.observability.metrics_enabled):
        uvicorn.run(
            "graphchat.serving:create_app_from_env",
            factory=True,
            workers=settings.server.workers,
            **options,
        )


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory graphchat.serving:create_app_from_env` (a worker)."""
    with paused():
        from graphchat.app import create_app
        from graphchat.logging import configure_logging

        settings = Settings()
        configure_logging(settings.observability)
        return create_app(settings, once_loaded=freeze_loaded_heap)


def freeze_loaded_heap() -> None:
    """Collect what start-up left as garbage, then move every object still alive (the modules,
    the compiled graph, the pools: they live as long as the process) into the collector's
    permanent generation, where a full collection no longer walks them.

    Only in a server process: an app in the tests' process must not freeze their objects.
    Measured: a full collection stopped a served process's event loop for ~60 ms about every
    3,000 turns (bench/analysis.md, round 20)."""
    collected = gc.collect()
    gc.freeze()
    log.info("heap_frozen", objects=gc.get_freeze_count(), garbage_collected=collected)


async def _migrate(settings: Settings) -> None:
    """Migrate as a single process's start-up does: once the database answers."""
    from graphchat.store import Store

    store = await Store.open(settings.database)  # auto_migrate: it upgrades
    await store.close()


@contextmanager
def _shared_metrics(enabled: bool) -> Iterator[None]:
    """A fresh directory the workers' metrics are written to, removed when serving ends."""
    from graphchat.observability.metrics import SHARED_DIRECTORY

    if not enabled:
        yield
        return
    directory = tempfile.mkdtemp(prefix="graphchat-metrics-")
    os.environ[SHARED_DIRECTORY] = directory
    try:
        yield
    finally:
        os.environ.pop(SHARED_DIRECTORY, None)
        shutil.rmtree(directory, ignore_errors=True)
