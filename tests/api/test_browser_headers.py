"""Security headers on every response; CORS only for the configured origins."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from support.server import LiveServer

ORIGIN = "https://chat.example"


def test_api_and_ui_responses_carry_security_headers(api: httpx.Client) -> None:
    page, data = api.get("/"), api.get("/threads")

    for response in (page, data):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert data.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "Content-Security-Policy" not in api.get("/docs").headers


def _preflight(api: httpx.Client, origin: str) -> httpx.Response:
    return api.options(
        "/chat",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_cors_allows_only_listed_origins(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(cors_origins=ORIGIN, auth="on", api_keys="u:cors-secret-0123456789xyz")
    with server.client() as api:
        allowed, refused = _preflight(api, ORIGIN), _preflight(api, "https://evil.example")
        unauthorized = api.get("/threads", headers={"Origin": ORIGIN})

    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert unauthorized.status_code == 401  # readable by the page: it carries the CORS header
    assert unauthorized.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Request-ID" in unauthorized.headers["Access-Control-Expose-Headers"]


def test_no_cross_origin_access_by_default(api: httpx.Client) -> None:
    assert "Access-Control-Allow-Origin" not in _preflight(api, ORIGIN).headers
    assert (
        "Access-Control-Allow-Origin" not in api.get("/threads", headers={"Origin": ORIGIN}).headers
    )


def test_the_ui_page_carries_the_configured_csp(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(ui_csp="default-src 'self'; frame-ancestors 'none'")

    with server.client() as api:
        page = api.get("/")

    assert page.headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'"
