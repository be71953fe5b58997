"""`GET /metrics`: requests by route template and status, model calls, streams, rate limits."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support.fake_ollama import FakeOllama, Reply
from support.rate_windows import clear_of_window_edge
from support.server import LiveServer


def _samples(api: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_and_status(api: httpx.Client) -> None:
    for thread_id in ("a", "b"):
        assert api.get(f"/threads/{thread_id}").status_code == 404
    api.get("/no/such/route")

    samples = _samples(api)

    by_template = {"route": "/threads/{thread_id}", "method": "GET", "status": "404"}
    assert _value(samples, "graphchat_http_requests_total", **by_template) == 2
    assert (
        _value(
            samples,
            "graphchat_http_requests_total",
            route="<unmatched>",
            method="GET",
            status="404",
        )
        == 1
    )
    duration = {"route": "/threads/{thread_id}", "method": "GET"}
    assert _value(samples, "graphchat_http_request_duration_seconds_count", **duration) == 2
    assert not any("/threads/a" in str(labels) for _, labels in samples)


def test_model_calls_report_latency_first_token_and_tokens(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=["one", " two", " three"], prompt_eval_count=11, eval_count=3))
    model = api.post("/chat", json={"message": "count"}).json()["model"]

    samples = _samples(api)

    assert (
        _value(samples, "graphchat_model_call_duration_seconds_count", model=model, outcome="ok")
        == 1
    )
    assert _value(samples, "graphchat_model_time_to_first_token_seconds_count", model=model) == 1
    assert _value(samples, "graphchat_model_tokens_total", model=model, direction="in") == 11
    assert _value(samples, "graphchat_model_tokens_total", model=model, direction="out") == 3


def test_open_streams_are_gauged(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["slow"], first_token_delay=1.5))
    with api.stream(
        "POST", "/stream", json={"input": {"messages": [{"role": "user", "content": "hi"}]}}
    ) as response:
        assert response.status_code == 200
        during = _value(_samples(api), "graphchat_active_streams")
        response.read()

    assert during == 1
    # The server closes its side just after the client read the last byte: wait for it.
    deadline = time.monotonic() + 30
    while _value(_samples(api), "graphchat_active_streams") != 0:
        assert time.monotonic() < deadline, "the stream was never counted as closed"
        time.sleep(0.05)


def test_rate_limited_requests_are_counted_per_app(start_server: Callable[..., LiveServer]) -> None:
    limited, other = start_server(rate_limit="1/minute"), start_server()
    clear_of_window_edge()
    with limited.client() as api, other.client() as other_api:
        api.post("/threads", json={})
        assert api.post("/threads", json={}).status_code == 429

        assert _value(_samples(api), "graphchat_rate_limited_requests_total") == 1
        assert _value(_samples(other_api), "graphchat_rate_limited_requests_total") == 0


def test_metrics_need_a_key_under_auth_unless_made_public(
    start_server: Callable[..., LiveServer],
) -> None:
    keys = "ops:ops-secret-0123456789abcdef"
    private, public = (
        start_server(auth="on", api_keys=keys, metrics_public=flag) for flag in (False, True)
    )
    with private.client() as private_api, public.client() as public_api:
        assert private_api.get("/metrics").status_code == 401
        assert public_api.get("/metrics").status_code == 200
        assert public_api.get("/threads").status_code == 401


def test_cache_hits_and_breaker_state_are_reported(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    server = start_server(cache="on")
    body = {"message": "same question", "temperature": 0}
    with server.client() as api:
        assert api.post("/chat", json=body).status_code == 200
        assert api.post("/chat", json=body).json()["messages"][1]["cached"] is True
        samples = _samples(api)

    assert len(ollama.chat_requests()) == 1
    assert _value(samples, "graphchat_reply_cache_lookups_total", result="miss") == 1
    assert _value(samples, "graphchat_reply_cache_lookups_total", result="hit") == 1
    assert _value(samples, "graphchat_breaker_state", backend="ollama", state="closed") == 1
    assert _value(samples, "graphchat_breaker_state", backend="ollama", state="open") == 0
