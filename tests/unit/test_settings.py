"""Settings: defaults, URL mapping, the earlier sample's variable names, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from graphchat.settings import (
    DEFAULT_DATABASE_URL,
    Settings,
    describe_validation_error,
    group_fields,
)
from graphchat.settings.base import variable

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("GRAPHCHAT_") or name in (
            "DATABASE_URI",
            "DATABASE_URL",
            "OLLAMA_BASE_URL",
            "LLM_MODEL",
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_are_sqlite_and_local_ollama() -> None:
    settings = Settings()

    assert settings.database.url == DEFAULT_DATABASE_URL
    assert settings.llm.ollama_url == "http://127.0.0.1:11434"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8000)
    assert settings.limits.max_body_bytes == 1_048_576


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_are_mapped_to_async_drivers(given: str, expected: str) -> None:
    assert Settings(database_url=given).database.url == expected


def test_the_earlier_samples_variables_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URI", "postgresql://u:p@db/chat")
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://ollama:11434/")
    monkeypatch.setenv("LLM_MODEL", "llama3.2")

    settings = Settings()

    assert settings.database.url == "postgresql+asyncpg://u:p@db/chat"
    assert settings.llm.ollama_url == "http://ollama:11434"
    assert settings.llm.default_model == "llama3.2"


def test_an_unprefixed_database_url_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db/chat")

    assert Settings().database.url == "postgresql+asyncpg://u:p@db/chat"


def test_graphchat_variables_win_over_the_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URI", "postgresql://old/db")
    monkeypatch.setenv("GRAPHCHAT_DATABASE_URL", "sqlite:///new.db")

    assert Settings().database.url == "sqlite+aiosqlite:///new.db"


def test_a_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GRAPHCHAT_PORT=9001\nGRAPHCHAT_DEFAULT_MODEL=phi3\n")

    settings = Settings()

    assert settings.server.port == 9001 and settings.llm.default_model == "phi3"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GRAPHCHAT_PORT", "eighty", "GRAPHCHAT_PORT"),
        ("GRAPHCHAT_PORT", "70000", "GRAPHCHAT_PORT"),
        ("GRAPHCHAT_DATABASE_URL", "mysql://x/y", "unsupported database scheme"),
        ("GRAPHCHAT_OLLAMA_URL", "localhost:11434", "GRAPHCHAT_OLLAMA_URL"),
        ("GRAPHCHAT_OLLAMA_URL", "http://127.0.0.1:Error", "the port must be a number"),
        ("GRAPHCHAT_OLLAMA_URL", "http://127.0.0.1:11434,http://:80", "names no host"),
        ("GRAPHCHAT_OPENAI_BASE_URLS", "http://gpu:99999/v1", "the port must be a number"),
        ("GRAPHCHAT_LOG_FORMAT", "xml", "GRAPHCHAT_LOG_FORMAT"),
    ],
)
def test_invalid_values_are_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ValidationError) as caught:
        Settings()

    assert any(expected in line for line in describe_validation_error(caught.value))


def test_serve_exits_with_one_clear_line_on_a_bad_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHCHAT_")}
    env["GRAPHCHAT_PORT"] = "not-a-port"
    result = subprocess.run(
        [sys.executable, "-m", "graphchat.cli", "serve"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "graphchat: configuration error: GRAPHCHAT_PORT: "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def test_every_variable_of_the_previous_release_reaches_its_group(tmp_path: Path) -> None:
    lines = (DATA / "previous-release.env").read_text(encoding="utf-8").splitlines()
    given = dict(line.split("=", 1) for line in lines if line.startswith("GRAPHCHAT_"))
    (tmp_path / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")

    settings = Settings()

    fields = {variable(name, field): (group, name, field) for group, name, field in group_fields()}
    assert sorted(set(given) - set(fields)) == []  # newer releases may add names, never drop one
    unchanged = [
        name
        for name, (group, field_name, field) in fields.items()
        if name in given
        and getattr(getattr(settings, group), field_name)
        == field.get_default(call_default_factory=True)
    ]
    assert unchanged == []
    assert settings.database.pool_size == 11 and settings.runs.stale_seconds == 31.0
    assert settings.tools.max_rounds == 5 and settings.mcp.servers["docs"]["transport"] == "sse"


def test_flat_keyword_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHCHAT_DB_POOL_SIZE", "3")

    settings = Settings(db_pool_size=7, tool_max_rounds=1)

    assert settings.database.pool_size == 7 and settings.tools.max_rounds == 1


def test_an_invalid_grouped_value_names_its_flat_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHCHAT_RUN_STALE_SECONDS", "0")

    with pytest.raises(ValidationError) as caught:
        Settings()

    assert describe_validation_error(caught.value) == [
        "GRAPHCHAT_RUN_STALE_SECONDS: Input should be greater than 0"
    ]
