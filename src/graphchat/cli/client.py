"""A small typed client of the graphchat HTTP API, used by the `graphchat` client commands.

It knows the wire (JSON bodies, the SSE stream of `POST /stream` read in `reply_stream.py`, the
error shape) and nothing of the server's code. Every failure surfaces as a `ClientError`
(`client_errors.py`), so callers never handle httpx exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from graphchat.cli.client_errors import (
    ClientError,
    ConfigError,
    ServerError,
    raise_for_status,
    translated_errors,
)
from graphchat.cli.reply_stream import ReplyStream
from graphchat.cli.wire import (
    ChatResult,
    ShapeT,
    WireMessagePage,
    WireModelList,
    WireThread,
    WireThreadPage,
)

DEFAULT_URL = "http://127.0.0.1:8000"
# The stream sends heartbeats, so a long read timeout only trips on a dead server.
_TIMEOUT = httpx.Timeout(30.0, connect=5.0, read=300.0)
_UNBOUNDED_READ = httpx.Timeout(30.0, connect=5.0, read=None)  # exports, imports


@dataclass
class TurnOptions:
    """What a turn may set besides the message; `None` leaves the server's default."""

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    system: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}


# --- the stream ---
_STREAMED = {"stream": "true", "stream_mode": ["messages", "updates"]}


def _parsed(shape: type[ShapeT], response: httpx.Response) -> ShapeT:
    try:
        return shape.model_validate(response.json())
    except (ValueError, ValidationError):
        raise ServerError(f"unexpected answer from {response.url}") from None


