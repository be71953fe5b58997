"""Request mapping and reply parsing of the providers, and the backends the settings build."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import orjson
import pytest

from graphchat.errors import ModelNotFound, ProviderError, ProviderUnavailable, ToolsUnsupported
from graphchat.llm import ollama, openai_compat
from graphchat.llm.base import (
    ChatMessage,
    ChatRequest,
    ResponseFormat,
    SamplingParams,
    ToolCall,
    ToolSpec,
)
from graphchat.llm.embedded import (
    DEFAULT_MODEL_NAME,
    EmbeddedConfig,
    EmbeddedProvider,
    packaged_model_path,
    worker_options,
)
from graphchat.llm.factory import backend_names, build_backends, build_router, embedded_config
from graphchat.llm.timeouts import Timeouts
from graphchat.llm.transport import direct_transport, status_error
from graphchat.settings import Settings

PARAMS = SamplingParams(temperature=0.1, top_p=0.9, max_tokens=5, seed=2, stop=("x",), num_ctx=64)


def test_sampling_parameters_are_mapped_per_provider() -> None:
    assert ollama.options_for(PARAMS) == {
        "temperature": 0.1,
        "top_p": 0.9,
        "num_predict": 5,
        "seed": 2,
        "num_ctx": 64,
        "stop": ["x"],
    }
    assert openai_compat.sampling_fields(PARAMS) == {
        "temperature": 0.1,
        "top_p": 0.9,
        "max_tokens": 5,
        "seed": 2,
        "stop": ["x"],
    }


def test_the_embedded_model_samples_with_ollamas_repeat_penalty() -> None:
    # llama.cpp's own default is none: a small model at temperature 0 then repeats one sentence
    # until the context is full.
    assert worker_options(PARAMS, None) == {
        "temperature": 0.1,
        "top_p": 0.9,
        "max_tokens": 5,
        "seed": 2,
        "stop": ["x"],
        "repeat_penalty": 1.1,
    }


def test_response_format_is_mapped_per_provider() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    wanted = ResponseFormat("json_schema", schema, name="thing", strict=True)
    request = ChatRequest("m", (ChatMessage("user", "hi"),), response_format=wanted)
    any_json = replace(request, response_format=ResponseFormat("json_object"))

    assert ollama.request_body(request)["format"] == schema
    assert ollama.request_body(any_json)["format"] == "json"
    assert "format" not in ollama.request_body(replace(request, response_format=None))
    assert openai_compat.request_body(request)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "thing", "schema": schema, "strict": True},
    }
    assert openai_compat.request_body(any_json)["response_format"] == {"type": "json_object"}


def test_a_required_tool_choice_reaches_openai_compatible_servers_only_with_tools() -> None:
    tool = ToolSpec("add", "adds", {"type": "object"})
    request = ChatRequest("m", (ChatMessage("user", "hi"),), tools=(tool,), tool_choice="required")

    assert openai_compat.request_body(request)["tool_choice"] == "required"
    assert "tool_choice" not in openai_compat.request_body(replace(request, tool_choice="auto"))
    assert "tool_choice" not in openai_compat.request_body(replace(request, tools=()))


def test_openai_tool_calls_are_sent_with_json_string_arguments() -> None:
    call = ToolCall("c1", "add", {"a": 1})
    request = ChatRequest(
        model="m",
        messages=(
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("tool", "2", tool_call_id="c1"),
        ),
        tools=(ToolSpec("add", "adds", {"type": "object"}),),
    )
    body = openai_compat.request_body(request)
    assert body["messages"][0]["tool_calls"][0]["function"]["arguments"] == '{"a":1}'
    assert body["messages"][1]["tool_call_id"] == "c1"
    assert body["tools"][0]["function"]["name"] == "add"


def test_openai_stream_fragments_assemble_into_tool_calls() -> None:
    state = openai_compat.StreamState()
    fragments = ['{"a":', " 1}"]
    state.feed(
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "function": {"name": "add", "arguments": fragments[0]},
                            }
                        ]
                    }
                }
            ]
        }
    )
    state.feed(
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [{"index": 0, "function": {"arguments": fragments[1]}}]
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        }
    )
    last = state.last_chunk()
    assert last.tool_calls == (ToolCall("c1", "add", {"a": 1}),)
    assert last.finish_reason == "tool_calls"


def test_an_openai_error_event_mid_stream_is_a_provider_error() -> None:
    with pytest.raises(ProviderError):
        openai_compat.StreamState().feed({"error": {"message": "boom"}})


_SSE_REPLY = (
    b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
    b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)


async def test_a_model_call_carries_the_clients_url_and_headers() -> None:
    """Model calls skip the client's per-request layers, not its base URL or default headers."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=_SSE_REPLY)

    provider = openai_compat.OpenAICompatProvider(
        "http://llm.test/base/v1",
        timeouts=Timeouts(),
        api_key="s3cret",
        transport=httpx.MockTransport(answer),
    )
    request = ChatRequest("m", (ChatMessage("user", "hi"),))
    chunks = [chunk async for chunk in provider.stream(request)]
    await provider.aclose()

    assert "".join(chunk.content for chunk in chunks) == "Hi"
    assert chunks[-1].finish_reason == "stop"
    assert str(sent[0].url) == "http://llm.test/base/v1/chat/completions"
    assert sent[0].headers["authorization"] == "Bearer s3cret"
    assert sent[0].headers["content-type"] == "application/json"
    assert orjson.loads(sent[0].content)["messages"] == [{"role": "user", "content": "hi"}]
    # Sent as one stream that forgets the body (see `ChatEndpoint.post`), still with its length.
    assert sent[0].headers["content-length"] == str(len(sent[0].content))
    assert "transfer-encoding" not in sent[0].headers


