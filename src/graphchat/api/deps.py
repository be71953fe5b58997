"""Dependencies shared by the routers: services, the caller's identity, the thread guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from graphchat.api.schemas import ID_PATTERN
from graphchat.errors import Unauthorized
from graphchat.service.branches import BranchService
from graphchat.service.chat import ChatService
from graphchat.service.records import Thread
from graphchat.service.runs import RunService
from graphchat.service.system import SystemService
from graphchat.service.thread_state import ThreadStateService
from graphchat.service.threads import ThreadService
from graphchat.settings import Settings
from graphchat.wiring import Services

LOCAL_OWNER = "local"
# These do no I/O, yet are `async def`: FastAPI runs plain `def` dependencies in a worker
# thread, a hop per dependency per request.


def _services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    return _services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_chat(services: ServicesDep) -> ChatService:
    return services.chat


async def get_threads(services: ServicesDep) -> ThreadService:
    return services.threads


async def get_runs(services: ServicesDep) -> RunService:
    return services.runs


async def get_thread_state(services: ServicesDep) -> ThreadStateService:
    return services.thread_state


async def get_system(services: ServicesDep) -> SystemService:
    return services.system


async def get_branches(services: ServicesDep) -> BranchService:
    return services.branches


async def get_owner(request: Request) -> str:
    """The owner the caller acts for: set by authentication, else the single local owner."""
    owner: str | None = getattr(request.state, "owner", None)
    if owner is not None:
        return owner
    # Fail closed if a route escaped the check.
    if _services_of(request).settings.security.auth == "on":
        raise Unauthorized("an API key is required (Authorization: Bearer … or X-API-Key)")
    return LOCAL_OWNER


SettingsDep = Annotated[Settings, Depends(get_settings)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ThreadsDep = Annotated[ThreadService, Depends(get_threads)]
RunsDep = Annotated[RunService, Depends(get_runs)]
ThreadStateDep = Annotated[ThreadStateService, Depends(get_thread_state)]
SystemDep = Annotated[SystemService, Depends(get_system)]
OwnerDep = Annotated[str, Depends(get_owner)]
BranchesDep = Annotated[BranchService, Depends(get_branches)]
ThreadIdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


async def get_thread(thread_id: ThreadIdPath, owner: OwnerDep, threads: ThreadsDep) -> Thread:
    """The path's thread, if the caller owns it (404 otherwise, exactly as for a missing one)."""
    return await threads.get(owner, thread_id)


ThreadDep = Annotated[Thread, Depends(get_thread)]
