"""OpenAI's error shape, which the `openai` SDKs unwrap into their exception classes.

{"error": {"message": "…", "type": "invalid_request_error", "param": "messages", "code": "…"}}
"""

from __future__ import annotations

from typing import Any

PREFIX = "/v1/"
# Without a hint the SDK backs off on its own schedule; a second is what a restart needs.
_DEFAULT_RETRY_AFTER = "1"
_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    429: "rate_limit_error",
}


def is_openai_path(path: str) -> bool:
    return path.startswith(PREFIX)


def error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def _param(details: list[dict[str, Any]] | None) -> str | None:
    """The first invalid field, dotted, without the `body` prefix."""
    if not details:
        return None
    loc = [str(part) for part in details[0].get("loc", ()) if part != "body"]
    return ".".join(loc) or None


def openai_error(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": error_type(status),
            "param": _param(details),
            "code": code,
        }
    }


def openai_headers(status: int, headers: dict[str, str] | None) -> dict[str, str]:
    """`Retry-After` on every 429 and 503, so the SDK's retries wait as they should."""
    result = dict(headers or {})
    if status in (429, 503) and not any(name.lower() == "retry-after" for name in result):
        result["Retry-After"] = _DEFAULT_RETRY_AFTER
    return result
