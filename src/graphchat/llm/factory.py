"""Builds the configured backends, each behind retries and a breaker, and the router in front.

Which backends: every Ollama URL and OpenAI-compatible URL configured, plus the embedded model
when `GRAPHCHAT_EMBEDDED=on`, or when `auto` and nothing else is configured — "configured" meaning
set explicitly (environment, `.env` or arguments), or an Ollama answering at the default URL.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from graphchat.llm.base import ChatProvider
from graphchat.llm.cache import CachePolicy, ReplyCache, ReplyStore
from graphchat.llm.embedded import (
    DEFAULT_MODEL_NAME,
    EmbeddedConfig,
    EmbeddedProvider,
    packaged_model_path,
)
from graphchat.llm.ollama import OllamaProvider
from graphchat.llm.openai_compat import OpenAICompatProvider
from graphchat.llm.resilience import CircuitBreaker, ResilientProvider, RetryPolicy
from graphchat.llm.router import ModelRouter
from graphchat.llm.timeouts import Timeouts
from graphchat.settings import LlmSettings

_PROBE_SECONDS = 0.5


def timeouts_from(settings: LlmSettings) -> Timeouts:
    return Timeouts(
        connect=settings.connect_timeout,
        first_token=settings.first_token_timeout,
        stall=settings.stall_timeout,
        total=settings.total_timeout,
    )


def backend_names(kind: str, count: int) -> list[str]:
    """`ollama`, `ollama-2`, `ollama-3`, …"""
    return [kind if index == 1 else f"{kind}-{index}" for index in range(1, count + 1)]


async def ollama_answers(url: str) -> bool:
    """A quick start-up probe: is an Ollama server running at `url`?"""
    try:
        async with httpx.AsyncClient(timeout=_PROBE_SECONDS) as client:
            response = await client.get(f"{url}/api/version")
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def configured_ollama_urls(settings: LlmSettings) -> list[str]:
    if "ollama_url" in settings.model_fields_set:
        return settings.ollama_urls()
    default = settings.ollama_url
    return [default] if await ollama_answers(default) else []


def embedded_config(settings: LlmSettings) -> EmbeddedConfig:
    path = settings.embedded_model_path or packaged_model_path()
    name = settings.embedded_model_name
    if not name:
        custom = settings.embedded_model_path
        name = custom.stem.lower() if isinstance(custom, Path) else DEFAULT_MODEL_NAME
    return EmbeddedConfig(
        model_path=path,
        model_name=name,
        n_ctx=settings.embedded_n_ctx,
        n_threads=settings.embedded_threads,
    )


async def build_backends(settings: LlmSettings) -> list[ChatProvider]:
    """The raw backends, in the order the router prefers them."""
    timeouts = timeouts_from(settings)
    ollama_urls = await configured_ollama_urls(settings)
    backends: list[ChatProvider] = [
        OllamaProvider(url, timeouts=timeouts, name=name)
        for url, name in zip(ollama_urls, backend_names("ollama", len(ollama_urls)), strict=True)
    ]
    openai_urls = settings.openai_base_urls
    keys = settings.openai_api_keys
    for index, (url, name) in enumerate(
        zip(openai_urls, backend_names("openai", len(openai_urls)), strict=True)
    ):
        key = keys[index] if index < len(keys) else (keys[0] if len(keys) == 1 else None)
        backends.append(OpenAICompatProvider(url, timeouts=timeouts, api_key=key, name=name))
    if settings.embedded == "on" or (settings.embedded == "auto" and not backends):
        backends.append(EmbeddedProvider(embedded_config(settings)))
    return backends


def resilient(backend: ChatProvider, settings: LlmSettings) -> ResilientProvider:
    policy = RetryPolicy(
        retries=settings.retries,
        backoff_base=settings.backoff_base,
        backoff_max=settings.backoff_max,
        budget=settings.total_timeout,
    )
    breaker = CircuitBreaker(
        backend.name, threshold=settings.breaker_threshold, cooldown=settings.breaker_cooldown
    )
    return ResilientProvider(backend, policy=policy, breaker=breaker)


async def build_router(settings: LlmSettings, replies: ReplyStore | None = None) -> ModelRouter:
    """The router over every configured backend; `replies` stores the response cache."""
    backends = [resilient(backend, settings) for backend in await build_backends(settings)]
    if not backends:
        raise ValueError(
            "no model backend: set GRAPHCHAT_OLLAMA_URL or GRAPHCHAT_OPENAI_BASE_URLS, "
            "or GRAPHCHAT_EMBEDDED=auto|on"
        )
    cache = None
    if settings.cache == "on" and replies is not None:
        policy = CachePolicy(
            ttl_seconds=settings.cache_ttl_seconds,
            max_entries=settings.cache_max_entries,
            nondeterministic=settings.cache_nondeterministic,
        )
        cache = ReplyCache(replies, policy)
    return ModelRouter(
        backends,
        default_model=settings.default_model,
        fallbacks=settings.model_fallbacks,
        cache=cache,
    )
