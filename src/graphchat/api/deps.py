"""Dependencies shared by the routers: services, the caller's identity, the thread guard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request

from graphchat.api.media import refuse_non_json
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
_T = TypeVar("_T")
# FastAPI solves each dependency per request with bookkeeping of its own (with four per route
# it was a third of `/chat`'s request path): so a member below takes the request, not
# `ServicesDep`, and a route that needs several takes `CallerDep`. They do no I/O, yet are
# `async def`: FastAPI runs plain `def` dependencies in a worker thread, a hop per request.


def _services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    return _services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


def _member(pick: Callable[[Services], _T]) -> Callable[[Request], Awaitable[_T]]:
    """A dependency handing a route one member of the `Services` bundle."""

    async def member(request: Request) -> _T:
        return pick(_services_of(request))

    return member


def _owner_of(request: Request, services: Services) -> str:
    # What authentication put in the request's state (`request.state`, without its object).
    owner: str | None = request.scope.get("state", {}).get("owner")
    if owner is not None:
        return owner
    # Fail closed if a route escaped the check.
    if services.settings.security.auth == "on":
        raise Unauthorized("an API key is required (Authorization: Bearer … or X-API-Key)")
    return LOCAL_OWNER


async def get_owner(request: Request) -> str:
    """The owner the caller acts for: set by authentication, else the single local owner."""
    return _owner_of(request, _services_of(request))


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller's owner and the services: one dependency for a route that needs several."""

    owner: str
    services: Services


async def get_caller(request: Request) -> Caller:
    services = _services_of(request)
    return Caller(_owner_of(request, services), services)


async def get_json_caller(request: Request) -> Caller:
    """`get_caller` for a route that takes a JSON body: a body of another type is refused first
    (415), as the `require_json` router dependency does, in the same dependency."""
    refuse_non_json(request)
    return await get_caller(request)


CallerDep = Annotated[Caller, Depends(get_caller)]
JsonCallerDep = Annotated[Caller, Depends(get_json_caller)]
SettingsDep = Annotated[Settings, Depends(_member(lambda services: services.settings))]
ChatDep = Annotated[ChatService, Depends(_member(lambda services: services.chat))]
ThreadsDep = Annotated[ThreadService, Depends(_member(lambda services: services.threads))]
RunsDep = Annotated[RunService, Depends(_member(lambda services: services.runs))]
ThreadStateDep = Annotated[
    ThreadStateService, Depends(_member(lambda services: services.thread_state))
]
SystemDep = Annotated[SystemService, Depends(_member(lambda services: services.system))]
OwnerDep = Annotated[str, Depends(get_owner)]
BranchesDep = Annotated[BranchService, Depends(_member(lambda services: services.branches))]
ThreadIdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


async def get_thread(thread_id: ThreadIdPath, owner: OwnerDep, threads: ThreadsDep) -> Thread:
    """The path's thread, if the caller owns it (404 otherwise, exactly as for a missing one)."""
    return await threads.get(owner, thread_id)


ThreadDep = Annotated[Thread, Depends(get_thread)]
