"""HTTP plumbing shared by the HTTP providers: the pooled client, timed streaming, error mapping.

Every vendor failure (httpx or httpcore, bad JSON, an error status) becomes one of our
`ProviderError`s here, so the Ollama and OpenAI-compatible adapters translate errors in exactly
one way.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.request
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

import httpcore
import httpx
import orjson

from graphchat.errors import (
    ContextTooLong,
    GraphchatError,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    ToolsUnsupported,
    Translating,
)
from graphchat.llm.model_connections import ModelConnections
from graphchat.llm.plain_tcp import CoreReply, PlainHTTPTransport
from graphchat.llm.timeouts import ReadWatch, Timeouts, next_within

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
WAITING_FIRST = "waiting for the model's first token"
STALLED = "the reply stalled"


_DRAIN_SECONDS = 0.5


# httpcore's errors, raised as they are on the plain-HTTP path (`ChatEndpoint`); no common base.
_CORE_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.TimeoutException,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
    httpcore.ConnectionNotAvailable,
)
_HTTP_ERRORS = (httpx.HTTPError, *_CORE_ERRORS)
_UNREACHABLE = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpcore.ConnectError,
    httpcore.ConnectTimeout,
    httpcore.PoolTimeout,
)
_TIMED_OUT = (httpx.TimeoutException, httpcore.TimeoutException)

_LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=64)
_JSON = {"Content-Type": "application/json"}


def make_client(
    base_url: str,
    timeouts: Timeouts,
    *,
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A pooled client; read timeouts are ours (`next_within`), httpx only bounds the connect."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(None, connect=timeouts.connect),
        limits=_LIMITS,
        headers=headers,
        transport=transport,
    )


def direct_transport(
    given: httpx.AsyncBaseTransport | None, base_url: str = ""
) -> httpx.AsyncBaseTransport | None:
    """The transport model calls can be sent to directly: `given`, else a new pooled one — or
    None when the environment names a proxy, which the client applies only to transports it
    builds itself (its calls then go through it). A plain `http://` backend gets lighter
    connections (see plain_tcp.py)."""
    if given is not None:
        return given
    if any(scheme != "no" for scheme in urllib.request.getproxies()):
        return None
    if base_url.startswith("http://"):
        return PlainHTTPTransport(_LIMITS)
    return httpx.AsyncHTTPTransport(limits=_LIMITS)  # what the client would have built


class HttpReply(Protocol):
    """What a model call reads of its streamed response: httpx's `Response`, or `CoreReply`."""

    @property
    def status_code(self) -> int: ...

    def aread(self) -> Awaitable[bytes]: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    def aclose(self) -> Awaitable[None]: ...


class ChatEndpoint:
    """One URL that model calls POST JSON to, resolved once with the client's base URL and
    default headers (an API key among them).

    A call goes straight to the transport: what the client adds per request (URL and header
    merging, cookies, auth and redirect handling, event hooks) costs about 0.1 ms of CPU and a
    model call needs none of it. On a plain-HTTP transport it goes to the transport's own
    connections (`ModelConnections`: httpcore's pool costs O(connections) per call) beneath,
    skipping httpx's request and response models too (header checks, and exception mapping and
    decoders around every chunk read). With a proxy from the environment it goes through the
    client.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        path: str,
        transport: httpx.AsyncBaseTransport | None,
        timeouts: Timeouts,
    ) -> None:
        self._client = client
        self._path = path
        self._transport = transport
        template = client.build_request("POST", path, headers=_JSON)
        self._url = template.url
        self._headers = [*client.headers.raw, (b"Content-Type", b"application/json")]
        self._extensions = {"timeout": httpx.Timeout(None, connect=timeouts.connect).as_dict()}
        self._pool = (
            transport.model_connections if isinstance(transport, PlainHTTPTransport) else None
        )
        self._core_url = httpcore.URL(
            scheme=self._url.raw_scheme,
            host=self._url.raw_host,
            port=self._url.port,
            target=self._url.raw_path,
        )
        self._core_headers = _uncoded(template.headers)

    def post(self, body: bytes) -> Awaitable[HttpReply]:
        """Send `body`; the response's body is left to stream (close it).

        Until the reply's headers come (with its first token, for a model still reading the
        prompt) only the request holds the body, and it as a one-chunk stream with its length,
        dropped once sent: bytes given as `content` would stay with the request, which the pool
        holds until the reply ends — the whole prompt kept for as long as the reply streams.
        A plain function, so no waiting frame refers to `body` either.
        """
        length = str(len(body))
        if self._pool is not None:
            core = httpcore.Request(
                b"POST", self._core_url, content=_sent_once(body), extensions=self._extensions
            )
            # Set, not given: the constructor would check each fixed header again on every call.
            core.headers = [*self._core_headers, (b"Content-Length", length.encode())]
            return _core_reply(self._pool, core)
        if self._transport is None:
            headers = {**_JSON, "Content-Length": length}
            request = self._client.build_request(
                "POST", self._path, content=_sent_once(body), headers=headers
            )
            return self._client.send(request, stream=True)
        request = httpx.Request(
            "POST",
            self._url,
            headers=[*self._headers, (b"Content-Length", length.encode())],
            content=_sent_once(body),
            extensions=self._extensions,
        )
        return self._transport.handle_async_request(request)


def _uncoded(headers: httpx.Headers) -> list[tuple[bytes, bytes]]:
    """The headers httpx sends with a POST (Host among them), less its length, and asking for
    no content coding: httpcore's stream hands over the body's bytes undecoded."""
    headers = headers.copy()
    headers["Accept-Encoding"] = "identity"
    del headers["Content-Length"]
    return headers.raw


async def _core_reply(pool: ModelConnections, request: httpcore.Request) -> CoreReply:
    return CoreReply(await pool.handle_async_request(request))


async def _sent_once(body: bytes) -> AsyncIterator[bytes]:
    """`body` as a stream: once sent, nothing refers to it (httpx refuses to send it twice)."""
    yield body


def error_text(body: bytes) -> str:
    """The human part of an error body: Ollama's `{"error": "…"}` or OpenAI's `{"error": {…}}`."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")[:300]
    if not isinstance(data, dict):
        return str(data)[:300]
    error = data.get("error", data.get("detail", ""))
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)[:300]


