"""Authentication middleware: every request outside the public routes needs an API key.

It is middleware rather than a route dependency so that a route added later is protected by
default; the owner it resolves is what `api.deps.get_owner` hands to the services.
"""

from __future__ import annotations

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from graphchat.api.errors import graphchat_error_response
from graphchat.errors import GraphchatError
from graphchat.security.auth import Authenticator, Principal
from graphchat.settings import Settings

PRINCIPAL_KEY = "principal"
_PUBLIC_METHODS = frozenset({"GET", "HEAD"})


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (`name` in lower case)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def presented_token(scope: Scope) -> str | None:
    """The key from `Authorization: Bearer …`, else from `X-API-Key`."""
    authorization = header(scope, b"authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    api_key = header(scope, b"x-api-key")
    return api_key.strip() if api_key and api_key.strip() else None


class PublicRoutes:
    """The routes served without a key: probes, and the UI shell (its API calls carry the key)."""

    def __init__(self, paths: set[str], prefixes: tuple[str, ...] = ()) -> None:
        self.paths = frozenset(paths)
        self.prefixes = prefixes

    def admit(self, scope: Scope) -> bool:
        if scope["method"] not in _PUBLIC_METHODS:
            return False
        path: str = scope["path"]
        return path in self.paths or path.startswith(self.prefixes)


class AuthMiddleware:
    """Resolves the caller's key to a principal (401 in the error shape when it cannot)."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, public: PublicRoutes) -> None:
        self.app = app
        self._authenticator = authenticator
        self._public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._public.admit(scope):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._authenticator.authenticate(presented_token(scope))
        except GraphchatError as exc:
            await graphchat_error_response(exc, path=scope["path"])(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["owner"] = principal.owner
        state[PRINCIPAL_KEY] = principal
        structlog.contextvars.bind_contextvars(owner=principal.owner)
        await self.app(scope, receive, send)


def request_principal(scope: Scope) -> Principal | None:
    """The principal `AuthMiddleware` resolved for this request, if any."""
    principal = scope.get("state", {}).get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else None


def public_routes(settings: Settings) -> PublicRoutes:
    """Probes always; the UI shell and its assets when served; `/metrics` if so configured."""
    paths = {"/health", "/ready"}
    prefixes: tuple[str, ...] = ()
    if settings.ui.enabled:
        paths.add("/")
        prefixes = ("/ui/",)
    if settings.observability.metrics_public:
        paths.add("/metrics")
    return PublicRoutes(paths, prefixes)
