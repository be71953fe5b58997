"""schemathesis over the whole OpenAPI document, as a client generator would read it.

Every check (`--checks all`) and every phase, the stateful one included, over every route, the
streaming ones too, with auth on and the headers (`Idempotency-Key`, `Last-Event-ID`,
`X-Request-ID`, the API key) generated from the schema: 0 failures, not only 0 server errors.
The budget here is small; `python -m bench fuzz` runs the same with 1,000+ cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from graphchat.settings import Settings
from support.fake_ollama import FakeOllama
from support.fuzzing import run_schemathesis
from support.server import LiveServer, live_server

KEY = "fuzz-key-0123456789abcdef"


def fuzz_settings(database_url: str, ollama_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "ollama_url": ollama_url,
        "log_format": "console",
        "log_level": "error",
        "rate_limit": "",
        "auth": "on",
        "api_keys": [f"fuzz:{KEY}"],
    }
    return Settings(**{**values, **overrides})


@pytest.fixture(scope="module")
def schema_server(
    tmp_path_factory: pytest.TempPathFactory, fake_ollama_server: FakeOllama
) -> Iterator[LiveServer]:
    database = tmp_path_factory.mktemp("schemathesis") / "graphchat.db"
    with live_server(fuzz_settings(f"sqlite:///{database}", fake_ollama_server.url)) as server:
        yield server


def test_the_whole_schema_passes_every_check(schema_server: LiveServer) -> None:
    result = run_schemathesis(
        schema_server.url, max_examples=6, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert result.returncode == 0, result.output[-6000:]
    assert result.generated >= 300, result.output[-2000:]


def test_every_route_declares_the_statuses_of_the_shared_layers(
    tmp_path: Any, fake_ollama_server: FakeOllama
) -> None:
    settings = fuzz_settings(
        f"sqlite:///{tmp_path / 'graphchat.db'}", fake_ollama_server.url, rate_limit="30/minute"
    )
    with live_server(settings) as server:
        key = {"Authorization": f"Bearer {KEY}"}
        document = httpx.get(f"{server.url}/openapi.json", headers=key).json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            declared = set(operation["responses"])
            assert {"413", "500", "503"} <= declared, (method, path)
            if method == "post":
                assert "429" in declared, (method, path)
            if "requestBody" in operation:
                assert {"415", "422"} <= declared, (method, path)
            if "{" in path:
                assert "404" in declared, (method, path)
            if path not in ("/health", "/ready"):
                assert "401" in declared, (method, path)
            errors = [body for status, body in operation["responses"].items() if status >= "400"]
            assert all(
                body["content"]["application/json"]["schema"]["$ref"].endswith(
                    "/OpenAIErrorOut" if path.startswith("/v1/") else "/ErrorOut"
                )
                for body in errors
            ), (method, path)