# OpenAI, vLLM and llama-cpp-python ("maximum context length"), llama.cpp's server ("available
# context size"), LM Studio ("context length"): the prompt outgrew the server's window.
_CONTEXT_EXCEEDED = re.compile(r"context (length|size|window)", re.IGNORECASE)


def status_error(backend: str, status: int, text: str, model: str) -> GraphchatError:
    """The domain error for an HTTP error status of a model call."""
    if status == 404:
        return ModelNotFound(f"model '{model}' is not available on backend '{backend}'")
    if status == 400 and "support" in text and "tool" in text:
        return ToolsUnsupported(f"model '{model}' does not support tools")
    if status == 400 and _CONTEXT_EXCEEDED.search(text):
        return ContextTooLong(f"model '{model}' on backend '{backend}': {text}")
    if status in RETRYABLE_STATUS:
        detail = f": {text}" if text else ""
        return ProviderUnavailable(f"model backend '{backend}' answered {status}{detail}")
    return ProviderError(f"model backend '{backend}' refused the request ({status}): {text}")


def translate_http_errors(backend: str, base_url: str, model: str | None) -> Translating:
    """Turn httpx, httpcore and JSON failures into our `ProviderError`s."""

    def translate(error: BaseException) -> None:
        if isinstance(error, _UNREACHABLE):
            raise ProviderUnavailable(
                f"model backend '{backend}' cannot be reached at {base_url}"
            ) from error
        if isinstance(error, _TIMED_OUT):
            raise ProviderTimeout(f"model backend '{backend}' timed out") from error
        if isinstance(error, (*_HTTP_ERRORS, orjson.JSONDecodeError, ValueError)):
            what = f" for model '{model}'" if model else ""
            raise ProviderError(
                f"model backend '{backend}' failed{what}: {type(error).__name__}"
            ) from error

    return Translating(translate)


async def open_stream(
    sending: Awaitable[HttpReply],
    *,
    backend: str,
    model: str,
    timeouts: Timeouts,
    deadline: float,
) -> HttpReply:
    """Wait (first-token bound) for the successful streamed response to `sending`, a POST
    from `ChatEndpoint.post` (it alone holds the request's body)."""
    response = await next_within(sending, timeouts.first_token, deadline, WAITING_FIRST)
    if response.status_code >= 400:
        try:
            text = error_text(await response.aread())
        finally:
            await response.aclose()
        raise status_error(backend, response.status_code, text, model)
    return response


def _split_lines(pending: bytes, data: bytes) -> tuple[list[bytes], bytes]:
    """The complete lines (`\n`, `\r\n` or `\r` ended, without their ends) in `pending` and
    `data` after it, and the unfinished rest.

    Lines stay bytes: both protocols are JSON, which orjson reads from bytes, so httpx's text
    decoder and line splitter (two more generators per line, and a UTF-8 decode) are skipped.
    """
    pieces = (pending + data).splitlines(keepends=True)
    rest = pieces.pop() if pieces and not pieces[-1].endswith((b"\n", b"\r")) else b""
    return [piece.rstrip(b"\r\n") for piece in pieces], rest


async def timed_lines(
    response: HttpReply, timeouts: Timeouts, deadline: float
) -> AsyncIterator[bytes]:
    """The non-blank lines of a streamed body: the first within the first-token timeout, each
    later one within the stall timeout, all before `deadline`.

    The timeouts bound each read, not each line: the lines that arrived together (a fast
    model's tokens, or a reply that waited for its run to be stored) are split from one read
    and passed on without another wait, timer or generator step each.
    """
    received = response.aiter_bytes()
    watch = ReadWatch(deadline)
    wait, what = timeouts.first_token, WAITING_FIRST
    pending = b""
    try:
        while (data := await watch.within(anext(received, None), wait, what)) is not None:
            lines, pending = _split_lines(pending, data)
            for line in lines:
                if line.strip():
                    yield line
                    wait, what = timeouts.stall, STALLED
        if pending.strip():
            yield pending
    finally:
        watch.close()


async def finish_body(lines: AsyncIterator[bytes]) -> None:
    """Read the (empty) rest of a finished reply, so its connection goes back to the pool.

    Closing a response with unread bytes makes httpcore drop the connection: a new TCP
    connection for every model call.
    """
    with contextlib.suppress(GraphchatError, *_HTTP_ERRORS, TimeoutError):
        async with asyncio.timeout(_DRAIN_SECONDS):
            async for _ in lines:
                pass


def deadline_after(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def get_json(client: httpx.AsyncClient, path: str, *, backend: str, seconds: float) -> Any:
    """GET a small JSON document (model lists, versions); an error status is `unavailable`."""
    response = await client.get(path, timeout=seconds)
    if response.status_code >= 400:
        raise ProviderUnavailable(
            f"model backend '{backend}' answered {response.status_code} to {path}"
        )
    return response.json()
