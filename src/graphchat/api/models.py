"""`GET /models`: the models the backends serve, listed live, and each backend's state."""

from __future__ import annotations

from fastapi import APIRouter

from graphchat.api.deps import ServicesDep
from graphchat.api.schemas import BackendOut, ModelList, ModelOut

router = APIRouter(tags=["models"])


@router.get("/models")
async def list_models(services: ServicesDep) -> ModelList:
    catalog = await services.router.catalog()
    return ModelList(
        models=[
            ModelOut(
                name=model.name,
                backend=model.backend,
                available=model.available,
                capabilities=list(model.capabilities),
                details=model.details,
            )
            for model in catalog.models
        ],
        default_model=await services.router.default_model(),
        backends=[
            BackendOut(
                name=circuit.name,
                reachable=circuit.name not in catalog.unreachable,
                circuit=circuit.state,
                retry_after=circuit.retry_after,
            )
            for circuit in services.router.circuits()
        ],
    )
