"""Browser-facing protection: the security headers every response gets, CORS from an allowlist."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from graphchat.settings import Settings

# API responses are data, never documents: nothing in them may load, run or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
# X-Auth-Scheme: agent-chat-ui sends it whenever an auth scheme is configured.
CORS_HEADERS = [
    "Authorization",
    "X-API-Key",
    "Content-Type",
    "X-Request-ID",
    "Last-Event-ID",
    "X-Graphchat-Thread-Id",
    "X-Auth-Scheme",
]
CORS_EXPOSED = [
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Content-Location",
    "Location",
    "X-Graphchat-Thread-Id",
    "X-Graphchat-Run-Id",
]


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name == b"content-type" and value.startswith(b"text/html") for name, value in headers
    )


class SecurityHeaders:
    """Completes a response's headers with those it did not set; HTML gets `GRAPHCHAT_UI_CSP`.

    The interactive API docs (`/docs`, `/redoc`) load Swagger/ReDoc from a CDN and get no CSP.
    """

    def __init__(self, ui_csp: str, docs_paths: frozenset[str]) -> None:
        self._ui_csp = ui_csp.encode()
        self._api_csp = API_CSP.encode()
        self._docs_paths = docs_paths

    def complete(self, path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        present = {bytes(name).lower() for name, _ in headers}
        added = [(name, value) for name, value in _ALWAYS if name not in present]
        if b"content-security-policy" not in present and path not in self._docs_paths:
            csp = self._ui_csp if _is_html(headers) else self._api_csp
            added.append((b"content-security-policy", csp))
        return headers + added


def install_cors(app: FastAPI, origins: list[str]) -> None:
    """Allow cross-origin calls from exactly `origins` (no credentials: keys travel in headers)."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=CORS_HEADERS,
        expose_headers=CORS_EXPOSED,
        max_age=600,
    )


def security_headers(app: FastAPI, settings: Settings) -> SecurityHeaders:
    """The headers policy of this app (its docs paths are left without a CSP)."""
    docs = frozenset(path for path in (app.docs_url, app.redoc_url) if path)
    return SecurityHeaders(settings.ui.csp, docs)
