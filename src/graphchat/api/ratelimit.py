"""Rate-limit middleware: counts requests per API key (per client address without auth).

Limited responses are 429 in the error shape with `Retry-After`; every counted response carries
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the window frees).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphchat.api.auth import header, request_principal
from graphchat.api.errors import graphchat_error_response
from graphchat.errors import RateLimited
from graphchat.observability.metrics import Metrics
from graphchat.security.client_ip import client_ip
from graphchat.security.ratelimit import RateDecision, RateLimiter
from graphchat.settings.security import Network

log = structlog.get_logger(__name__)


def _identity(scope: Scope, trusted: list[Network]) -> str:
    principal = request_principal(scope)
    if principal is not None:
        return f"key:{principal.key_id}"
    peer = scope["client"][0] if scope.get("client") else "unknown"
    return f"ip:{client_ip(peer, header(scope, b'x-forwarded-for'), trusted)}"


def _headers(decision: RateDecision) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_seconds),
    }


@dataclass(eq=False, slots=True)
class RateLimitMiddleware:
    """Refuses requests over the limit; `methods` None means every method is counted."""

    app: ASGIApp
    limiter: RateLimiter
    methods: frozenset[str] | None
    trusted_proxies: list[Network]
    metrics: Metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        counted = scope["type"] == "http" and (
            self.methods is None or scope["method"] in self.methods
        )
        if not counted:
            await self.app(scope, receive, send)
            return
        identity = _identity(scope, self.trusted_proxies)
        decision = await self.limiter.hit(identity)
        headers = _headers(decision)
        if not decision.allowed:
            log.info("rate_limited", identity=identity, limit=decision.limit)
            self.metrics.count_rate_limited()
            error = RateLimited(
                f"rate limit of {decision.limit} requests exceeded; retry in "
                f"{decision.reset_seconds}s",
                retry_after=decision.reset_seconds,
            )
            response = graphchat_error_response(error, headers, path=scope["path"])
            await response(scope, receive, send)
            return
        raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *raw]
            await send(message)

        await self.app(scope, receive, send_with_headers)
