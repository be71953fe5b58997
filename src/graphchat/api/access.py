"""Wires authentication and rate limiting into an app, as the settings ask."""

from __future__ import annotations

from fastapi import FastAPI

from graphchat.api.auth import AuthMiddleware, public_routes
from graphchat.api.ratelimit import RateLimitMiddleware
from graphchat.observability.metrics import Metrics
from graphchat.security.client_ip import parse_networks
from graphchat.security.keys import parse_static_keys
from graphchat.security.ratelimit import RateLimiter
from graphchat.settings import Settings


def install_access_control(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """Rate limiting inside authentication (so it counts per key), both as configured."""
    if settings.rate_limit:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=RateLimiter(settings.rate_limit, settings.redis_url),
            methods=frozenset({"POST"}) if settings.rate_limit_scope == "post" else None,
            trusted_proxies=parse_networks(settings.trusted_proxies),
            metrics=metrics,
        )
    if settings.auth == "on":
        app.add_middleware(
            AuthMiddleware,
            static_keys=parse_static_keys(settings.api_keys),
            public=public_routes(settings),
        )
