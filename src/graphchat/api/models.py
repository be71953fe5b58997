"""`GET /models`: the models the configured backends serve, listed live."""

from __future__ import annotations

from fastapi import APIRouter

from graphchat.api.deps import ServicesDep
from graphchat.api.schemas import ModelList, ModelOut

router = APIRouter(tags=["models"])


@router.get("/models")
async def list_models(services: ServicesDep) -> ModelList:
    models = await services.router.list_models()
    return ModelList(
        models=[
            ModelOut(
                name=model.name,
                backend=model.backend,
                available=model.available,
                capabilities=list(model.capabilities),
                details=model.details,
            )
            for model in models
        ],
        default_model=await services.router.default_model(),
    )
