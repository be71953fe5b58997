"""Content negotiation for request bodies: JSON or nothing."""

from __future__ import annotations

from fastapi import Request

from graphchat.errors import GraphchatError


class UnsupportedMediaType(GraphchatError, code="unsupported_media_type"): ...


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def refuse_non_json(request: Request) -> None:
    """Raise 415 for a body that is not declared as JSON, before anything parses it."""
    if request.method not in _BODY_METHODS:
        return
    # One pass over the raw headers (Starlette's `request.headers` builds an object to search).
    length = encoding = media = None
    for name, value in request.scope["headers"]:
        if name == b"content-length" and length is None:
            length = value
        elif name == b"transfer-encoding" and encoding is None:
            encoding = value
        elif name == b"content-type" and media is None:
            media = value
    if (length is None or length == b"0") and encoding is None:
        return  # no body
    declared = media_type(media)
    if declared != "application/json" and not declared.endswith("+json"):
        raise UnsupportedMediaType("send the body as JSON (Content-Type: application/json)")


def media_type(content_type: bytes | None) -> str:
    """A raw `Content-Type` value's media type, lower case, without its parameters."""
    return (content_type or b"").decode("latin-1").split(";", 1)[0].strip().lower()


async def require_json(request: Request) -> None:
    """The router dependency: `refuse_non_json` (415) before the body is parsed."""
    refuse_non_json(request)
