"""The CLI client's errors: one line for the user and the process exit code, from any failure.

ClientError            exit 1: refused (400/409/422) or unexpected
├── ConfigError        exit 2: a malformed --url
├── UnreachableError   exit 3: nothing listens at the URL, or the connection was lost
├── AuthError          exit 4: 401/403
├── NotFoundError      exit 5: 404
├── RateLimitedError   exit 6: 429 (the message says how long to wait)
└── ServerError        exit 7: 5xx, an `error` event, a timeout
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

import httpx


class ExitCode(IntEnum):
    """Process exit codes of the client commands (documented in the CLI help and README)."""

    OK = 0
    ERROR = 1  # the server refused the request (400, 409, 422) or anything unexpected
    USAGE = 2  # bad option or configuration (e.g. a malformed --url)
    UNREACHABLE = 3  # no server at the URL, or the connection was lost
    AUTH = 4  # 401/403: missing or wrong API key
    NOT_FOUND = 5  # unknown thread (or model)
    RATE_LIMITED = 6  # 429
    SERVER = 7  # the server or its model failed (5xx, or an `error` event)
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class ClientError(Exception):
    """A failure worth one line to the user; `exit_code` says which kind."""

    exit_code = ExitCode.ERROR

    def __init_subclass__(cls, *, exit_code: ExitCode | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if exit_code is not None:  # else the parent's
            cls.exit_code = exit_code

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class ConfigError(ClientError, exit_code=ExitCode.USAGE): ...


class UnreachableError(ClientError, exit_code=ExitCode.UNREACHABLE): ...


class AuthError(ClientError, exit_code=ExitCode.AUTH): ...


class NotFoundError(ClientError, exit_code=ExitCode.NOT_FOUND): ...


class RateLimitedError(ClientError, exit_code=ExitCode.RATE_LIMITED): ...


class ServerError(ClientError, exit_code=ExitCode.SERVER): ...


def _error_of(response: httpx.Response) -> tuple[str | None, str]:
    try:
        error = response.json().get("error") or {}
        return error.get("code"), str(error.get("message") or response.reason_phrase)
    except (ValueError, AttributeError):
        return None, f"HTTP {response.status_code} {response.reason_phrase}".strip()


def _retry_after(response: httpx.Response) -> str:
    value = response.headers.get("retry-after", "").strip()
    return f"; try again in {value} s" if value.isdigit() else "; try again later"


def raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    status = response.status_code
    code, message = _error_of(response)
    if status in (401, 403):
        hint = "check --api-key / GRAPHCHAT_API_KEY"
        raise AuthError(f"not authorized ({message}); {hint}", code=code, status=status)
    if status == 404:
        raise NotFoundError(message, code=code, status=status)
    if status == 429:
        wait = _retry_after(response)
        raise RateLimitedError(f"rate limited ({message}){wait}", code=code, status=status)
    if status >= 500:
        raise ServerError(f"server error {status}: {message}", code=code, status=status)
    raise ClientError(f"request refused ({status}): {message}", code=code, status=status)


@contextmanager
def translated_errors(url: str) -> Iterator[None]:
    """Turns httpx's transport errors into `ClientError`s with a sentence a user can act on."""
    try:
        yield
    except httpx.ConnectError as exc:
        raise UnreachableError(
            f"cannot reach the graphchat server at {url} ({_reason(exc)})"
        ) from None
    except httpx.TimeoutException:
        raise ServerError(f"the server at {url} did not answer in time") from None
    except httpx.TransportError as exc:
        raise UnreachableError(f"lost the connection to {url} ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.rsplit("] ", 1)[-1]  # drop "[Errno 111] " prefixes
