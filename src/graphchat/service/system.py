"""The server itself: readiness of its dependencies, build information and the models it serves.

Routers ask this service rather than reaching into the model router and the store.
"""

from __future__ import annotations

import asyncio
from dataclasses import KW_ONLY, asdict, dataclass
from typing import TYPE_CHECKING

from graphchat.errors import GraphchatError, NotReady
from graphchat.llm.base import ModelInfo
from graphchat.llm.resilience import CircuitState
from graphchat.llm.router import ModelRouter, same_model
from graphchat.store import Store

if TYPE_CHECKING:
    from graphchat.agent.tools.mcp import McpToolSource

_FLAGS = {"assistants": False, "crons": False, "streaming": True}


@dataclass(frozen=True, slots=True)
class Check:
    """One dependency's readiness."""

    name: str
    ok: bool
    error: str | None = None
    circuit: CircuitState | None = None  # model backends only
    required: bool = True  # False: reported, but a failure leaves the server ready (MCP)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    name: str
    version: str
    build: str
    database: str
    backends: list[str]
    default_model: str | None
    flags: dict[str, bool]


@dataclass(frozen=True, slots=True)
class Backend:
    """A model backend as `GET /models` shows it."""

    name: str
    reachable: bool
    circuit: CircuitState
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class Models:
    models: list[ModelInfo]
    default_model: str | None
    backends: list[Backend]


@dataclass(eq=False, slots=True)
class SystemService:
    store: Store
    router: ModelRouter
    mcp: McpToolSource | None = None
    _: KW_ONLY
    version: str
    build: str
    database: str  # its kind: `sqlite` or `postgresql`

    async def _database(self) -> Check:
        try:
            await self.store.ping()
        except GraphchatError as exc:
            return Check(name="database", ok=False, error=exc.message)
        return Check(name="database", ok=True)

    async def checks(self) -> list[Check]:
        """Every dependency's state: the database, each model backend, each MCP server."""
        database, backends = await asyncio.gather(self._database(), self.router.statuses())
        checks = [database] + [
            Check(
                name=f"llm:{status.name}", ok=status.ok, error=status.error, circuit=status.circuit
            )
            for status in backends
        ]
        if self.mcp is not None:  # optional tool servers: reported, never a reason to be unready
            checks += [
                Check(name=f"mcp:{server.name}", ok=server.ok, error=server.error, required=False)
                for server in self.mcp.servers.values()
            ]
        return checks

    async def ready(self) -> list[Check]:
        """The checks when every required one passes; `NotReady` naming the failing ones else."""
        checks = await self.checks()
        failed = [check.name for check in checks if check.required and not check.ok]
        if failed:
            raise NotReady(
                f"not ready: {', '.join(failed)} failing",
                details=[asdict(check) for check in checks],
            )
        return checks

    async def info(self) -> ServerInfo:
        """Version, build, storage backend and model backends of this server."""
        return ServerInfo(
            name="graphchat",
            version=self.version,
            build=self.build,
            database=self.database,
            backends=[backend.name for backend in self.router.backends],
            default_model=await self.router.default_model(),
            flags=dict(_FLAGS),
        )

    async def models(self) -> Models:
        """The models the backends serve, listed live, and each backend's state."""
        catalog = await self.router.catalog()
        return Models(
            models=catalog.models,
            default_model=await self.router.default_model(),
            backends=[
                Backend(
                    name=circuit.name,
                    reachable=circuit.name not in catalog.unreachable,
                    circuit=circuit.state,
                    retry_after=circuit.retry_after,
                )
                for circuit in self.router.circuits()
            ],
        )

    async def model_names(self) -> list[str]:
        """Every served model name once, in catalog order."""
        catalog = await self.router.catalog()
        return list(dict.fromkeys(model.name for model in catalog.models))

    async def find_model(self, requested: str) -> str | None:
        """The served name `requested` refers to (`name` matches `name:latest`), if any."""
        for name in await self.model_names():
            if same_model(requested, name):
                return name
        return None
