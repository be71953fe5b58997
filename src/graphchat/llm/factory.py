"""Builds the configured backends and the router in front of them."""

from __future__ import annotations

from graphchat.llm.base import ChatProvider
from graphchat.llm.ollama import OllamaProvider
from graphchat.llm.router import ModelRouter
from graphchat.llm.timeouts import Timeouts
from graphchat.settings import Settings


def timeouts_from(settings: Settings) -> Timeouts:
    return Timeouts(
        connect=settings.llm_connect_timeout,
        first_token=settings.llm_first_token_timeout,
        stall=settings.llm_stall_timeout,
        total=settings.llm_total_timeout,
    )


def build_router(settings: Settings) -> ModelRouter:
    backends: list[ChatProvider] = [
        OllamaProvider(settings.ollama_url, timeouts=timeouts_from(settings))
    ]
    return ModelRouter(backends, default_model=settings.default_model)