async def test_reply_lines_split_anywhere_across_network_reads_are_joined() -> None:
    lines = [
        b'{"message":{"content":"Gr\xc3\xbc"},"done":false}',
        b'{"message":{"content":"\xc3\x9fe"},"done":false}',
        b'{"message":{"content":""},"done":true,"prompt_eval_count":3,"eval_count":2}',
    ]
    body = b"\r\n".join(lines) + b"\n"
    crlf = len(lines[0])
    # Cut inside the first "ü" (bytes 25-26), between \r and \n, and before the last \n.
    cuts = [5, 26, crlf + 1, crlf + 30, len(body) - 1]

    async def reads() -> AsyncIterator[bytes]:
        for start, end in itertools.pairwise([0, *cuts, len(body)]):
            yield body[start:end]

    provider = ollama.OllamaProvider(
        "http://ollama.test",
        timeouts=Timeouts(),
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=reads())),
    )
    request = ChatRequest("m", (ChatMessage("user", "hi"),))
    chunks = [chunk async for chunk in provider.stream(request)]
    await provider.aclose()

    assert [chunk.content for chunk in chunks] == ["Grü", "ße", ""]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2


def test_a_proxy_from_the_environment_sends_model_calls_through_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "localhost")
    assert isinstance(direct_transport(None), httpx.AsyncHTTPTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    assert direct_transport(None) is None
    given = httpx.MockTransport(lambda request: httpx.Response(200))
    assert direct_transport(given) is given


@pytest.mark.parametrize(
    ("status", "text", "error"),
    [
        (404, "", ModelNotFound),
        (400, "model does not support tools", ToolsUnsupported),
        (503, "", ProviderUnavailable),
        (429, "", ProviderUnavailable),
        (401, "bad key", ProviderError),
    ],
)
def test_error_statuses_map_to_domain_errors(status: int, text: str, error: type) -> None:
    assert type(status_error("b", status, text, "m")) is error


async def test_the_embedded_provider_refuses_other_models_and_tools_without_loading() -> None:
    provider = EmbeddedProvider(EmbeddedConfig(model_path=packaged_model_path()))
    with pytest.raises(ModelNotFound):
        _ = [c async for c in provider.stream(ChatRequest("other", ()))]
    tools = (ToolSpec("t", "d", {}),)
    with pytest.raises(ToolsUnsupported):
        _ = [c async for c in provider.stream(ChatRequest(DEFAULT_MODEL_NAME, (), tools=tools))]
    assert provider.process.state.status == "stopped"


async def test_a_missing_model_file_is_unavailable(tmp_path: Path) -> None:
    provider = EmbeddedProvider(EmbeddedConfig(model_path=tmp_path / "none.gguf"))
    with pytest.raises(ProviderUnavailable):
        await provider.check()
    assert [m.available for m in await provider.list_models()] == [False]


def test_the_packaged_model_and_a_custom_file_name_the_model() -> None:
    assert packaged_model_path() is not None
    assert embedded_config(Settings(_env_file=None).llm).model_name == DEFAULT_MODEL_NAME
    custom = Settings(_env_file=None, embedded_model_path=Path("/m/Qwen2.5-0.5B.gguf"))
    assert embedded_config(custom.llm).model_name == "qwen2.5-0.5b"


def test_backends_are_numbered_from_the_second() -> None:
    assert backend_names("ollama", 3) == ["ollama", "ollama-2", "ollama-3"]


def _names(**values: object) -> list[str]:
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    return [backend.name for backend in asyncio.run(build_backends(settings.llm))]


def test_configured_backends_are_built_and_embedded_only_fills_in() -> None:
    assert _names(ollama_url="http://a:1,http://b:2") == ["ollama", "ollama-2"]
    assert _names(ollama_url="", openai_base_urls="http://c/v1") == ["openai"]
    assert _names(ollama_url="") == ["embedded"]
    assert _names(ollama_url="http://a:1", embedded="on") == ["ollama", "embedded"]
    assert _names(ollama_url="", embedded="off") == []


def test_no_backend_at_all_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="no model backend"):
        asyncio.run(build_router(Settings(_env_file=None, ollama_url="", embedded="off").llm))
