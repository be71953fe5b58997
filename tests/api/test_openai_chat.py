"""The OpenAI API through the official `openai` SDK, against a live graphchat and the Ollama test
server (SQLite and PostgreSQL): completions plain and streamed, models, client tools, parsing."""

from __future__ import annotations

import json
from collections.abc import Callable

import openai
import pytest
from pydantic import BaseModel

from api.openai_support import MODEL, calculator_call, raw_stream, sdk, user
from support.fake_ollama import FakeOllama, Reply
from support.rate_windows import clear_of_window_edge
from support.server import LiveServer

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server(rate_limit="")


def _weather_call(call_id: str = "call_w1") -> Reply:
    arguments = {"city": "Paris"}
    return Reply(
        tokens=[],
        tool_calls=[{"id": call_id, "function": {"name": "get_weather", "arguments": arguments}}],
    )


def test_create_answers_with_the_agents_reply_and_maps_the_sampling_fields(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=["Hel", "lo!"], prompt_eval_count=11, eval_count=2))

    completion = sdk(server).chat.completions.create(
        model=MODEL,
        messages=[{"role": "developer", "content": "Be brief."}, user("Hi")],
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=50,
        seed=-5,
        stop="END",
        # Newer fields that do not apply are accepted and ignored.
        reasoning_effort="low",
        metadata={"k": "v"},
        store=False,
        user="someone",
        service_tier="auto",
        presence_penalty=0.1,
    )

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    choice = completion.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", "Hello!")
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (11, 2)
    assert completion.usage.total_tokens == 13
    sent = ollama.chat_requests()[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert sent["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "num_predict": 50,
        "seed": 2**63 - 5,
        "stop": ["END"],
    }


def test_text_parts_are_joined_and_the_server_prompt_applies_without_a_system_message(
    server: LiveServer, ollama: FakeOllama
) -> None:
    content = [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]
    sdk(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}]
    )

    sent = ollama.chat_requests()[-1]["messages"]
    assert sent == [
        {"role": "system", "content": server.settings.agent.system_prompt},
        {"role": "user", "content": "Hello there"},
    ]


def test_stream_sends_chunks_a_finish_reason_and_a_final_usage_chunk(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=["One ", "two ", "three"], prompt_eval_count=5, eval_count=3))

    stream = sdk(server).chat.completions.create(
        model=MODEL,
        messages=[user("Count")],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "One two three"
    reasons = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert reasons[-1] == "stop" and set(reasons[:-1]) == {None}
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 8
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_a_stream_without_usage_is_plain_data_lines_ending_with_done(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=["Hi"]))
    with raw_stream(server, [user("Hi")]) as response:
        lines = [line for line in response.iter_lines() if line]

    assert response.headers["content-type"].startswith("text/event-stream")
    # No `id:`/`retry:` lines: the SDK's decoder would turn a later heartbeat into bad JSON.
    assert all(line.startswith(("data: ", ":")) for line in lines)
    data = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    assert all("usage" not in json.loads(item) for item in data[:-1])


def test_models_list_and_retrieve_name_graphchats_models(server: LiveServer) -> None:
    client = sdk(server)

    listed = client.models.list()
    model = client.models.retrieve("qwen2.5:0.5b")
    short = client.models.retrieve(MODEL)
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("no-such-model")

    assert [card.id for card in listed.data] == ["llama3.2:latest", "qwen2.5:0.5b"]
    assert {card.owned_by for card in listed.data} == {"graphchat"}
    assert (model.id, model.object, model.owned_by) == ("qwen2.5:0.5b", "model", "graphchat")
    assert short.id == "llama3.2:latest"
    assert missing.value.code == "model_not_found"


