"""Wires authentication and rate limiting into an app, as the settings ask."""

from __future__ import annotations

from fastapi import FastAPI

from graphchat.api.auth import AuthMiddleware, public_routes
from graphchat.observability.metrics import Metrics
from graphchat.security.auth import Authenticator
from graphchat.settings import Settings


def install_access_control(
    app: FastAPI, settings: Settings, metrics: Metrics, authenticator: Authenticator | None
) -> None:
    """Rate limiting inside authentication (so it counts per key), both as configured."""
    if settings.security.rate_limit:
        # Loaded only when on: the `limits` library is ~20 ms of start-up.
        from graphchat.api.ratelimit import RateLimitMiddleware
        from graphchat.security.ratelimit import RateLimiter

        app.add_middleware(
            RateLimitMiddleware,
            limiter=RateLimiter(
                settings.security.rate_limit,
                settings.security.redis_url,
                settings.security.redis_timeout_seconds,
            ),
            methods=frozenset({"POST"}) if settings.security.rate_limit_scope == "post" else None,
            trusted_proxies=settings.security.proxy_networks(),
            metrics=metrics,
        )
    if authenticator is not None:
        app.add_middleware(
            AuthMiddleware, authenticator=authenticator, public=public_routes(settings)
        )
