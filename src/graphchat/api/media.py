"""Content negotiation for request bodies: JSON or nothing."""

from __future__ import annotations

from fastapi import Request

from graphchat.errors import GraphchatError


class UnsupportedMediaType(GraphchatError, code="unsupported_media_type"): ...


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in request.headers


async def require_json(request: Request) -> None:
    """Refuse (415) a body that is not declared as JSON, before anything parses it."""
    if request.method not in ("POST", "PUT", "PATCH") or not _has_body(request):
        return
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType("send the body as JSON (Content-Type: application/json)")
