"""The model router: one `ChatProvider` in front of every configured backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from graphchat.errors import GraphchatError, ModelNotFound, ProviderError
from graphchat.llm.base import ChatChunk, ChatProvider, ChatRequest, ModelInfo

_CATALOG_TTL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class BackendStatus:
    name: str
    ok: bool
    error: str | None = None


def same_model(requested: str, served: str) -> bool:
    """Ollama serves `name:latest` for a request naming just `name`."""
    return requested == served or f"{requested}:latest" == served


class ModelRouter:
    """Sends each request to the backend serving its model; lists and checks all backends."""

    name = "router"

    def __init__(self, backends: Sequence[ChatProvider], *, default_model: str = "") -> None:
        if not backends:
            raise ValueError("at least one model backend is required")
        self.backends = list(backends)
        self._default_model = default_model
        self._catalog: list[ModelInfo] = []
        self._catalog_at = float("-inf")
        self._catalog_lock = asyncio.Lock()

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        backend = await self._backend_for(request.model)
        async for chunk in backend.stream(request):
            yield chunk

    async def _backend_for(self, model: str) -> ChatProvider:
        if len(self.backends) == 1:
            return self.backends[0]
        for refresh in (False, True):
            for info in await self._models(refresh=refresh):
                if same_model(model, info.name):
                    return self._backend_named(info.backend)
        raise ModelNotFound(f"model '{model}' is not served by any configured backend")

    def _backend_named(self, name: str) -> ChatProvider:
        return next(backend for backend in self.backends if backend.name == name)

    async def _models(self, *, refresh: bool) -> list[ModelInfo]:
        async with self._catalog_lock:
            fresh = time.monotonic() - self._catalog_at < _CATALOG_TTL_SECONDS
            if refresh or not fresh:
                self._catalog = await self.list_models()
                self._catalog_at = time.monotonic()
            return self._catalog

    async def list_models(self) -> list[ModelInfo]:
        """Every backend's models; a backend that fails to answer contributes none."""
        listings = await asyncio.gather(
            *(backend.list_models() for backend in self.backends), return_exceptions=True
        )
        models: list[ModelInfo] = []
        for listing in listings:
            if isinstance(listing, GraphchatError):
                continue
            if isinstance(listing, BaseException):
                raise listing
            models.extend(listing)
        return models

    async def default_model(self) -> str | None:
        """The configured default, else the first model a backend lists (None if none can)."""
        if self._default_model:
            return self._default_model
        try:
            models = await self._models(refresh=False)
        except ProviderError:
            return None
        if not models:
            self._catalog_at = float("-inf")
            return None
        return models[0].name

    async def check(self) -> None:
        statuses = await self.statuses()
        failed = [status for status in statuses if not status.ok]
        if failed:
            raise ProviderError("; ".join(f"{s.name}: {s.error}" for s in failed))

    async def statuses(self) -> list[BackendStatus]:
        async def probe(backend: ChatProvider) -> BackendStatus:
            try:
                await backend.check()
            except GraphchatError as exc:
                return BackendStatus(backend.name, ok=False, error=exc.message)
            return BackendStatus(backend.name, ok=True)

        return list(await asyncio.gather(*(probe(backend) for backend in self.backends)))

    async def aclose(self) -> None:
        await asyncio.gather(*(backend.aclose() for backend in self.backends))
