"""Liveness, readiness and build information."""

from __future__ import annotations

from fastapi import APIRouter

from graphchat.api.deps import SystemDep
from graphchat.api.schemas import CheckOut, HealthOut, InfoOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> HealthOut:
    """Liveness: the process answers. Checks no dependency."""
    return HealthOut(status="ok")


@router.get("/ready", responses={503: {"description": "A dependency failed; `details` says which"}})
async def ready(system: SystemDep) -> ReadyOut:
    """Readiness: the database and every model backend answer."""
    checks = await system.ready()
    return ReadyOut(status="ready", checks=[CheckOut.model_validate(check) for check in checks])


@router.get("/info")
async def info(system: SystemDep) -> InfoOut:
    """Version, build, storage backend and model backends of this server."""
    return InfoOut.model_validate(await system.info())