def test_a_client_tool_call_is_returned_and_its_result_answered(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(_weather_call(), Reply(tokens=["It is sunny in Paris."]))
    client = sdk(server)
    messages = [user("Weather in Paris?")]

    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert (call.id, call.type, call.function.name) == ("call_w1", "function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    followup = [
        *messages,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    second = client.chat.completions.create(model=MODEL, messages=followup, tools=[WEATHER_TOOL])

    assert second.choices[0].message.content == "It is sunny in Paris."
    assert second.choices[0].finish_reason == "stop"
    sent = ollama.chat_requests()
    assert len(sent) == 2  # graphchat ran no tool itself
    assert [tool["function"]["name"] for tool in sent[0]["tools"]] == ["get_weather"]
    assert sent[1]["messages"][-2]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
    assert sent[1]["messages"][-1]["content"] == "sunny, 21 C"
    assert sent[1]["messages"][-1]["tool_call_id"] == "call_w1"


def test_a_streamed_client_tool_call_arrives_as_indexed_deltas(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(_weather_call("call_s1"))

    chunks = list(
        sdk(server).chat.completions.create(
            model=MODEL, messages=[user("Weather?")], tools=[WEATHER_TOOL], stream=True
        )
    )

    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or ()]
    assert [(d.index, d.id, d.function and d.function.name) for d in deltas] == [
        (0, "call_s1", "get_weather")
    ]
    assert deltas[0].function is not None
    assert json.loads(deltas[0].function.arguments or "") == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_without_client_tools_graphchat_runs_its_own(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(calculator_call("6*7"), Reply(tokens=["It is 42."]))

    completion = sdk(server).chat.completions.create(model=MODEL, messages=[user("6*7?")])

    assert completion.choices[0].message.content == "It is 42."
    assert completion.choices[0].message.tool_calls is None
    sent = ollama.chat_requests()
    assert "calculator" in [tool["function"]["name"] for tool in sent[0]["tools"]]
    assert sent[1]["messages"][-1]["role"] == "tool" and "42" in sent[1]["messages"][-1]["content"]


def test_a_named_tool_choice_offers_only_that_tool(server: LiveServer, ollama: FakeOllama) -> None:
    other = {"type": "function", "function": {"name": "get_time", "parameters": {}}}
    sdk(server).chat.completions.create(
        model=MODEL,
        messages=[user("Weather?")],
        tools=[other, WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )

    offered = [tool["function"]["name"] for tool in ollama.chat_requests()[-1]["tools"]]
    assert offered == ["get_weather"]


def test_tool_choice_none_offers_no_tools(server: LiveServer, ollama: FakeOllama) -> None:
    sdk(server).chat.completions.create(
        model=MODEL, messages=[user("Hi")], tools=[WEATHER_TOOL], tool_choice="none"
    )

    assert "tools" not in ollama.chat_requests()[-1]


class City(BaseModel):
    name: str
    population: int


def test_parse_returns_a_pydantic_object_and_sends_the_schema_to_ollama(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=['{"name": "Paris", ', '"population": 2100000}']))

    completion = sdk(server).chat.completions.parse(
        model=MODEL, messages=[user("Describe Paris")], response_format=City
    )

    assert completion.choices[0].message.parsed == City(name="Paris", population=2100000)
    schema = ollama.chat_requests()[-1]["format"]
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"name", "population"}


def test_json_object_asks_ollama_for_json(server: LiveServer, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=['{"ok": true}']))

    completion = sdk(server).chat.completions.create(
        model=MODEL, messages=[user("JSON please")], response_format={"type": "json_object"}
    )

    assert json.loads(completion.choices[0].message.content or "") == {"ok": True}
    assert ollama.chat_requests()[-1]["format"] == "json"


def test_native_chat_takes_response_format_too(server: LiveServer, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=['{"name": "Oslo", "population": 700000}']))
    schema = City.model_json_schema()
    body = {
        "message": "Describe Oslo",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "city", "schema": schema},
        },
    }

    with server.client() as api:
        response = api.post("/chat", json=body)

    assert response.status_code == 200, response.text
    assert City.model_validate_json(response.json()["response"]).name == "Oslo"
    assert ollama.chat_requests()[-1]["format"] == schema


