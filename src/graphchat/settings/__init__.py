"""Runtime configuration: one group of settings per concern, read from `GRAPHCHAT_*` variables.

Each layer is handed only its group (`settings.database` to the store, `settings.llm` to the
model factory…). Variables keep the flat names of earlier releases (`GRAPHCHAT_DB_POOL_SIZE` sets
`database.pool_size`), and `Settings(db_pool_size=5)` accepts the same flat names. Every field's
description is user-facing: `docs/configuration.md` is generated from the groups. This package
imports nothing else of graphchat, so any layer may depend on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from graphchat.settings.base import PREFIX, CsvList, Group, flat_name, variable
from graphchat.settings.database import DEFAULT_DATABASE_URL, DatabaseSettings
from graphchat.settings.limits import LimitsSettings
from graphchat.settings.llm import AgentSettings, LlmSettings
from graphchat.settings.runs import RunsSettings
from graphchat.settings.security import SecuritySettings
from graphchat.settings.server import ObservabilitySettings, ServerSettings
from graphchat.settings.tools import McpSettings, ToolsSettings
from graphchat.settings.ui import UiSettings

# Names of an earlier sample `.env`, read when the GRAPHCHAT_ variable is not set.
FALLBACK_VARIABLES: dict[str, tuple[str, ...]] = {
    "GRAPHCHAT_DATABASE_URL": ("DATABASE_URI", "DATABASE_URL"),
    "GRAPHCHAT_OLLAMA_URL": ("OLLAMA_BASE_URL",),
    "GRAPHCHAT_DEFAULT_MODEL": ("LLM_MODEL",),
}


class Settings(BaseSettings):
    """All of graphchat's settings; an invalid value stops start-up with a message naming it."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    runs: RunsSettings = Field(default_factory=RunsSettings)
    tools: ToolsSettings = Field(default_factory=ToolsSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    ui: UiSettings = Field(default_factory=UiSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments win over the environment, which wins over `.env`.
        return (
            init_settings,
            _FlatVariables(settings_cls, getattr(env_settings, "env_vars", {})),
            _FlatVariables(settings_cls, getattr(dotenv_settings, "env_vars", {})),
        )

    @model_validator(mode="before")
    @classmethod
    def _group_flat_names(cls, data: Any) -> Any:
        """Sort `db_pool_size=5`-style arguments into their groups (they win over the groups')."""
        if not isinstance(data, dict):
            return data
        grouped: dict[str, Any] = {}
        flat: dict[str, tuple[str, str, Any]] = {}
        for key, value in data.items():
            if key in GROUPS:
                grouped[key] = _as_dict(value)
            elif key in _BY_FLAT_NAME:
                group, name = _BY_FLAT_NAME[key]
                flat[key] = (group, name, value)
            else:
                grouped[key] = value  # refused below as an unknown setting
        for group, name, value in flat.values():
            grouped.setdefault(group, {})[name] = value
        return grouped

    @model_validator(mode="after")
    def _check_workers_share_limits(self) -> Settings:
        # Each worker would count a caller's requests alone: the limit would be N times looser.
        security = self.security
        if self.server.workers > 1 and security.rate_limit and not security.redis_url:
            raise ValueError(
                f"GRAPHCHAT_WORKERS={self.server.workers} with GRAPHCHAT_RATE_LIMIT="
                f"{security.rate_limit} needs GRAPHCHAT_REDIS_URL, so the workers share one count "
                "(or set GRAPHCHAT_RATE_LIMIT= to turn the limit off)"
            )
        return self


GROUPS: dict[str, type[Group]] = {
    name: field.annotation
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Group)
}


def group_fields() -> Iterator[tuple[str, str, FieldInfo]]:
    """(group, field name, field) of every setting, in declaration order."""
    for group, cls in GROUPS.items():
        for name, field in cls.model_fields.items():
            yield group, name, field


_BY_FLAT_NAME = {flat_name(name, field): (group, name) for group, name, field in group_fields()}
_BY_FIELD = {(group, name): variable(name, field) for group, name, field in group_fields()}


def _as_dict(value: object) -> object:
    if isinstance(value, BaseModel):
        return {name: getattr(value, name) for name in value.model_fields_set}
    if isinstance(value, dict):
        # Names of the group's fields and their flat aliases alike.
        return {_BY_FLAT_NAME.get(key, (None, key))[1]: item for key, item in value.items()}
    return value


class _FlatVariables(PydanticBaseSettingsSource):
    """Reads each group field from its flat `GRAPHCHAT_*` variable (or an earlier name)."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str | None]):
        super().__init__(settings_cls)
        self._variables = {key.upper(): value for key, value in variables.items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads whole groups

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, Any]] = {}
        for group, name, field in group_fields():
            primary = variable(name, field)
            for candidate in (primary, *FALLBACK_VARIABLES.get(primary, ())):
                value = self._variables.get(candidate)
                if value is not None:
                    found.setdefault(group, {})[name] = value
                    break
        return found


def variable_of(location: tuple[int | str, ...]) -> str:
    """The environment variable behind a validation error's location."""
    if len(location) >= 2 and (str(location[0]), str(location[1])) in _BY_FIELD:
        return _BY_FIELD[(str(location[0]), str(location[1]))]
    if location and str(location[0]) in _BY_FLAT_NAME:
        return _BY_FIELD[_BY_FLAT_NAME[str(location[0])]]
    return "configuration"


def describe_validation_error(exc: Exception) -> list[str]:
    """One line per invalid setting, naming the environment variable."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return [str(exc)]
    return [
        f"{variable_of(tuple(error.get('loc', ())))}: {error.get('msg', 'invalid value')}"
        for error in errors()
    ]


__all__ = [
    "DEFAULT_DATABASE_URL",
    "FALLBACK_VARIABLES",
    "GROUPS",
    "AgentSettings",
    "CsvList",
    "DatabaseSettings",
    "LimitsSettings",
    "LlmSettings",
    "McpSettings",
    "ObservabilitySettings",
    "RunsSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "ToolsSettings",
    "UiSettings",
    "describe_validation_error",
    "group_fields",
]