class GraphchatClient:
    """Talks to one graphchat server; use as a context manager so connections are closed."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = base_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")) or url[-3:] == "://":
            raise ConfigError(f"invalid server URL {base_url!r} (expected http://host:port)")
        self.url = url
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=_TIMEOUT, transport=transport
        )

    def __enter__(self) -> GraphchatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with translated_errors(self.url):
            response = self._http.request(method, path, **kwargs)
        raise_for_status(response)
        return response

    # --- turns ---
    def chat(self, message: str, *, thread_id: str | None, options: TurnOptions) -> ChatResult:
        """One turn, waiting for the whole reply (`POST /chat`)."""
        body = {"message": message, **options.as_json()}
        if thread_id:
            body["thread_id"] = thread_id
        return _parsed(ChatResult, self._request("POST", "/chat", json=body))

    @contextmanager
    def stream(
        self, message: str, *, thread_id: str | None, options: TurnOptions
    ) -> Iterator[ReplyStream]:
        """One turn whose reply is read as it is generated (`POST /stream`)."""
        run_input: dict[str, Any] = {"messages": [{"role": "user", "content": message}]}
        if thread_id:
            run_input["thread_id"] = thread_id
        body = {
            "input": run_input,
            "config": {"configurable": options.as_json()},
            "stream_mode": ["messages", "updates"],
        }
        with self._event_stream("/stream", body) as reply:
            yield reply

    @contextmanager
    def resume(
        self, thread_id: str, run_id: str, decisions: list[dict[str, Any]]
    ) -> Iterator[ReplyStream]:
        """Continue a run waiting for approval with one decision per pending call."""
        path = f"/threads/{_seg(thread_id)}/runs/{_seg(run_id)}/resume"
        with self._event_stream(path, {"decisions": decisions}, _STREAMED) as reply:
            reply.thread_id, reply.run_id = thread_id, run_id
            yield reply

    def regenerate(
        self, thread_id: str, message_id: str, options: TurnOptions
    ) -> AbstractContextManager[ReplyStream]:
        """A new reply beside the one to `message_id` (a reply or the user message it answers)."""
        path = f"/threads/{_seg(thread_id)}/messages/{_seg(message_id)}/regenerate"
        return self._event_stream(path, options.as_json(), _STREAMED)

    def edit(
        self, thread_id: str, message_id: str, content: str, options: TurnOptions
    ) -> AbstractContextManager[ReplyStream]:
        """`content` sent in place of user message `message_id` (beside it), and its reply."""
        path = f"/threads/{_seg(thread_id)}/messages/{_seg(message_id)}/edit"
        return self._event_stream(path, {**options.as_json(), "content": content}, _STREAMED)

    @contextmanager
    def _event_stream(
        self, path: str, body: dict[str, Any], params: dict[str, Any] | None = None
    ) -> Iterator[ReplyStream]:
        headers = {"Accept": "text/event-stream"}
        with self._opened("POST", path, json=body, params=params, headers=headers) as response:
            yield ReplyStream(response, rejoin=self._rejoined)

    def _rejoined(
        self, location: str, last_event_id: str | None
    ) -> AbstractContextManager[httpx.Response]:
        """A run's stream rejoined at its `Location`, after the last event read."""
        headers = {"Accept": "text/event-stream", "Last-Event-ID": last_event_id or "-1"}
        return self._opened("GET", location, headers=headers)

    @contextmanager
    def _opened(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed answer, once its status says it succeeded."""
        with translated_errors(self.url), self._http.stream(method, path, **kwargs) as response:
            if not response.is_success:
                response.read()
                raise_for_status(response)
            yield response

    def cancel(self, thread_id: str, run_id: str) -> bool:
        """Ask the server to stop a run; False when it cannot (no such run, or no cancel route)."""
        try:
            self._request("POST", f"/threads/{_seg(thread_id)}/runs/{_seg(run_id)}/cancel")
        except ClientError as exc:
            if exc.status in (404, 405, 409):  # gone, not supported here, or already finished
                return False
            raise
        return True

    # --- threads and models ---
    def threads(self, *, limit: int = 20, cursor: str | None = None) -> WireThreadPage:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return _parsed(WireThreadPage, self._request("GET", "/threads", params=params))

    def thread(self, thread_id: str) -> WireThread:
        return _parsed(WireThread, self._request("GET", f"/threads/{_seg(thread_id)}"))

    def rename_thread(self, thread_id: str, title: str) -> WireThread:
        response = self._request("PATCH", f"/threads/{_seg(thread_id)}", json={"title": title})
        return _parsed(WireThread, response)

    def delete_thread(self, thread_id: str) -> None:
        self._request("DELETE", f"/threads/{_seg(thread_id)}")

    def messages(self, thread_id: str, *, limit: int = 50, newest: bool = False) -> WireMessagePage:
        """A page of the thread's messages, oldest first (or the newest `limit` ones)."""
        params = {"limit": limit, "order": "desc" if newest else "asc"}
        response = self._request("GET", f"/threads/{_seg(thread_id)}/messages", params=params)
        page = _parsed(WireMessagePage, response)
        if newest:
            page.messages.reverse()
        return page

    def models(self) -> WireModelList:
        return _parsed(WireModelList, self._request("GET", "/models"))

    # --- search and archives (answers used as JSON: their shapes are the API's) ---
    def search(self, text: str, *, limit: int = 10) -> dict[str, Any]:
        return dict(self._request("GET", "/search", params={"q": text, "limit": limit}).json())

    @contextmanager
    def export(self, thread_id: str | None, format: str) -> Iterator[Iterator[bytes]]:
        """The export's bytes as they arrive (one thread, or all of the caller's)."""
        path = f"/threads/{_seg(thread_id)}/export" if thread_id else "/export"
        params, timeout = {"format": format}, _UNBOUNDED_READ
        with self._opened("GET", path, params=params, timeout=timeout) as response:
            yield response.iter_bytes()

    def import_archive(self, body: bytes) -> dict[str, Any]:
        headers, timeout = {"Content-Type": "application/json"}, _UNBOUNDED_READ
        response = self._request("POST", "/import", content=body, headers=headers, timeout=timeout)
        return dict(response.json())


def _seg(value: str) -> str:
    """A path segment, so an id typed by a user cannot reach another route."""
    return quote(value, safe="")
