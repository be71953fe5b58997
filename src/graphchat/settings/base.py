"""What every settings group shares: its model config, comma-separated lists, URL checks.

A field's environment variable is `GRAPHCHAT_` + its alias (or its name), upper-cased: the alias
keeps the flat names of earlier releases (`GRAPHCHAT_DB_POOL_SIZE` is `database.pool_size`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.fields import FieldInfo

PREFIX = "GRAPHCHAT_"


def split_csv(value: object) -> object:
    """`a, b,,c` → `["a", "b", "c"]`; lists pass through."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], BeforeValidator(split_csv)]
# A number of things (connections, messages, entries): at least one. Durations and other
# bounded numbers use pydantic's `PositiveFloat`, `NonNegativeInt`… the same way.
Count = Annotated[int, Field(ge=1)]


def http_url(url: str) -> str:
    """An http(s) URL with a host (and a port, if any, from 0 to 65535) without its trailing
    slash; ValueError otherwise, before anything tries to connect to it."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ValueError(f"{url!r}: the port must be a number from 0 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host")
    return url.rstrip("/")


class Group(BaseModel):
    """One concern's settings; `title` heads its section in the generated docs, and each field's
    `description` is its text there."""

    model_config = ConfigDict(
        extra="forbid", validate_default=True, validate_by_name=True, validate_by_alias=True
    )
    title: ClassVar[str] = ""


def flat_name(name: str, field: FieldInfo) -> str:
    """The field's name in the flat vocabulary of variables and keyword arguments."""
    return field.alias or name


def variable(name: str, field: FieldInfo) -> str:
    """The environment variable that sets the field."""
    return f"{PREFIX}{flat_name(name, field).upper()}"
