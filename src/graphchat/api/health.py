"""Liveness, readiness and build information."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from graphchat import __version__
from graphchat.api.deps import ServicesDep
from graphchat.api.schemas import CheckOut, HealthOut, InfoOut, ReadyOut
from graphchat.errors import GraphchatError, NotReady

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> HealthOut:
    """Liveness: the process answers. Checks no dependency."""
    return HealthOut(status="ok")


async def _database_check(services: ServicesDep) -> CheckOut:
    try:
        await services.store.ping()
    except GraphchatError as exc:
        return CheckOut(name="database", ok=False, error=exc.message)
    return CheckOut(name="database", ok=True)


@router.get("/ready", responses={503: {"description": "A dependency failed; `details` says which"}})
async def ready(services: ServicesDep) -> ReadyOut:
    """Readiness: the database and every model backend answer."""
    database, backends = await asyncio.gather(_database_check(services), services.router.statuses())
    checks = [database] + [
        CheckOut(
            name=f"llm:{status.name}", ok=status.ok, error=status.error, circuit=status.circuit
        )
        for status in backends
    ]
    if services.mcp is not None:  # optional tool servers: reported, never a reason to be unready
        checks += [
            CheckOut(name=f"mcp:{server.name}", ok=server.ok, error=server.error, required=False)
            for server in services.mcp.servers.values()
        ]
    if all(check.ok for check in checks if check.required):
        return ReadyOut(status="ready", checks=checks)
    failed = ", ".join(check.name for check in checks if check.required and not check.ok)
    raise NotReady(
        f"not ready: {failed} failing",
        details=[check.model_dump() for check in checks],
    )


@router.get("/info")
async def info(services: ServicesDep) -> InfoOut:
    """Version, build, storage backend and model backends of this server."""
    return InfoOut(
        name="graphchat",
        version=__version__,
        build=services.settings.server.build or "dev",
        database="sqlite" if services.settings.database.is_sqlite else "postgresql",
        backends=[backend.name for backend in services.router.backends],
        default_model=await services.router.default_model(),
        flags={"assistants": False, "crons": False, "streaming": True},
    )