def test_the_reply_cache_tells_response_formats_and_client_tools_apart(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    server = start_server(rate_limit="", cache="on")
    client = sdk(server)
    ask = {"model": MODEL, "messages": [user("Same question")], "temperature": 0.0}
    ollama.queue(Reply(tokens=["plain"]), Reply(tokens=['{"a": 1}']), Reply(tokens=["tooled"]))

    plain = client.chat.completions.create(**ask)
    again = client.chat.completions.create(**ask)
    as_json = client.chat.completions.create(**ask, response_format={"type": "json_object"})
    with_tools = client.chat.completions.create(**ask, tools=[WEATHER_TOOL])

    contents = [c.choices[0].message.content for c in (plain, again, as_json, with_tools)]
    assert contents == ["plain", "plain", '{"a": 1}', "tooled"]
    assert len(ollama.chat_requests()) == 3


def test_auth_failure_is_an_authentication_error(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    secret = "s" * 32
    server = start_server(auth="on", api_keys=f"alice:{secret}", rate_limit="")

    with pytest.raises(openai.AuthenticationError) as refused:
        sdk(server, api_key="wrong-key").chat.completions.create(model=MODEL, messages=[user("Hi")])
    accepted = sdk(server, api_key=secret).chat.completions.create(
        model=MODEL, messages=[user("Hi")]
    )

    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_api_key"
    assert refused.value.type == "authentication_error"
    assert accepted.choices[0].message.content == "You said: Hi"


def test_a_rate_limited_call_is_a_rate_limit_error_with_retry_after(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    server = start_server(rate_limit="1/minute")
    client = sdk(server)
    clear_of_window_edge()
    client.chat.completions.create(model=MODEL, messages=[user("Hi")])

    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model=MODEL, messages=[user("Hi again")])

    assert limited.value.code == "rate_limited"
    assert limited.value.type == "rate_limit_error"
    assert 1 <= int(limited.value.response.headers["retry-after"]) <= 60


def test_a_model_backend_failure_is_a_server_error_in_openais_shape(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.down = True
    with server.client() as api:
        response = api.post("/v1/chat/completions", json={"model": MODEL, "messages": [user("Hi")]})

    assert response.status_code == 503
    assert response.headers["retry-after"]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "server_error"


def test_native_routes_keep_the_native_error_shape(server: LiveServer) -> None:
    with server.client() as api:
        response = api.post("/chat", json={"message": ""})

    assert response.status_code == 422
    assert "request_id" in response.json()["error"]


def test_a_failure_mid_stream_is_an_error_event_the_sdk_raises(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=["Partial ", "answer"], error_after=1))
    stream = sdk(server).chat.completions.create(model=MODEL, messages=[user("Hi")], stream=True)

    received: list[str] = []

    def read_all() -> None:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")

    with pytest.raises(openai.APIError) as failed:
        read_all()

    assert "".join(received) == "Partial "
    assert "failed" in failed.value.message


def test_a_stream_shows_no_tool_calls_of_graphchats_own_tools(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(calculator_call("1+1"), Reply(tokens=["Two."]))

    chunks = list(
        sdk(server).chat.completions.create(model=MODEL, messages=[user("1+1?")], stream=True)
    )

    assert all(not c.choices[0].delta.tool_calls for c in chunks if c.choices)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Two."
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_stream_is_exactly_data_frames_on_the_wire(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=["Hi", " there"]))
    with raw_stream(server, [user("Hi")]) as response:
        body = response.read()

    # What the OpenAI SDK's decoder reads: `data: <json>` lines, each frame ended by a blank line.
    # Heartbeats (`: heartbeat` comments) may come between them.
    *frames, rest = body.split(b"\r\n\r\n")
    assert rest == b""
    data = [frame for frame in frames if frame != b": heartbeat"]
    assert all(frame.startswith(b"data: ") and b"\n" not in frame for frame in data)
    assert data[-1] == b"data: [DONE]"
    contents = [json.loads(frame[6:])["choices"][0]["delta"] for frame in data[:3]]
    assert contents == [
        {"role": "assistant", "content": ""},
        {"content": "Hi"},
        {"content": " there"},
    ]
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
