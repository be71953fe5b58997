"""Rate limits: per key or client address, headers and error shape, one limit shared via Redis,
and a Redis that fails or hangs letting requests through without holding them."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from support.rate_windows import clear_of_window_edge
from support.server import LiveServer

REDIS_URL = os.environ.get("GRAPHCHAT_TEST_REDIS_URL", "")


def _secret() -> str:
    return f"key-{secrets.token_hex(16)}"  # a fresh key: a fresh bucket, even in a shared Redis


def test_post_requests_over_the_limit_get_429_in_the_error_shape(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server(rate_limit="3/minute")
    clear_of_window_edge()
    with server.client() as api:
        allowed = [api.post("/threads", json={}) for _ in range(3)]
        refused = api.post("/threads", json={})
        reads = api.get("/threads")

    assert [r.status_code for r in allowed] == [201, 201, 201]
    assert [r.headers["RateLimit-Remaining"] for r in allowed] == ["2", "1", "0"]
    assert allowed[0].headers["RateLimit-Limit"] == "3"
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["request_id"] == refused.headers["X-Request-ID"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == refused.headers["Retry-After"]
    assert reads.status_code == 200 and "RateLimit-Limit" not in reads.headers


def test_scope_all_counts_every_method(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(rate_limit="2/minute", rate_limit_scope="all")
    clear_of_window_edge()
    with server.client() as api:
        statuses = [api.get("/threads").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_each_key_has_its_own_allowance(start_server: Callable[..., LiveServer]) -> None:
    alice, bob = _secret(), _secret()
    server = start_server(auth="on", api_keys=f"alice:{alice},bob:{bob}", rate_limit="1/minute")
    clear_of_window_edge()
    with server.client() as api:
        first = api.post("/threads", json={}, headers={"X-API-Key": alice})
        second = api.post("/threads", json={}, headers={"X-API-Key": alice})
        other = api.post("/threads", json={}, headers={"X-API-Key": bob})

    assert (first.status_code, second.status_code, other.status_code) == (201, 429, 201)


def test_forwarded_for_counts_only_from_a_trusted_proxy(
    start_server: Callable[..., LiveServer],
) -> None:
    behind_proxy = start_server(rate_limit="1/minute", trusted_proxies="127.0.0.1")
    direct = start_server(rate_limit="1/minute")

    def statuses(server: LiveServer) -> list[int]:
        with server.client() as api:
            return [
                api.post(
                    "/threads", json={}, headers={"X-Forwarded-For": f"198.51.100.{n}"}
                ).status_code
                for n in (1, 1, 2)
            ]

    clear_of_window_edge()
    assert statuses(behind_proxy) == [201, 429, 201]
    assert statuses(direct) == [201, 429, 429]


@pytest.mark.skipif(not REDIS_URL, reason="Redis not configured (set GRAPHCHAT_TEST_REDIS_URL)")
def test_two_servers_sharing_redis_enforce_one_limit(
    start_server: Callable[..., LiveServer],
) -> None:
    secret = _secret()
    settings = {"auth": "on", "api_keys": f"team:{secret}", "redis_url": REDIS_URL}
    servers = [start_server(rate_limit="4/minute", **settings) for _ in range(2)]
    clients = [server.client(headers={"X-API-Key": secret}) for server in servers]

    clear_of_window_edge()
    statuses = [clients[n % 2].post("/threads", json={}).status_code for n in range(6)]
    for client in clients:
        client.close()

    assert statuses == [201, 201, 201, 201, 429, 429]


@contextmanager
def _redis_that_never_answers() -> Iterator[tuple[str, list[socket.socket]]]:
    """A TCP server that accepts connections and never answers: a hung Redis. Yields its URL and
    the connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:  # closed
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0", accepted
    finally:
        listener.close()
        for connection in accepted:
            connection.close()


def test_a_redis_that_never_answers_lets_requests_through_without_holding_them(
    start_server: Callable[..., LiveServer],
) -> None:
    with _redis_that_never_answers() as (url, accepted):
        server = start_server(rate_limit="2/minute", redis_url=url, redis_timeout_seconds=0.3)
        with server.client(timeout=10) as api:
            began = time.monotonic()
            first = api.post("/threads", json={})
            waited = time.monotonic() - began
            later = [api.post("/threads", json={}).status_code for _ in range(4)]
        connections = len(accepted)

    assert first.status_code == 201 and waited < 5  # one timeout, not a hang nor five retries
    assert later == [201] * 4  # let through, over the limit of 2: the limit is unchecked
    assert connections == 1  # for a few seconds after the failure, Redis is not asked again
