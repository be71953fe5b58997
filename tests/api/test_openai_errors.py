"""Bad input on the OpenAI API gets OpenAI-shaped errors with graphchat's statuses, never a 500
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from api.openai_support import MODEL, assistant, sdk, user
from support.server import LiveServer


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server(rate_limit="", max_body_bytes=20_000)


def _post(server: LiveServer, body: dict[str, Any]) -> httpx.Response:
    with server.client() as api:
        return api.post("/v1/chat/completions", json=body)


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


@pytest.mark.parametrize(
    ("messages", "status", "param", "code"),
    [
        ([{"role": "wizard", "content": "Hi"}], 422, "messages.0.role", "validation_error"),
        (
            [user("Hi"), {"role": "tool", "tool_call_id": "call_x", "content": "42"}],
            400,
            "messages.1.tool_call_id",
            "unmatched_tool_call",
        ),
        ([{"role": "tool", "content": "42"}], 400, "messages.0.tool_call_id", None),
        ([user("Hi"), assistant("Hello")], 400, "messages", "invalid_request"),
        ([{"role": "system", "content": "Only a system prompt"}], 400, "messages", None),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            400,
            "messages.0.content",
            "unsupported_content",
        ),
        ([], 422, "messages", "validation_error"),
    ],
)
def test_bad_messages_get_openai_shaped_errors(
    server: LiveServer,
    messages: list[dict[str, Any]],
    status: int,
    param: str,
    code: str | None,
) -> None:
    response = _post(server, {"model": MODEL, "messages": messages})

    assert response.status_code == status, response.text
    error = _error(response)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    if code is not None:
        assert error["code"] == code


def test_n_above_one_is_a_bad_request_for_the_sdk(server: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(server).chat.completions.create(model=MODEL, messages=[user("Hi")], n=3)

    assert refused.value.param == "n"
    assert refused.value.code == "unsupported_value"


def test_unknown_fields_are_ignored(server: LiveServer) -> None:
    body = {
        "model": MODEL,
        "messages": [user("Hi")],
        "verbosity": "low",
        "prompt_cache_key": "k",
        "safety_identifier": "s",
        "logprobs": False,
        "something_new": {"nested": [1, 2]},
    }

    response = _post(server, body)

    assert response.status_code == 200, response.text


def test_an_oversized_body_is_413_in_openais_shape(server: LiveServer) -> None:
    response = _post(server, {"model": MODEL, "messages": [user("x" * 30_000)]})

    assert response.status_code == 413
    assert _error(response)["code"] == "payload_too_large"


def test_an_oversized_message_is_422_naming_it(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(rate_limit="", max_message_chars=10)

    response = _post(server, {"model": MODEL, "messages": [user("far too long a message")]})

    assert response.status_code == 422
    assert _error(response)["param"] == "messages.0.content"


def test_malformed_json_and_a_wrong_content_type_are_shaped_too(server: LiveServer) -> None:
    with server.client() as api:
        broken = api.post(
            "/v1/chat/completions",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        as_text = api.post(
            "/v1/chat/completions", content=b"hi", headers={"Content-Type": "text/plain"}
        )
        unknown_route = api.get("/v1/nothing-here")

    assert broken.status_code == 422 and _error(broken)["type"] == "invalid_request_error"
    assert as_text.status_code == 415 and _error(as_text)["code"] == "unsupported_media_type"
    assert unknown_route.status_code == 404 and _error(unknown_route)["type"] == "not_found_error"


def test_tool_call_arguments_must_be_a_json_object(server: LiveServer) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1"}}
    messages = [
        user("Hi"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]

    response = _post(server, {"model": MODEL, "messages": messages})

    assert response.status_code == 400
    assert _error(response)["param"] == "messages.1.tool_calls.0.function.arguments"


def test_an_unknown_model_is_a_client_error(server: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(server).chat.completions.create(model="no-such-model", messages=[user("Hi")])

    assert refused.value.code == "model_not_found"
