"""The model router: one `ChatProvider` in front of every configured backend.

A request goes to a backend that serves its model (discovered live from each backend's list,
cached briefly). When that backend is unavailable before the first chunk, the router tries the
next backend serving the same model, then the configured fallback models, in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from graphchat.errors import (
    GraphchatError,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from graphchat.llm.base import ChatChunk, ChatProvider, ChatRequest, ModelInfo
from graphchat.llm.cache import ReplyCache
from graphchat.llm.embedded import EmbeddedProvider
from graphchat.llm.embedded_process import ProcessState
from graphchat.llm.resilience import CircuitSnapshot, CircuitState, ResilientProvider

_CATALOG_TTL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class BackendStatus:
    name: str
    ok: bool
    error: str | None = None
    circuit: CircuitState = "closed"  # backends without a breaker count as closed


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every backend's models; a backend that failed to list shows its last-known models."""

    models: list[ModelInfo] = field(default_factory=list)
    unreachable: tuple[str, ...] = ()


def same_model(requested: str, served: str) -> bool:
    """Ollama serves `name:latest` for a request naming just `name`."""
    return requested == served or f"{requested}:latest" == served


class ModelRouter:
    """Sends each request to a backend serving its model; lists and checks all backends."""

    name = "router"

    def __init__(
        self,
        backends: Sequence[ChatProvider],
        *,
        default_model: str = "",
        fallbacks: Sequence[str] = (),
        cache: ReplyCache | None = None,
    ) -> None:
        if not backends:
            raise ValueError("at least one model backend is required")
        self.backends = list(backends)
        self._default_model = default_model
        self._fallbacks = tuple(fallbacks)
        self._cache = cache
        self._known: dict[str, list[ModelInfo]] = {}
        self._catalog = Catalog()
        self._catalog_at = float("-inf")
        self._catalog_lock = asyncio.Lock()

    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        # The route's (or the cache's) own generator, not one more that passes each chunk on.
        if self._cache is None:
            return self._route(request)
        return self._cache.through(request, self._route)

    async def _route(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        first_error: GraphchatError | None = None
        failed: set[str] = set()
        # Closed here once a backend answers: an async generator left suspended is closed by
        # the event loop's finalizer, a wake-up and a task of its own after every model call.
        async with aclosing(self._candidates(request.model)) as candidates:
            async for model, backend in candidates:
                if backend.name in failed:
                    continue
                fallback = model != request.model
                yielded = False
                try:
                    asked = replace(request, model=model) if fallback else request
                    async for chunk in backend.stream(asked):
                        yielded = True
                        yield replace(chunk, model=model) if fallback else chunk
                    return
                except (ProviderUnavailable, ProviderTimeout) as exc:
                    if yielded:
                        raise
                    first_error = first_error or exc
                    failed.add(backend.name)
                except ModelNotFound as exc:
                    if not fallback:
                        raise
                    first_error = first_error or exc
        raise first_error or ProviderUnavailable("no model backend could take the request")

    async def _candidates(self, model: str) -> AsyncGenerator[tuple[str, ChatProvider], None]:
        """(model, backend) pairs to try: the model's backends, then each fallback's."""
        yield model, await self._backend_for(model)
        for alternative in (model, *self._fallbacks):
            for backend in await self._backends_serving(alternative):
                yield alternative, backend

    async def _backend_for(self, model: str) -> ChatProvider:
        """The first backend to try for `model` (preferring one whose breaker is not open)."""
        if len(self.backends) == 1:
            return self.backends[0]
        for refresh in (False, True):
            serving = await self._backends_serving(model, refresh=refresh)
            if serving:
                return serving[0]
        unreachable = self._catalog.unreachable
        if unreachable and self._fallbacks:
            return self._backend_named(unreachable[0])  # fails fast; the fallbacks follow
        if unreachable:
            raise ProviderUnavailable(
                f"model '{model}' was not found; backends {', '.join(unreachable)} are unreachable"
            )
        raise ModelNotFound(f"model '{model}' is not served by any configured backend")

    async def _backends_serving(self, model: str, *, refresh: bool = False) -> list[ChatProvider]:
        if len(self.backends) == 1:
            return list(self.backends)
        catalog = await self._models(refresh=refresh)
        names = [info.backend for info in catalog.models if same_model(model, info.name)]
        serving = [self._backend_named(name) for name in dict.fromkeys(names)]
        return sorted(serving, key=lambda backend: _circuit_of(backend).state == "open")

    def _backend_named(self, name: str) -> ChatProvider:
        return next(backend for backend in self.backends if backend.name == name)

    async def _models(self, *, refresh: bool) -> Catalog:
        async with self._catalog_lock:
            fresh = time.monotonic() - self._catalog_at < _CATALOG_TTL_SECONDS
            if refresh or not fresh:
                self._catalog = await self.catalog()
                self._catalog_at = time.monotonic()
            return self._catalog

    async def catalog(self) -> Catalog:
        """Ask every backend for its models now."""
        listings = await asyncio.gather(
            *(backend.list_models() for backend in self.backends), return_exceptions=True
        )
        models: list[ModelInfo] = []
        unreachable: list[str] = []
        for backend, listing in zip(self.backends, listings, strict=True):
            if isinstance(listing, GraphchatError):
                unreachable.append(backend.name)
                stale = self._known.get(backend.name, [])
                models.extend(replace(info, available=False) for info in stale)
                continue
            if isinstance(listing, BaseException):
                raise listing
            self._known[backend.name] = listing
            models.extend(listing)
        return Catalog(models, tuple(unreachable))

    async def list_models(self) -> list[ModelInfo]:
        """Every backend's models; a backend that fails to answer shows its last-known ones."""
        return (await self.catalog()).models

    async def default_model(self) -> str | None:
        """The configured default, else the first available model listed, else the first listed."""
        if self._default_model:
            return self._default_model
        try:
            catalog = await self._models(refresh=False)
        except ProviderError:
            return None
        available = [info.name for info in catalog.models if info.available]
        if available:
            return available[0]
        self._catalog_at = float("-inf")
        # A listed model that is down (an embedded model that failed to load) is still the one
        # to ask: its backend then says why it cannot answer.
        return catalog.models[0].name if catalog.models else None

    async def check(self) -> None:
        statuses = await self.statuses()
        failed = [status for status in statuses if not status.ok]
        if failed:
            raise ProviderError("; ".join(f"{s.name}: {s.error}" for s in failed))

    async def statuses(self) -> list[BackendStatus]:
        async def probe(backend: ChatProvider) -> BackendStatus:
            circuit = _circuit_of(backend)
            error: str | None = None
            try:
                await backend.check()
            except GraphchatError as exc:
                error = exc.message
            return BackendStatus(backend.name, error is None, error, circuit.state)

        return list(await asyncio.gather(*(probe(backend) for backend in self.backends)))

    def circuits(self) -> list[CircuitSnapshot]:
        """Each backend's circuit breaker, without calling it."""
        return [_circuit_of(backend) for backend in self.backends]

    def start_model_processes(self) -> None:
        """Start loading local models in the background (the service does not wait for them)."""
        for backend in self._embedded():
            backend.start_soon()

    def model_processes(self) -> list[tuple[str, ProcessState]]:
        """Each local model process's state, by backend name, without calling it."""
        return [(backend.name, backend.process.state) for backend in self._embedded()]

    def _embedded(self) -> list[EmbeddedProvider]:
        inner = [b.inner if isinstance(b, ResilientProvider) else b for b in self.backends]
        return [backend for backend in inner if isinstance(backend, EmbeddedProvider)]

    async def aclose(self) -> None:
        await asyncio.gather(*(backend.aclose() for backend in self.backends))


def _circuit_of(backend: ChatProvider) -> CircuitSnapshot:
    if not isinstance(backend, ResilientProvider):
        return CircuitSnapshot(backend.name, "closed", 0)
    return backend.breaker.snapshot()
