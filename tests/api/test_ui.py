"""The web UI's files over HTTP: the page at `/`, assets under `/ui/`, off when disabled."""

from __future__ import annotations

from collections.abc import Callable

from support.server import LiveServer

VENDORED = [
    "vendor/marked/marked.esm.js",
    "vendor/marked/LICENSE",
    "vendor/dompurify/purify.es.mjs",
    "vendor/dompurify/LICENSE",
    "vendor/highlight/highlight.min.js",
    "vendor/highlight/LICENSE",
]


def test_serves_the_page_with_a_strict_content_security_policy(
    start_server: Callable[..., LiveServer],
) -> None:
    with start_server().client() as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/ui/app.js">' in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        script = client.get("/ui/app.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]


def test_vendored_libraries_ship_with_their_licences(
    start_server: Callable[..., LiveServer],
) -> None:
    with start_server().client() as client:
        for path in VENDORED:
            response = client.get(f"/ui/{path}")
            assert response.status_code == 200, path
            assert len(response.content) > 500, path


def test_nothing_is_served_when_the_ui_is_disabled(
    start_server: Callable[..., LiveServer],
) -> None:
    with start_server(ui_enabled=False).client() as client:
        assert client.get("/").status_code == 404
        assert client.get("/ui/app.js").status_code == 404
        assert client.get("/health").status_code == 200
