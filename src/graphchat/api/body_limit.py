"""Request bodies, bounded in size and time, and always read to the end before answering.

A server that answers before the client has finished sending, and then closes, makes the
client's next write fail (a broken pipe or a reset) before it ever reads the answer. So, as
nginx does, the rest of an unread body is read and thrown away (within a byte budget and the
body deadline) before the last byte of any response goes out; only past those bounds is the
connection closed on a client that is still sending.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphchat.api.errors import error_response

log = structlog.get_logger(__name__)
_CLOSE = {"Connection": "close"}


@dataclass(frozen=True)
class BodyLimits:
    max_bytes: int  # largest body accepted (413 above)
    read_timeout: float  # seconds allowed for a whole body to arrive (408 after)
    discard_max_bytes: int  # most bytes read and dropped to answer cleanly


@dataclass(frozen=True, slots=True)
class _Framing:
    """What the request's headers say of its body, read in one pass."""

    declared: int | None  # Content-Length, if given and a number
    chunked: bool  # a Transfer-Encoding was given
    expects_continue: bool  # the client waits for `100 Continue` before sending

    @classmethod
    def of(cls, scope: Scope) -> _Framing:
        length = encoding = expect = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and length is None:
                length = bytes(value)
            elif name == b"transfer-encoding" and encoding is None:
                encoding = value
            elif name == b"expect" and expect is None:
                expect = bytes(value)
        try:
            declared = int(length) if length is not None else None
        except ValueError:
            declared = None
        continues = (expect or b"").lower() == b"100-continue"
        return cls(declared, encoding is not None, continues)


class _RequestBody:
    """One request's body as the app sees it: counted, timed, and drained if left unread."""

    def __init__(self, framing: _Framing, receive: Receive, limits: BodyLimits) -> None:
        self._receive = receive
        self._limits = limits
        self._deadline = asyncio.get_running_loop().time() + limits.read_timeout
        # No body at all: nothing to read.
        self.complete = not framing.chunked and not framing.declared
        # A client that waits for `100 Continue` sends nothing until we read: never start it.
        self._expects_continue = framing.expects_continue
        self.received = 0
        self._discarded = False

    async def _next(self) -> Message:
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            self.complete = True  # nothing more will be read from this connection
            raise
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.complete = True
        self.received += len(message.get("body", b""))
        return message

    async def receive(self) -> Message:
        """The app's `receive`: 413 past the size limit, 408 past the deadline."""
        if self.complete:
            return await self._receive()  # e.g. a streaming response waiting for disconnect
        try:
            message = await self._next()
        except TimeoutError:
            log.warning(
                "request_body_timeout",
                received_bytes=self.received,
                timeout_s=self._limits.read_timeout,
            )
            raise HTTPException(408, self.timeout_message(), headers=_CLOSE) from None
        if self.received > self._limits.max_bytes:
            await self.discard()
            raise HTTPException(413, self.too_large_message(), headers=_CLOSE)
        return message

    async def discard(self) -> None:
        """Read and drop the rest of the body, within the byte budget and the deadline."""
        if self._discarded or (self._expects_continue and self.received == 0):
            return
        self._discarded = True
        budget = self.received + self._limits.discard_max_bytes
        try:
            while not self.complete and self.received <= budget:
                await self._next()
        except TimeoutError:
            log.warning("request_body_discard_timeout", received_bytes=self.received)
            return
        if not self.complete:
            log.warning("request_body_discard_stopped", received_bytes=self.received)

    def too_large_message(self) -> str:
        return f"request body larger than {self._limits.max_bytes} bytes"

    def timeout_message(self) -> str:
        return f"request body not received within {self._limits.read_timeout:g} s"


class BodyLimitMiddleware:
    """Refuses bodies over the size limit (413) or slower than the deadline (408), answered."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framing = _Framing.of(scope)
        body = _RequestBody(framing, receive, self.limits)

        async def send_after_body(message: Message) -> None:
            # The response's last byte waits for the request's: the client reads it only
            # after it has finished writing.
            if (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and not body.complete
            ):
                await send({**message, "more_body": True})
                await body.discard()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        if framing.declared is not None and framing.declared > self.limits.max_bytes:
            response = error_response(
                413,
                "payload_too_large",
                body.too_large_message(),
                headers=_CLOSE,
                path=scope["path"],
            )
            await response(scope, body.receive, send_after_body)
            return
        await self.app(scope, body.receive, send_after_body)
