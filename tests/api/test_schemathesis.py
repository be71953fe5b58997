"""Property-based requests from the OpenAPI schema: no 5xx, every error in the documented shape
(OpenAI's under `/v1/`).

Bounded: few examples per operation, no shrinking. Streaming routes are left out (a generated
request may hold a stream open until the model finishes); `/stream`'s errors share `/chat`'s code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from graphchat.settings import Settings
from support.fake_ollama import FakeOllama
from support.server import LiveServer, live_server

EXCLUDED_PATHS = r".*/stream$"


@pytest.fixture(scope="module")
def schema_server(
    tmp_path_factory: pytest.TempPathFactory, fake_ollama_server: FakeOllama
) -> Iterator[LiveServer]:
    database = tmp_path_factory.mktemp("schemathesis") / "graphchat.db"
    app_settings = Settings(
        database_url=f"sqlite:///{database}",
        ollama_url=fake_ollama_server.url,
        log_format="console",
        log_level="error",
        rate_limit="",
    )
    with live_server(app_settings) as server:
        yield server


def _assert_openai_error_shape(response: Any) -> None:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def _assert_error_shape(response: Any) -> None:
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    request_id = response.headers["x-request-id"]  # schemathesis lists every header's values
    assert [error["request_id"]] == (request_id if isinstance(request_id, list) else [request_id])
    assert set(error) <= {"code", "message", "request_id", "details"}


def test_no_server_errors_and_errors_in_the_documented_shape(schema_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{schema_server.url}/openapi.json")
    operations = [
        result.ok() for result in schema.exclude(path_regex=EXCLUDED_PATHS).get_all_operations()
    ]
    assert len(operations) >= 8

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(base_url=schema_server.url, timeout=30)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code >= 400 and case.path.startswith("/v1/"):
                _assert_openai_error_shape(response)
            elif response.status_code >= 400:
                _assert_error_shape(response)

        check()
