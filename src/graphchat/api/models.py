"""`GET /models`: the models the backends serve, listed live, and each backend's state."""

from __future__ import annotations

from fastapi import APIRouter

from graphchat.api.deps import SystemDep
from graphchat.api.schemas import ModelList

router = APIRouter(tags=["models"])


@router.get("/models")
async def list_models(system: SystemDep) -> ModelList:
    return ModelList.model_validate(await system.models())
